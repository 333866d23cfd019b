package connectors

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/exchanges"
)

// Every folder under connectors/ with a manifest and no Go is a data
// connector the hub must carry: it is embedded, and its id is its name.
func TestEveryDataFolderIsEmbedded(t *testing.T) {
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(e.Name(), "manifest.yaml")); err != nil {
			continue
		}
		gofiles, _ := filepath.Glob(filepath.Join(e.Name(), "*.go"))
		if len(gofiles) == 0 {
			want = append(want, e.Name())
		}
	}
	var got []string
	dirs, _ := fs.ReadDir(dataFolders, ".")
	for _, d := range dirs {
		got = append(got, d.Name())
	}
	for _, name := range want {
		if !slices.Contains(got, name) {
			t.Errorf("connectors/%s is a data connector but is not embedded: add `//go:embed all:%s` above dataFolders in connectors.go", name, name)
		}
	}
	for _, b := range Builtins() {
		if b.New != nil {
			continue
		}
		m, err := sdk.LoadManifest(b.Files, "manifest.yaml")
		if err != nil {
			t.Errorf("%s: %v", b.ID, err)
			continue
		}
		if m.ID != b.ID {
			t.Errorf("folder connectors/%s holds connector %q: a data folder is named for its id", b.ID, m.ID)
		}
	}
}

// Ids are unique across the Go and data built-ins.
func TestBuiltinIDsAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, b := range Builtins() {
		if seen[b.ID] {
			t.Errorf("two built-ins are called %s", b.ID)
		}
		seen[b.ID] = true
		if strings.TrimSpace(b.ID) == "" {
			t.Error("a built-in has no id")
		}
	}
}

// A built-in's recorded exchanges come from sources: none is a scaffold
// sample.
func TestNoBuiltinHoldsSamples(t *testing.T) {
	for _, b := range Builtins() {
		if b.Files == nil {
			continue
		}
		m, err := sdk.LoadManifest(b.Files, "manifest.yaml")
		if err != nil {
			t.Errorf("%s: %v", b.ID, err)
			continue
		}
		files, err := exchanges.Load(b.Files, m)
		if err != nil {
			t.Errorf("%s: %v", b.ID, err)
			continue
		}
		for _, f := range files {
			if f.Sample {
				t.Errorf("%s: %s is a scaffold sample, not a recorded exchange", b.ID, f.Name)
			}
		}
	}
}
