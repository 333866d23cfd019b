package router

import (
	"context"
	"errors"
	"testing"

	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/sdktest"
)

// TestMustRecord checks a failure to record a call's outcome is logged only,
// unless the route asks for it to fail the call.
func TestMustRecord(t *testing.T) {
	t.Parallel()
	accts := memAccounts(store.Account{ID: "a1", TenantID: "t1", ConnectorID: "acme", Name: "main", Environment: "sandbox"})
	r := newTestRouter(t, accts, nil, nil)
	var recorded int
	r.after = func(context.Context, string, string, string, sdk.Operation, []byte) error {
		recorded++
		return errors.New("disk full")
	}
	rt := Route{TenantID: "t1", ConnectorID: "acme", Operation: sdk.OpTrack}
	if out, err := r.Invoke(context.Background(), rt, []byte(`{"tracking_numbers":["A"]}`)); err != nil || string(out) != `{"ok":true}` {
		t.Fatalf("without MustRecord: %s, %v; want the answer", out, err)
	}
	rt.MustRecord = true
	out, err := r.Invoke(context.Background(), rt, []byte(`{"tracking_numbers":["A"]}`))
	if e := sdktest.Error(t, err); out != nil || e.Code != sdk.CodeInternal || e.Source != sdk.SourceHub {
		t.Fatalf("with MustRecord: %s, %+v; want an internal hub error", out, e)
	}
	if recorded != 2 {
		t.Fatalf("AfterCall ran %d times, want 2", recorded)
	}
}
