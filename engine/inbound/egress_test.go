package inbound_test

import (
	"strings"
	"testing"

	"github.com/carrierhub/hub/engine/inbound"
	"github.com/carrierhub/hub/sdk/transport/egress"
)

// TestInboxDialsThroughTheEgressGuard: the hub's own SFTP connections for a
// connector go through the egress guard, like the connector's: with a policy
// that does not admit loopback, the inbox on 127.0.0.1 is not reached.
func TestInboxDialsThroughTheEgressGuard(t *testing.T) {
	t.Parallel()
	e := newInboxEnv(t)
	dir := e.srv.inbox(t, "inbox")
	e.account(t, "status drop", dir, nil)
	in := e.inbox(t, "replica-a", func(c *inbound.InboxConfig) { c.Egress = egress.MustParse() })
	writeFile(t, dir, "good.csv", statusCSV)
	p := pass(t, in)
	if p.Processed != 0 || e.conn.count("good.csv") != 0 {
		t.Fatalf("pass = %+v: the inbox was reached through a policy without loopback", p)
	}
	if !strings.Contains(e.logs.String(), "egress guard") {
		t.Fatalf("the refusal is not reported:\n%s", e.logs.String())
	}
}
