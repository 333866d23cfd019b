package edi

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func addSeeds(f *testing.F, names ...string) {
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// checkReadError fails unless err is a classified *Error.
func checkReadError(t *testing.T, err error) {
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("unclassified error %T: %v", err, err)
	}
	for _, k := range []error{ErrSyntax, ErrTruncated, ErrControl, ErrLimit, ErrEncoding} {
		if errors.Is(err, k) {
			return
		}
	}
	t.Fatalf("error of no reader kind: %v", err)
}

// FuzzReadX12 reads arbitrary input with the built-in loops, and, where it
// reads without loops, writes the tree back and reads it again: the content
// must survive.
func FuzzReadX12(f *testing.F) {
	addSeeds(f, "214.edi", "210.edi", "990.edi")
	f.Add([]byte("ISA*00*          *00*          *ZZ*A              *ZZ*B              *250101*1200*^*00501*000000001*0*P*:~GS*QM*A*B*20250101*1200*1*X*005010~ST*214*1~LX*1~AT7*A^B*:X~SE*4*1~GE*1*1~IEA*1*000000001~"))
	lim := Limits{MaxBytes: 1 << 20, MaxSegments: 2000, MaxElements: 64, MaxDepth: 8}
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := ReadX12(data, ReadOptions{Limits: lim}); err != nil {
			checkReadError(t, err)
		}
		tree, err := ReadX12(data, ReadOptions{Limits: lim, Schema: Schema{}})
		if err != nil {
			checkReadError(t, err)
			return
		}
		opts, ok := SniffX12(data)
		if !ok {
			t.Fatal("read an interchange SniffX12 cannot find")
		}
		out, err := WriteX12(context.Background(), tree, opts)
		if err != nil {
			t.Fatalf("writing what was read: %v\ninput: %q\ntree: %s", err, data, toJSON(tree))
		}
		back, err := ReadX12(out, ReadOptions{Limits: lim, Schema: Schema{}})
		if err != nil {
			t.Fatalf("reading what was written: %v\ninput: %q\noutput: %q", err, data, out)
		}
		if a, b := toJSON(withoutTrailers(tree)), toJSON(withoutTrailers(back)); a != b {
			t.Fatalf("round trip changed the tree\ninput: %q\noutput: %q\nbefore: %s\nafter: %s", data, out, a, b)
		}
	})
}

// FuzzReadEDIFACT is FuzzReadX12 for EDIFACT.
func FuzzReadEDIFACT(f *testing.F) {
	addSeeds(f, "iftsta.edi", "iftmin.edi")
	f.Add([]byte("UNB+UNOY:4+A+B+20250101:0000+7'UNH+1+IFTSTA:D:01B:UN'RFF+CU:A1*CU:A2'FTX+AAI+++5?*6'UNT+4+1'UNZ+1+7'"))
	f.Add([]byte("UNA|=,! #UNB=UNOC|3=A=B=250101|0000=1#UNH=1=IFTMIN|D|96A|UN#FTX=AAA===A!#B#UNT=3=1#UNZ=1=1#"))
	lim := Limits{MaxBytes: 1 << 20, MaxSegments: 2000, MaxElements: 64, MaxDepth: 8}
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := ReadEDIFACT(data, ReadOptions{Limits: lim}); err != nil {
			checkReadError(t, err)
		}
		tree, err := ReadEDIFACT(data, ReadOptions{Limits: lim, Schema: Schema{}})
		if err != nil {
			checkReadError(t, err)
			return
		}
		out, err := WriteEDIFACT(context.Background(), tree, EDIFACTWriteOptions{})
		if err != nil {
			t.Fatalf("writing what was read: %v\ninput: %q\ntree: %s", err, data, toJSON(tree))
		}
		back, err := ReadEDIFACT(out, ReadOptions{Limits: lim, Schema: Schema{}})
		if err != nil {
			t.Fatalf("reading what was written: %v\ninput: %q\noutput: %q", err, data, out)
		}
		if a, b := toJSON(withoutTrailers(tree)), toJSON(withoutTrailers(back)); a != b {
			t.Fatalf("round trip changed the tree\ninput: %q\noutput: %q\nbefore: %s\nafter: %s", data, out, a, b)
		}
	})
}
