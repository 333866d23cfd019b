package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/carrierhub/hub/connectors"
	"github.com/carrierhub/hub/engine/plugins"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/declarative"
)

// loadConnectors returns the built-in connectors and the folders of the
// connectors directory (none when dir is empty). A folder that does not load
// is logged with its file and line and left out; the others still load.
func loadConnectors(dir string, log *slog.Logger) ([]sdk.Connector, []plugins.Folder, error) {
	var builtins []sdk.Connector
	for _, b := range connectors.Builtins() {
		c, err := b.Connector()
		if err != nil {
			return nil, nil, fmt.Errorf("built-in connector %s: %w", b.ID, err)
		}
		builtins = append(builtins, c)
	}
	if dir == "" {
		return builtins, nil, nil
	}
	found, problems := declarative.Scan(dir)
	for _, p := range problems {
		log.Error("refusing a connector folder", "error", p.Error())
	}
	folders := make([]plugins.Folder, 0, len(found))
	for _, f := range found {
		folders = append(folders, plugins.Folder{Dir: f.Dir, Manifest: f.Connector.Describe()})
	}
	return builtins, folders, nil
}

// findManifest returns the manifest of a built-in connector or of a folder in
// the connectors directory dir (HUB_CONNECTORS_DIR when empty).
func findManifest(id, dir string) (*sdk.Manifest, bool) {
	if b, ok := connectors.Lookup(id); ok {
		c, err := b.Connector()
		if err != nil {
			return nil, false
		}
		return c.Describe(), true
	}
	if dir == "" {
		dir = os.Getenv("HUB_CONNECTORS_DIR")
	}
	if dir == "" {
		return nil, false
	}
	found, _ := declarative.Scan(dir)
	for _, f := range found {
		if m := f.Connector.Describe(); m.ID == id {
			return m, true
		}
	}
	return nil, false
}
