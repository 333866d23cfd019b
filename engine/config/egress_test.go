package config

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestEgressAllow(t *testing.T) {
	c, err := Load("", nil)
	if err != nil || len(c.Egress.Allow) != 0 {
		t.Fatalf("default: %v, %v; want an empty allow-list", c.Egress.Allow, err)
	}
	if err := c.Egress.Policy().Check("h", netip.MustParseAddr("127.0.0.1")); err == nil {
		t.Error("the default policy admits loopback")
	}

	c, err = Load("", []string{"HUB_EGRESS_ALLOW=127.0.0.0/8, 10.20.0.0/16"})
	if err != nil || len(c.Egress.Allow) != 2 {
		t.Fatalf("from the environment: %v, %v", c.Egress.Allow, err)
	}
	if err := c.Egress.Policy().Check("h", netip.MustParseAddr("10.20.1.2")); err != nil {
		t.Errorf("the allow-list does not admit its range: %v", err)
	}

	c, err = Load(write(t, "egress:\n  allow: [127.0.0.1, \"fd00::/8\"]\n"), nil)
	if err != nil || c.Egress.Policy().String() != "127.0.0.1/32,fd00::/8" {
		t.Fatalf("from a file: %v, %v", c.Egress.Allow, err)
	}

	p := write(t, "egress:\n  allow:\n    - 10.0.0.0/8\n    - 10.0.0.0/40\n")
	_, err = Load(p, nil)
	var fe *FileError
	if !errors.As(err, &fe) || fe.Line != 2 || !strings.Contains(err.Error(), "egress.allow") || !strings.Contains(err.Error(), "10.0.0.0/40") {
		t.Errorf("a bad CIDR in a file: %v, want an error naming egress.allow, the entry and the key's line", err)
	}
	if _, err := Load("", []string{"HUB_EGRESS_ALLOW=localhost"}); err == nil || !strings.Contains(err.Error(), "egress.allow") {
		t.Errorf("a bad entry in the environment: %v", err)
	}
}
