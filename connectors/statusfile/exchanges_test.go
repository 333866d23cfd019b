package statusfile_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/carrierhub/hub/connectors/statusfile"
	"github.com/carrierhub/hub/mappings/fixtures"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/declarative"
	"github.com/carrierhub/hub/sdk/exchanges"
)

// TestFolder checks the folder the hub embeds: its manifest passes the
// manifest schema, and every recorded exchange (testdata/exchanges) replayed
// through receive_push in process gives its recorded answer or error. `hub
// connector test statusfile` replays the same files out of process.
func TestFolder(t *testing.T) {
	m, err := declarative.LoadManifest(statusfile.Folder())
	if err != nil {
		t.Fatal(err)
	}
	files, err := exchanges.Load(statusfile.Folder(), m)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no recorded exchanges in the folder")
	}
	d := newDispatcher(t)
	for _, f := range files {
		t.Run(f.Name, func(t *testing.T) {
			out, err := d.Invoke(context.Background(), &sdk.Call{Operation: f.Operation, Account: account(), RequestID: "req-" + f.Name, Payload: f.Request(account())})
			if want := f.Canonical.Error; want != nil {
				e := sdk.AsError(err)
				if e == nil || e.Code != want.Code || e.Field != "/body" || !e.NotSent {
					t.Fatalf("got %v (%s), want a %s error on /body, not sent", e, out, want.Code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !fixtures.SameJSON(out, []byte(f.Canonical.Response)) {
				var got bytes.Buffer
				_ = json.Indent(&got, out, "    ", "  ")
				t.Errorf("the answer differs from the recorded one (- recorded, + actual):\n%s",
					fixtures.LineDiff(f.Canonical.Response, "    "+got.String()))
			}
		})
	}
}
