package odata_test

import (
	"context"
	"testing"

	"github.com/carrierhub/hub/sdk/transport/egress/egresstest"
	"github.com/carrierhub/hub/sdk/transport/odata"
)

// TestMain admits loopback through the egress guard, because these tests talk
// to httptest servers on 127.0.0.1; TestEgressGuard checks the default refuses
// them.
func TestMain(m *testing.M) { egresstest.Main(m) }

// TestEgressGuard: a Client without an HTTP client of its own dials through
// the guard, so by default loopback is refused before anything is sent.
func TestEgressGuard(t *testing.T) {
	egresstest.CheckGuard(t, "application/json", `{"value":[]}`, func(url string) error {
		c, err := odata.New(odata.Options{ServiceRoot: url + "/data", Version: odata.V4})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Do(context.Background(), odata.Request{Query: odata.From("Orders")})
		return err
	})
}
