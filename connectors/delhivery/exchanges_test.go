package delhivery_test

import (
	"testing"

	"github.com/carrierhub/hub/connectors/delhivery"
	"github.com/carrierhub/hub/sdk/conformance"
)

// TestRecordedExchanges is what hub connector test delhivery_express runs: the
// manifest, its sources, every mapping's fixtures and every recorded exchange
// under testdata/exchanges, each canonical call through the connector out of
// process against the generic simulator, its answer compared with the recorded
// one.
func TestRecordedExchanges(t *testing.T) {
	conformance.RunConnector(t, delhivery.New(), delhivery.Folder())
}
