package statusfile_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/carrierhub/hub/connectors/statusfile"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
)

// account is an SFTP-inbox account: the connector needs nothing from it.
func account() *sdk.Account {
	return &sdk.Account{ID: "acct_sftp_1", TenantID: "tenant_1", Environment: "production",
		Credentials: map[string]string{}, Settings: map[string]string{}}
}

// newDispatcher serves the connector in process through the SDK dispatcher,
// with the same JSON encoding the plugin boundary uses.
func newDispatcher(t testing.TB) *sdk.Dispatcher {
	t.Helper()
	d, err := sdk.NewDispatcher(statusfile.New())
	if err != nil {
		t.Fatalf("NewDispatcher: %v", err)
	}
	return d
}

// push hands one file to receive_push as the hub's inbox poller does.
func push(t testing.TB, d *sdk.Dispatcher, name, contentType string, body []byte) (*model.PushResponse, *sdk.Error) {
	t.Helper()
	req := model.PushRequest{ContentType: contentType, Body: body,
		Headers: map[string]string{"x-hub-file-name": name, "content-type": contentType}}
	payload, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	out, err := d.Invoke(context.Background(), &sdk.Call{Operation: sdk.OpReceivePush, Account: account(), RequestID: "req-1", Payload: payload})
	if err != nil {
		var e *sdk.Error
		if !errors.As(err, &e) {
			t.Fatalf("Invoke returned a non-*sdk.Error: %v", err)
		}
		return nil, e
	}
	var res model.PushResponse
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("decoding %s: %v", out, err)
	}
	return &res, nil
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
