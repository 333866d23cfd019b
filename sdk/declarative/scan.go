package declarative

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/carrierhub/hub/sdk"
)

// Folder is a connector folder found by Scan.
type Folder struct {
	// Dir is the folder's path.
	Dir string
	// Connector is the folder, loaded and compiled.
	Connector *Connector
}

// LoadDir loads one connector folder from disk, with the families it shares
// from the shared directory beside it (FolderFS). A folder loaded this way
// has no Go, so every operation its manifest declares must have a binding.
func LoadDir(dir string) (*Connector, error) {
	c, err := Load(FolderFS(dir), Options{})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	if ops := c.Unbound(); len(ops) > 0 {
		return nil, fmt.Errorf("%s: %s: operation %s has no binding, and a folder without Go must bind every operation it declares", dir, ManifestFile, ops[0])
	}
	return c, nil
}

// Scan loads every connector folder directly under dir (each a subdirectory
// with a manifest.yaml), in name order. A folder that does not load is
// reported in problems, with its file and line, and the others still load;
// two folders with one id keep the first. A dir that does not exist holds no
// folders.
func Scan(dir string) (folders []Folder, problems []error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, []error{fmt.Errorf("reading the connectors directory: %w", err)}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	seen := map[string]string{}
	for _, e := range entries {
		sub := filepath.Join(dir, e.Name())
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(sub, ManifestFile)); err != nil {
			continue
		}
		c, err := LoadDir(sub)
		if err != nil {
			problems = append(problems, err)
			continue
		}
		id := c.Describe().ID
		if first, dup := seen[id]; dup {
			problems = append(problems, fmt.Errorf("%s: connector id %s is taken by %s", sub, id, first))
			continue
		}
		seen[id] = sub
		folders = append(folders, Folder{Dir: sub, Connector: c})
	}
	return folders, problems
}

// Unbound lists the operations the manifest declares without a binding
// (a mixed connector serves them in Go).
func (c *Connector) Unbound() []sdk.Operation {
	var out []sdk.Operation
	for _, o := range c.manifest.Operations {
		if o.Binding == nil {
			out = append(out, o.Name)
		}
	}
	return out
}
