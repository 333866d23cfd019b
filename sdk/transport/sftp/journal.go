package sftp

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/carrierhub/hub/sdk"
)

// Journal records, on the hub's side, which claimed files have been processed. A
// Poller calls it from one goroutine at a time; implementations shared between
// Pollers must be safe for concurrent use. Keys are opaque strings of any bytes.
//
// MarkDone must be durable when it returns nil: after a crash the Journal must
// still report the key as done. It is the write that closes the Poller's
// at-least-once window.
type Journal interface {
	// Done reports whether key has been recorded by MarkDone and not forgotten.
	Done(ctx context.Context, key string) (bool, error)
	// MarkDone records key as processed, durably.
	MarkDone(ctx context.Context, key string) error
	// Forget removes key; the Poller calls it once the file is archived or
	// deleted, so the journal holds only files still in flight. Forgetting a key
	// that is not recorded is not an error.
	Forget(ctx context.Context, key string) error
}

var (
	_ Journal = (*MemoryJournal)(nil)
	_ Journal = (*FileJournal)(nil)
)

// MemoryJournal is a Journal held in memory. It survives nothing: use it in tests
// and where the caller accepts reprocessing after a restart.
type MemoryJournal struct {
	mu   sync.Mutex
	done map[string]bool
}

// NewMemoryJournal returns an empty MemoryJournal.
func NewMemoryJournal() *MemoryJournal { return &MemoryJournal{done: map[string]bool{}} }

// Done reports whether key is recorded.
func (j *MemoryJournal) Done(_ context.Context, key string) (bool, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.done[key], nil
}

// MarkDone records key.
func (j *MemoryJournal) MarkDone(_ context.Context, key string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.done[key] = true
	return nil
}

// Forget removes key.
func (j *MemoryJournal) Forget(_ context.Context, key string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	delete(j.done, key)
	return nil
}

// Len returns how many keys are recorded.
func (j *MemoryJournal) Len() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.done)
}

// FileJournal is a Journal kept in a local append-only file: one line per change,
// `+ "key"` for MarkDone and `- "key"` for Forget (keys Go-quoted, so any bytes are
// safe), each append followed by fsync. Opening replays the file; when forgotten
// lines outnumber live keys it is rewritten (to a temporary file, fsynced, renamed
// over the old one). It is safe for concurrent use within one process; two
// processes must not open the same file.
type FileJournal struct {
	mu    sync.Mutex
	path  string
	f     *os.File
	done  map[string]bool
	lines int // lines in the file
}

// OpenFileJournal opens or creates the journal at path. A line it cannot read is
// an error naming the line, rather than a silently shorter journal, except for a
// final line without its newline (an append cut short by a crash), which is
// dropped.
func OpenFileJournal(path string) (*FileJournal, error) {
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return nil, journalError("reading journal %s: %v", path, err)
	}
	j := &FileJournal{path: path, done: map[string]bool{}}
	if i := bytes.LastIndexByte(data, '\n'); i < len(data)-1 {
		data = data[:i+1] // a torn final append
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if len(line) < 3 || line[1] != ' ' || (line[0] != '+' && line[0] != '-') {
			return nil, journalError("journal %s line %d: want `+ \"key\"` or `- \"key\"`", path, n)
		}
		key, err := strconv.Unquote(line[2:])
		if err != nil {
			return nil, journalError("journal %s line %d: key is not a quoted string", path, n)
		}
		if line[0] == '+' {
			j.done[key] = true
		} else {
			delete(j.done, key)
		}
		j.lines++
	}
	if err := sc.Err(); err != nil {
		return nil, journalError("reading journal %s: %v", path, err)
	}
	if err := j.rewrite(); err != nil {
		return nil, err
	}
	return j, nil
}

func journalError(format string, args ...any) error {
	return &sdk.Error{Code: sdk.CodeInternal, Source: sdk.SourceConnector, Message: fmt.Sprintf(format, args...)}
}

// rewrite replaces the file with one line per live key and reopens it for
// appending.
func (j *FileJournal) rewrite() error {
	var b strings.Builder
	for k := range j.done {
		b.WriteString("+ " + strconv.Quote(k) + "\n")
	}
	tmp := j.path + ".tmp"
	if err := writeSynced(tmp, []byte(b.String())); err != nil {
		return journalError("compacting journal %s: %v", j.path, err)
	}
	if err := os.Rename(tmp, j.path); err != nil {
		return journalError("compacting journal %s: %v", j.path, err)
	}
	if d, err := os.Open(filepath.Dir(j.path)); err == nil {
		_ = d.Sync() // make the rename durable where the platform allows
		d.Close()
	}
	if j.f != nil {
		j.f.Close()
	}
	f, err := os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return journalError("opening journal %s: %v", j.path, err)
	}
	j.f = f
	j.lines = len(j.done)
	return nil
}

func writeSynced(name string, data []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (j *FileJournal) appendLine(op byte, key string) error {
	if j.f == nil {
		return journalError("journal %s is closed", j.path)
	}
	line := string(op) + " " + strconv.Quote(key) + "\n"
	if _, err := j.f.WriteString(line); err != nil {
		return journalError("appending to journal %s: %v", j.path, err)
	}
	if err := j.f.Sync(); err != nil {
		return journalError("syncing journal %s: %v", j.path, err)
	}
	j.lines++
	return nil
}

// Done reports whether key is recorded.
func (j *FileJournal) Done(_ context.Context, key string) (bool, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.done[key], nil
}

// MarkDone appends key and fsyncs the file before returning.
func (j *FileJournal) MarkDone(_ context.Context, key string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.appendLine('+', key); err != nil {
		return err
	}
	j.done[key] = true
	return nil
}

// Forget appends a removal for key, and compacts the file when most of its lines
// are dead.
func (j *FileJournal) Forget(_ context.Context, key string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.done[key] {
		return nil
	}
	if err := j.appendLine('-', key); err != nil {
		return err
	}
	delete(j.done, key)
	if j.lines > 64 && j.lines > 4*len(j.done) {
		return j.rewrite()
	}
	return nil
}

// Len returns how many keys are recorded.
func (j *FileJournal) Len() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.done)
}

// Close closes the file. The journal is unusable afterwards.
func (j *FileJournal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}
