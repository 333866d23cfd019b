package api

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/carrierhub/hub/sdk/host"
)

// TestConnectorExchanges checks GET /v1/connectors/{id}/exchanges: the
// connector's records for the tenant's own account, 404 for another tenant's
// account or an unknown connector, 422 without an account, 501 from a
// connector that keeps none.
func TestConnectorExchanges(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	accountA := h.createAccount(h.keyA, acmeAccount)
	accountB := h.createAccount(h.keyB, acmeAccount)
	var asked string
	h.conns.exchanges = func(_ context.Context, id, accountID string, limit int) (json.RawMessage, error) {
		asked = id + "/" + accountID
		if accountID == accountB {
			return nil, host.ErrNoExchanges
		}
		return json.RawMessage(`[{"at":"2026-12-06T10:00:00Z","account":"` + accountID + `","method":"GET","url":"https://acme.test/track?awb=1","status":200,"duration_ms":12}]`), nil
	}
	r := h.do("GET", "/v1/connectors/acme/exchanges?account="+accountA, h.keyA, "")
	var list []struct{ Account, Method, URL string }
	r.decode(t, &list)
	if r.status != 200 || len(list) != 1 || list[0].Account != accountA || asked != "acme/"+accountA || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("own account: %d %s (asked %s)", r.status, r.body, asked)
	}
	asked = ""
	if r = h.do("GET", "/v1/connectors/acme/exchanges?account="+accountB, h.keyA, ""); r.status != http.StatusNotFound || asked != "" {
		t.Fatalf("another tenant's account: %d %s (the connector was asked: %q)", r.status, r.body, asked)
	}
	if r = h.do("GET", "/v1/connectors/acme/exchanges", h.keyA, ""); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("no account: %d %s", r.status, r.body)
	}
	if r = h.do("GET", "/v1/connectors/nope/exchanges?account="+accountA, h.keyA, ""); r.status != http.StatusNotFound {
		t.Fatalf("unknown connector: %d %s", r.status, r.body)
	}
	if r = h.do("GET", "/v1/connectors/acme/exchanges?account="+accountB, h.keyB, ""); r.status != http.StatusNotImplemented {
		t.Fatalf("a connector that keeps none: %d %s", r.status, r.body)
	}
	if r = h.do("GET", "/v1/connectors/acme/exchanges?account="+accountA, h.opKey, ""); r.status != http.StatusForbidden {
		t.Fatalf("an operator key: %d", r.status)
	}
}
