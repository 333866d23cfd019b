package declarative

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/fstest"
)

// A folder sees the shared families its manifest names, under shared/FAMILY,
// and no others; a walk of it finds their files as its own.
func TestWithSharedMountsTheNamedFamilies(t *testing.T) {
	folder := fstest.MapFS{
		"manifest.yaml":          {Data: []byte("id: x\nshared: [ulip]\n")},
		"mappings/track.mapping": {Data: []byte("own")},
	}
	root := fstest.MapFS{
		"ulip/mappings/login.mapping": {Data: []byte("shared login")},
		"other/mappings/secret":       {Data: []byte("not mounted")},
	}
	fsys := WithShared(folder, root)
	if b, err := fs.ReadFile(fsys, "shared/ulip/mappings/login.mapping"); err != nil || string(b) != "shared login" {
		t.Fatalf("shared file: %q, %v", b, err)
	}
	if _, err := fs.ReadFile(fsys, "shared/other/mappings/secret"); err == nil {
		t.Fatal("a family the manifest does not name is visible")
	}
	var walked []string
	if err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			walked = append(walked, p)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{"manifest.yaml", "mappings/track.mapping", "shared/ulip/mappings/login.mapping"}
	slices.Sort(walked)
	if !slices.Equal(walked, want) {
		t.Fatalf("walked %q, want %q", walked, want)
	}
	// A manifest without shared mounts nothing.
	plain := WithShared(fstest.MapFS{"manifest.yaml": {Data: []byte("id: y\n")}}, root)
	if _, err := fs.Stat(plain, "shared/ulip/mappings/login.mapping"); err == nil {
		t.Fatal("a folder that shares nothing sees shared files")
	}
}

// On disk, the shared directory beside a folder is mounted.
func TestFolderFSFindsTheSharedDirectoryBeside(t *testing.T) {
	dir := t.TempDir()
	write := func(p, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("acme/manifest.yaml", "id: acme\nshared: [fam]\n")
	write("shared/fam/login.mapping", "shared")
	if b, err := fs.ReadFile(FolderFS(filepath.Join(dir, "acme")), "shared/fam/login.mapping"); err != nil || string(b) != "shared" {
		t.Fatalf("got %q, %v", b, err)
	}
}
