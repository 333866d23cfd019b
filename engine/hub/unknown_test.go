package hub

import (
	"log/slog"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/carrierhub/hub/engine/router"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/sdk"
)

// TestUnknownRecordsUnconfirmedShipment: the router's Unknown hook records the
// create as an unconfirmed shipment with its reference and key, its reason on one
// line and cut to what the store keeps (on a rune boundary).
func TestUnknownRecordsUnconfirmedShipment(t *testing.T) {
	cfg := testConfig(t)
	ctx := t.Context()
	st, err := OpenStore(ctx, cfg.Store, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tenant, err := st.CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	p, err := newPipeline(ctx, cfg, st, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.bus.Close()
	long := "connector process exited\nduring the call: " + strings.Repeat("é", store.MaxUnconfirmedReason)
	cause := &sdk.Error{Code: sdk.CodeInternal, Source: sdk.SourceConnector, Message: long}
	if err := p.Unknown(ctx, router.Unknown{TenantID: tenant.ID, ConnectorID: "delhivery_express", AccountID: "acc_1",
		Operation: sdk.OpCreateShipment, IdempotencyKey: "K1", RequestID: "req_1", Reference: "ORD-1",
		Err: &sdk.Error{Code: sdk.CodeOutcomeUnknown}, Cause: cause}); err != nil {
		t.Fatal(err)
	}
	list, err := st.ListUnconfirmed(ctx, tenant.ID, store.Unconfirmed, 10)
	if err != nil || len(list) != 1 {
		t.Fatalf("ListUnconfirmed = %+v, %v", list, err)
	}
	u := list[0]
	if u.Reference != "ORD-1" || u.IdempotencyKey != "K1" || u.RequestID != "req_1" || u.Operation != "create_shipment" ||
		!strings.HasPrefix(u.Reason, "internal: connector process exited during the call") ||
		len(u.Reason) > store.MaxUnconfirmedReason || !utf8.ValidString(u.Reason) {
		t.Fatalf("recorded %+v", u)
	}
}
