package conformance

import (
	"context"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/declarative"
	"github.com/carrierhub/hub/sdk/simulator"
)

// RunFolder checks a connector written as data (a folder of manifest,
// mappings and recorded exchanges) in one line of a Go test:
//
//	func TestConformance(t *testing.T) { conformance.RunFolder(t, os.DirFS(".")) }
//
// It must be called from a top-level test function.
func RunFolder(t *testing.T, fsys fs.FS) {
	c, err := declarative.Load(fsys, declarative.Options{})
	if err != nil {
		t.Fatalf("loading the connector folder: %v", err)
	}
	RunConnector(t, c, fsys)
}

// RunConnector checks a connector and its folder (manifest, mappings and
// recorded exchanges; a mixed connector's Go and bindings alike) as hub
// connector test does, in one line of a Go test:
//
//	func TestExchanges(t *testing.T) { conformance.RunConnector(t, delhivery.New(), delhivery.Folder()) }
//
// It serves c out of process by re-executing the test binary, starts the
// generic simulator on the folder's exchanges, and fails the test with every
// problem Check finds: failed checks, skipped ones, and sample exchange files
// (which a connector that counts no longer has). It must be called from a
// top-level test function.
func RunConnector(t *testing.T, c sdk.Connector, fsys fs.FS) {
	RunConnectorWith(t, c, fsys, func() (ClosingSimulator, error) { return simulator.New(fsys, simulator.Options{}) })
}

// ClosingSimulator is a Simulator that a run stops when it is done.
type ClosingSimulator interface {
	Simulator
	Close()
}

// RunConnectorWith is RunConnector against the connector's own simulator,
// which start starts and the run closes: for a provider whose wire the
// generic simulator cannot speak (NIC's encrypted envelope), a simulator that
// replays the folder's recorded exchanges itself.
func RunConnectorWith(t *testing.T, c sdk.Connector, fsys fs.FS, start func() (ClosingSimulator, error)) {
	if os.Getenv(envServe) == t.Name() {
		serve(c)
	}
	t.Helper()
	if strings.Contains(t.Name(), "/") {
		t.Fatal("conformance.RunConnector must be called from a top-level test function")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	sim, err := start()
	if err != nil {
		t.Fatalf("starting the simulator: %v", err)
	}
	defer sim.Close()
	r := Check(context.Background(), Target{Name: t.Name(), Files: fsys, Path: exe,
		Args: []string{"-test.run=^" + regexp.QuoteMeta(t.Name()) + "$"}, Env: []string{envServe + "=" + t.Name()}, Simulator: sim})
	for _, c := range r.Checks {
		switch {
		case c.Skipped != "":
			t.Errorf("%s: skipped: %s", c.Name, c.Skipped)
		case c.Passed:
			t.Logf("%s: ok", c.Name)
		}
		for _, p := range c.Problems {
			t.Errorf("%s: %s", c.Name, p)
		}
	}
	if r.Samples > 0 {
		t.Errorf("%d exchange files are samples written by hub connector new, not taken from a source", r.Samples)
	}
	if len(r.Unmapped) > 0 {
		t.Logf("provider codes mapped to unknown in the exchanges: %s", strings.Join(r.Unmapped, ", "))
	}
}
