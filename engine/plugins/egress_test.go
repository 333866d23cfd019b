package plugins_test

import (
	"context"
	"strings"
	"testing"

	"github.com/carrierhub/hub/engine/plugins"
)

// TestEgressAllowIsChecked: the allow-list handed to connector processes is
// checked when the manager is made (cmd/hub's tests, whose connectors reach
// simulators on loopback only through it, show it arriving).
func TestEgressAllowIsChecked(t *testing.T) {
	_, err := plugins.New(context.Background(), plugins.Config{EgressAllow: []string{"127.0.0.0/8", "not-a-cidr"}})
	if err == nil || !strings.Contains(err.Error(), "not-a-cidr") {
		t.Fatalf("New with a bad allow-list entry: %v", err)
	}
	m, err := plugins.New(context.Background(), plugins.Config{EgressAllow: []string{"127.0.0.0/8"}})
	if err != nil {
		t.Fatal(err)
	}
	_ = m.Close(context.Background())
}
