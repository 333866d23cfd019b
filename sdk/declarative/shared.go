package declarative

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// SharedDir is where, beside the connector folders, the files several
// connectors share live: SharedDir/FAMILY/... (a provider family's login
// mapping, one tracking table for two APIs of one carrier). A manifest names
// the families it uses (shared: [ulip]) and reads their files as
// shared/FAMILY/... paths, so a family's files exist once.
const SharedDir = "shared"

// WithShared returns the connector folder with the families its manifest's
// shared list names mounted at shared/FAMILY, from sharedRoot (the
// connectors' shared directory); nil sharedRoot mounts nothing. The manifest
// is read on first use.
func WithShared(folder, sharedRoot fs.FS) fs.FS {
	if sharedRoot == nil {
		return folder
	}
	return &sharedFS{folder: folder, root: sharedRoot}
}

// FolderFS is a connector folder on disk, with the families it shares from
// the shared directory beside it (dir/../shared).
func FolderFS(dir string) fs.FS {
	shared := filepath.Join(filepath.Dir(filepath.Clean(dir)), SharedDir)
	if st, err := os.Stat(shared); err != nil || !st.IsDir() {
		return os.DirFS(dir)
	}
	return WithShared(os.DirFS(dir), os.DirFS(shared))
}

// sharedFS overlays a folder with the families its manifest shares.
type sharedFS struct {
	folder, root fs.FS
	once         sync.Once
	families     []string
}

// mounted reads the manifest's shared list (families with a plain name only).
func (s *sharedFS) mounted() []string {
	s.once.Do(func() {
		b, err := fs.ReadFile(s.folder, ManifestFile)
		if err != nil {
			return
		}
		var m struct {
			Shared []string `yaml:"shared"`
		}
		if yaml.Unmarshal(b, &m) != nil {
			return
		}
		for _, f := range m.Shared {
			if fs.ValidPath(f) && !strings.Contains(f, "/") && f != "." {
				s.families = append(s.families, f)
			}
		}
	})
	return s.families
}

// route says which FS serves name, and under what name.
func (s *sharedFS) route(name string) (fs.FS, string, bool) {
	rest, ok := strings.CutPrefix(name, SharedDir+"/")
	if !ok {
		return s.folder, name, true
	}
	family, _, _ := strings.Cut(rest, "/")
	if !slices.Contains(s.mounted(), family) {
		return nil, "", false
	}
	return s.root, rest, true
}

// Open opens name from the folder, or from a mounted family under shared/.
func (s *sharedFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	if name == SharedDir {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	fsys, n, ok := s.route(name)
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return fsys.Open(n)
}

// ReadDir lists a directory; the folder's root lists shared too when a
// family is mounted, and shared lists the mounted families.
func (s *sharedFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if name == SharedDir {
		var out []fs.DirEntry
		for _, f := range s.mounted() {
			if st, err := fs.Stat(s.root, f); err == nil && st.IsDir() {
				out = append(out, fs.FileInfoToDirEntry(st))
			}
		}
		if len(out) == 0 {
			return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
		}
		return out, nil
	}
	fsys, n, ok := s.route(name)
	if !ok {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	entries, err := fs.ReadDir(fsys, n)
	if err != nil || name != "." || len(s.mounted()) == 0 {
		return entries, err
	}
	if slices.ContainsFunc(entries, func(e fs.DirEntry) bool { return e.Name() == SharedDir }) {
		return entries, nil
	}
	return append(entries, sharedDirEntry{}), nil
}

// sharedDirEntry is the shared directory as the folder's root lists it.
type sharedDirEntry struct{}

func (sharedDirEntry) Name() string               { return SharedDir }
func (sharedDirEntry) IsDir() bool                { return true }
func (sharedDirEntry) Type() fs.FileMode          { return fs.ModeDir }
func (sharedDirEntry) Info() (fs.FileInfo, error) { return sharedDirInfo{}, nil }

type sharedDirInfo struct{}

func (sharedDirInfo) Name() string       { return SharedDir }
func (sharedDirInfo) Size() int64        { return 0 }
func (sharedDirInfo) Mode() fs.FileMode  { return fs.ModeDir | 0o555 }
func (sharedDirInfo) ModTime() time.Time { return time.Time{} }
func (sharedDirInfo) IsDir() bool        { return true }
func (sharedDirInfo) Sys() any           { return nil }
