package doc

import (
	"encoding/json"
	"fmt"
	"testing"
)

func TestObjectKeepsOrderAndFindsKeys(t *testing.T) {
	o := NewObject(0)
	for i := range 20 {
		o.Set(fmt.Sprintf("k%02d", 19-i), i)
	}
	o.Set("k05", "replaced")
	if o.Len() != 20 || o.Keys()[0] != "k19" || o.Keys()[19] != "k00" {
		t.Fatalf("order lost: %v", o.Keys())
	}
	if v, ok := o.Get("k05"); !ok || v != "replaced" {
		t.Fatalf("k05 = %v, %v", v, ok)
	}
	if _, ok := o.Get("missing"); ok {
		t.Fatal("found a missing key")
	}
	if k, v := o.At(0); k != "k19" || v != 0 {
		t.Fatalf("At(0) = %s %v", k, v)
	}
}

func TestAppendMakesRepetitionAList(t *testing.T) {
	var o Object
	o.Append("N1", "first")
	if v, _ := o.Get("N1"); v != "first" {
		t.Fatalf("one value: %v", v)
	}
	o.Append("N1", "second")
	o.Append("N1", "third")
	v, _ := o.Get("N1")
	list, ok := v.([]any)
	if !ok || len(list) != 3 || list[2] != "third" {
		t.Fatalf("repeated values: %#v", v)
	}
}

func TestMarshalJSONKeepsOrder(t *testing.T) {
	inner := NewObject(2)
	inner.Set("z", []any{"a", int64(1), nil})
	inner.Set("a", true)
	o := NewObject(2)
	o.Set("second", inner)
	o.Set("first", "x<y")
	got, err := json.Marshal([]any{o, (*Object)(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if want := `[{"second":{"z":["a",1,null],"a":true},"first":"x\u003cy"},null]`; string(got) != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}
