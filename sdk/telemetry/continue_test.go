package telemetry

import (
	"context"
	"testing"
	"time"
)

func TestContinueTrace(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	got := ContinueTrace(ctx, sampleParent, "vendor=abc,other=x1")
	if TraceParent(got) != sampleParent || TraceState(got) != "vendor=abc,other=x1" {
		t.Fatalf("continued context: %q %q", TraceParent(got), TraceState(got))
	}
	if _, ok := got.Deadline(); !ok {
		t.Error("ContinueTrace dropped ctx's deadline")
	}
	if s := TraceState(ContinueTrace(ctx, sampleParent, "not a trace state!")); s != "" {
		t.Errorf("malformed tracestate kept as %q", s)
	}
	for _, bad := range []string{"", "00-zz", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"} {
		if c := ContinueTrace(ctx, bad, "a=b"); c != ctx || TraceParent(c) != "" || TraceState(c) != "" {
			t.Errorf("%q: context changed (%q %q)", bad, TraceParent(c), TraceState(c))
		}
	}
	if TraceState(context.Background()) != "" {
		t.Error("trace state without a span")
	}
}
