package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func decode(t *testing.T, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("%v in %s", err, b)
	}
	return v
}

// TestSameOutput checks that the four implementations agree on the corpus and
// on the showcase fixtures, so the benchmark compares equal work.
func TestSameOutput(t *testing.T) {
	ts, err := translators()
	if err != nil {
		t.Fatal(err)
	}
	docs := corpus(200)
	for _, f := range []string{"track.delivered.in.json", "track.notfound.in.json"} {
		b, err := os.ReadFile(filepath.Join(mappingDir, f))
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, b)
	}
	for i, in := range docs {
		want, err := ts[0].fn(nil, in)
		if err != nil {
			t.Fatalf("doc %d: %s: %v", i, ts[0].name, err)
		}
		for _, tr := range ts[1:] {
			got, err := tr.fn(nil, in)
			if err != nil {
				t.Fatalf("doc %d: %s: %v", i, tr.name, err)
			}
			if !reflect.DeepEqual(decode(t, got), decode(t, want)) {
				t.Fatalf("doc %d: %s differs\n got %s\nwant %s", i, tr.name, got, want)
			}
		}
	}
}
