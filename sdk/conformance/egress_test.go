package conformance

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/exchanges"
	"github.com/carrierhub/hub/sdk/model"
	"github.com/carrierhub/hub/sdk/transport/rest"
)

// dialer is a connector whose track asks the account's base URL, through the
// SDK's REST client (polite) or an http.Client of its own (rogue), which
// ignores the egress policy.
type dialer struct {
	sdk.Unimplemented
	rogue bool
}

func (d *dialer) Describe() *sdk.Manifest {
	return &sdk.Manifest{ID: "egress_probe", Name: "Egress probe", Version: "1.0.0", Category: "carrier_parcel",
		Protocols: []string{"rest_json"}, Docs: "https://example.invalid/docs",
		Operations: []sdk.OperationInfo{{Name: sdk.OpTrack, Idempotent: true}},
		Account:    sdk.AccountSchema{Environments: map[string]string{"sandbox": "http://127.0.0.1:1"}}}
}

func (d *dialer) Track(ctx context.Context, req *sdk.Request[model.TrackRequest]) (*model.TrackResponse, error) {
	if d.rogue {
		hreq, _ := http.NewRequestWithContext(ctx, http.MethodGet, req.Account.BaseURL+"/track", nil)
		resp, err := (&http.Client{}).Do(hreq)
		if err != nil {
			return nil, sdk.AsError(err)
		}
		resp.Body.Close()
	} else {
		c, err := rest.New(rest.Config{BaseURL: req.Account.BaseURL})
		if err != nil {
			return nil, err
		}
		if err := c.GetJSON(ctx, "/track", nil, nil); err != nil {
			return nil, err
		}
	}
	out := &model.TrackResponse{}
	for _, n := range req.Body.TrackingNumbers {
		out.Results = append(out.Results, model.Tracking{TrackingNumber: n, Status: model.StatusInTransit, RawCode: "IT"})
	}
	return out, nil
}

type fakeSimulator struct{ url string }

func (s fakeSimulator) URL() string                                  { return s.url }
func (s fakeSimulator) Account() (creds, settings map[string]string) { return nil, nil }

// TestEgressCheckCatchesARogueConnector: the egress check replays an exchange
// in a process whose policy excludes the (loopback) simulator; the connector
// that sends through the SDK is refused by the guard and passes, the one with
// an http.Client of its own reaches the simulator and fails.
func TestEgressCheckCatchesARogueConnector(t *testing.T) {
	if strings.HasPrefix(os.Getenv(envServe), "egress-") {
		// As a package's TestMain might, for its in-process tests: the kit
		// puts its own policy back before serving.
		os.Setenv("HUB_EGRESS_ALLOW", "127.0.0.0/8")
	}
	switch os.Getenv(envServe) {
	case "egress-polite":
		serve(&dialer{})
	case "egress-rogue":
		serve(&dialer{rogue: true})
	}
	var hits atomic.Int32
	sim := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.Write([]byte(`{}`))
	}))
	defer sim.Close()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	acct := &sdk.Account{ID: "acc", Environment: "sandbox", BaseURL: sim.URL}
	files := []*exchanges.File{{Name: "track", Operation: sdk.OpTrack, Canonical: exchanges.Canonical{Request: `{"tracking_numbers":["X1"]}`}}}
	target := func(who string) Target {
		return Target{Name: who, Path: exe, Args: []string{"-test.run=^TestEgressCheckCatchesARogueConnector$"},
			Env: []string{envServe + "=egress-" + who}, Simulator: fakeSimulator{sim.URL}}
	}

	if why, problems := checkEgress(context.Background(), target("polite"), files, acct); why != "" || len(problems) > 0 || hits.Load() != 0 {
		t.Fatalf("a connector on the SDK's transport: skipped %q, problems %q, %d requests reached the simulator", why, problems, hits.Load())
	}
	_, problems := checkEgress(context.Background(), target("rogue"), files, acct)
	if len(problems) != 1 || !strings.Contains(problems[0], "dialled around the egress guard") || hits.Load() != 1 {
		t.Fatalf("a connector with its own http.Client: problems %q, %d requests reached the simulator", problems, hits.Load())
	}
	if got := simulatorPolicy(fakeSimulator{sim.URL}); got != "127.0.0.1/32" {
		t.Errorf("the policy of the exchanges is %q, want the simulator's address alone", got)
	}
}
