package host

import "testing"

func TestConnectorGODEBUG(t *testing.T) {
	for hub, want := range map[string]string{
		"":                        "gcshrinkstackoff=1",
		"http2client=0":           "http2client=0,gcshrinkstackoff=1",
		"gcshrinkstackoff=0":      "gcshrinkstackoff=0",
		"x=1, gcshrinkstackoff=0": "x=1, gcshrinkstackoff=0",
	} {
		if got := connectorGODEBUG(hub); got != want {
			t.Errorf("connectorGODEBUG(%q) = %q, want %q", hub, got, want)
		}
	}
}
