package sftp

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carrierhub/hub/sdk"
)

// recorder is a process func that remembers what it was given.
type recorder struct {
	mu    sync.Mutex
	files []File
	fail  map[string]error // by name
}

func (r *recorder) process(_ context.Context, f File) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.fail[f.Name]; err != nil {
		return err
	}
	r.files = append(r.files, f)
	return nil
}

func (r *recorder) names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, f := range r.files {
		out = append(out, f.Name)
	}
	return out
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func poll(t *testing.T, p *Poller) Report {
	t.Helper()
	rep, err := p.Poll(context.Background())
	if err != nil {
		t.Fatalf("poll: %v", err)
	}
	return rep
}

func TestPollerArchives(t *testing.T) {
	t.Parallel()
	s := startSSHD(t)
	c := s.dial(t, nil)
	s.put(t, "inbox/a.csv", "a,1\n")
	s.put(t, "inbox/b.csv", "b,2\n")
	s.put(t, "inbox/notes.txt", "not for us")
	s.put(t, "inbox/.partial.csv", "hidden")
	if err := os.Symlink(s.local("inbox/a.csv"), s.local("inbox/link.csv")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(s.local("inbox/dir.csv"), 0o755); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	j := NewMemoryJournal()
	p := &Poller{Client: c, Dir: "inbox", Pattern: "*.csv", ProcessingDir: "work/processing",
		ArchiveDir: "archive", Journal: j, Process: rec.process}

	// First look: nothing is taken until a second look finds it unchanged.
	rep := poll(t, p)
	if len(rep.Processed) != 0 || !slices.Equal(rep.Waiting, []string{"a.csv", "b.csv"}) {
		t.Fatalf("first pass: %+v", rep)
	}
	// b.csv is still being written.
	if err := os.WriteFile(s.local("inbox/b.csv"), []byte("b,2\nb,3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep = poll(t, p)
	if !slices.Equal(rep.Processed, []string{"a.csv"}) || !slices.Equal(rep.Waiting, []string{"b.csv"}) {
		t.Fatalf("second pass: %+v", rep)
	}
	rep = poll(t, p)
	if !slices.Equal(rep.Processed, []string{"b.csv"}) || len(rep.Failed) != 0 {
		t.Fatalf("third pass: %+v", rep)
	}
	if rep := poll(t, p); len(rep.Processed)+len(rep.Waiting)+len(rep.Failed) != 0 {
		t.Fatalf("idle pass: %+v", rep)
	}
	if got := rec.names(); !slices.Equal(got, []string{"a.csv", "b.csv"}) {
		t.Fatalf("processed %v", got)
	}
	f := rec.files[1]
	fi, _ := os.Stat(s.local("archive/b.csv"))
	if string(f.Data) != "b,2\nb,3\n" || f.Size != 8 || f.Key != IdempotencyKey("b.csv", 8, fi.ModTime()) {
		t.Fatalf("file handed over: %+v", f)
	}
	if got := dirNames(t, s.local("archive")); !slices.Equal(got, []string{"a.csv", "b.csv"}) {
		t.Fatalf("archive holds %v", got)
	}
	if got := dirNames(t, s.local("inbox")); !slices.Equal(got, []string{".partial.csv", "dir.csv", "link.csv", "notes.txt"}) {
		t.Fatalf("inbox holds %v", got)
	}
	if got := dirNames(t, s.local("work/processing")); len(got) != 0 || j.Len() != 0 {
		t.Fatalf("left in flight: %v, journal %d", got, j.Len())
	}

	// The same name again: archived beside the first under its claim name.
	s.put(t, "inbox/a.csv", "a,again\n")
	poll(t, p)
	if rep := poll(t, p); !slices.Equal(rep.Processed, []string{"a.csv"}) {
		t.Fatalf("second a.csv: %+v", rep)
	}
	if got := dirNames(t, s.local("archive")); len(got) != 3 {
		t.Fatalf("archive holds %v", got)
	}
}

func TestPollerDeletesAndFails(t *testing.T) {
	t.Parallel()
	s := startSSHD(t)
	c := s.dial(t, nil)
	s.put(t, "in/ok.csv", "ok")
	s.put(t, "in/big.csv", "0123456789abcdef")
	s.put(t, "in/bad.csv", "bad")
	s.put(t, "in/flaky.csv", "flaky")
	rec := &recorder{fail: map[string]error{
		"bad.csv":   sdk.Errorf(sdk.CodeInvalidRequest, "row 1: no AWB"),
		"flaky.csv": sdk.Errorf(sdk.CodeCarrierUnavailable, "downstream is down"),
	}}
	p := &Poller{Client: c, Dir: "in", Pattern: "*.csv", ProcessingDir: "processing", FailedDir: "failed",
		Journal: NewMemoryJournal(), Process: rec.process, MaxFileSize: 10}

	rep := poll(t, p)
	if len(rep.Failed) != 1 || rep.Failed[0].Name != "big.csv" || !rep.Failed[0].Moved || rep.Failed[0].Err.Code != sdk.CodeInvalidRequest {
		t.Fatalf("first pass: %+v", rep)
	}
	rep = poll(t, p)
	if !slices.Equal(rep.Processed, []string{"ok.csv"}) || len(rep.Failed) != 2 {
		t.Fatalf("second pass: %+v", rep)
	}
	for _, fe := range rep.Failed {
		if (fe.Name == "bad.csv") != fe.Moved {
			t.Errorf("%s moved=%v: only non-retryable failures go to FailedDir", fe.Name, fe.Moved)
		}
	}
	if _, err := os.Stat(s.local("in/ok.csv")); !os.IsNotExist(err) {
		t.Fatal("with no ArchiveDir a processed file is deleted")
	}
	if got := dirNames(t, s.local("failed")); !slices.Equal(got, []string{"bad.csv", "big.csv"}) {
		t.Fatalf("failed holds %v", got)
	}
	// The retryable failure stays claimed and is offered again on the next pass.
	if got := dirNames(t, s.local("processing")); len(got) != 1 || !strings.HasSuffix(got[0], "_flaky.csv") {
		t.Fatalf("processing holds %v", got)
	}
	delete(rec.fail, "flaky.csv")
	if rep := poll(t, p); !slices.Equal(rep.Processed, []string{"flaky.csv"}) {
		t.Fatalf("retry pass: %+v", rep)
	}

	// Misconfiguration is refused before touching the server.
	for _, bad := range []*Poller{
		{Client: c, Dir: "in", ProcessingDir: "in", Journal: NewMemoryJournal(), Process: rec.process},
		{Client: c, Dir: "in", ProcessingDir: "../p", Journal: NewMemoryJournal(), Process: rec.process},
		{Client: c, Dir: "in", ProcessingDir: "p", Process: rec.process},
		{Client: c, Dir: "in", ProcessingDir: "p", Journal: NewMemoryJournal()},
		{Client: c, Dir: "in", ProcessingDir: "p", Pattern: "[", Journal: NewMemoryJournal(), Process: rec.process},
	} {
		_, err := bad.Poll(context.Background())
		wantCode(t, err, sdk.CodeInvalidRequest)
	}
}

func TestPollerSettleDelay(t *testing.T) {
	t.Parallel()
	s := startSSHD(t)
	c := s.dial(t, nil)
	s.put(t, "in/a.csv", "a")
	rec := &recorder{}
	p := &Poller{Client: c, Dir: "in", ProcessingDir: "processing", Journal: NewMemoryJournal(),
		Process: rec.process, SettleDelay: 20 * time.Millisecond}
	if rep := poll(t, p); !slices.Equal(rep.Processed, []string{"a.csv"}) {
		t.Fatalf("one pass with a settle delay: %+v", rep)
	}
}

// Two Pollers sharing an inbox, each with its own processing directory and
// journal: every file is processed by exactly one of them.
func TestPollersShareInbox(t *testing.T) {
	t.Parallel()
	s := startSSHD(t)
	const n = 30
	for i := range n {
		s.put(t, fmt.Sprintf("in/%02d.csv", i), fmt.Sprint(i))
	}
	rec := &recorder{}
	var wg sync.WaitGroup
	for w := range 2 {
		c := s.dial(t, nil)
		p := &Poller{Client: c, Dir: "in", ProcessingDir: fmt.Sprintf("processing-%d", w), ArchiveDir: "archive",
			Journal: NewMemoryJournal(), Process: rec.process}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				if _, err := p.Poll(context.Background()); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	got := rec.names()
	slices.Sort(got)
	if len(got) != n || len(slices.Compact(got)) != n {
		t.Fatalf("processed %d files (%d distinct), want %d once each", len(got), len(slices.Compact(got)), n)
	}
}

// helperSpec tells the helper process what to do; see TestPollerHelperProcess.
type helperSpec struct {
	Port       int
	User       string
	KeyPEM     []byte
	KnownHosts []byte
	Root       string
	Journal    string
	Outcomes   string
	// Stop says where the helper stops and waits to be killed: "processing"
	// (inside the process func, before its effects are committed), "marked"
	// (after the journal write), "unmarked" (after the process func succeeded,
	// before the journal write).
	Stop string
}

func (s *sshdServer) spec(journal, outcomes, stop string) helperSpec {
	return helperSpec{Port: s.port, User: s.user, KeyPEM: s.userKeyPEM, KnownHosts: s.knownHosts,
		Root: s.root, Journal: journal, Outcomes: outcomes, Stop: stop}
}

// commitOutcome is a process func's committed effect: one line per file, unless
// the key was already committed (the de-duplication a process func does with
// File.Key).
func commitOutcome(outcomes string, f File, dedupe bool) (bool, error) {
	old, _ := os.ReadFile(outcomes)
	if dedupe && slices.Contains(strings.Split(string(old), "\n"), f.Key) {
		return false, nil
	}
	out, err := os.OpenFile(outcomes, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return false, err
	}
	defer out.Close()
	_, err = out.WriteString(f.Key + "\n")
	return true, err
}

// stoppingJournal wraps a journal and stops the process around MarkDone.
type stoppingJournal struct {
	Journal
	stop string
}

func (j stoppingJournal) MarkDone(ctx context.Context, key string) error {
	if j.stop == "unmarked" {
		fmt.Println("STOPPED")
		select {}
	}
	err := j.Journal.MarkDone(ctx, key)
	if j.stop == "marked" {
		fmt.Println("STOPPED")
		select {}
	}
	return err
}

// TestPollerHelperProcess is not a test: TestPollerRestart runs the test binary
// again with HUB_SFTP_HELPER set, and this is the child, a hub that gets killed.
func TestPollerHelperProcess(t *testing.T) {
	specFile := os.Getenv("HUB_SFTP_HELPER")
	if specFile == "" {
		t.Skip("helper process for TestPollerRestart")
	}
	b, err := os.ReadFile(specFile)
	if err != nil {
		t.Fatal(err)
	}
	var spec helperSpec
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	c, err := Dial(context.Background(), Config{Host: "127.0.0.1", Port: spec.Port, User: spec.User,
		PrivateKeyPEM: spec.KeyPEM, KnownHosts: spec.KnownHosts, Root: spec.Root})
	if err != nil {
		t.Fatal(err)
	}
	j, err := OpenFileJournal(spec.Journal)
	if err != nil {
		t.Fatal(err)
	}
	p := &Poller{Client: c, Dir: "in", ProcessingDir: "processing", ArchiveDir: "archive",
		Journal: stoppingJournal{Journal: j, stop: spec.Stop},
		Process: func(_ context.Context, f File) error {
			if spec.Stop == "processing" {
				fmt.Println("STOPPED")
				select {}
			}
			_, err := commitOutcome(spec.Outcomes, f, false)
			return err
		}}
	for range 2 {
		if _, err := p.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatal("the helper should have stopped and been killed")
}

// TestPollerRestart kills a hub (a child process) at each point of the exactly-once
// protocol and checks what a restarted hub does with the file it left behind.
func TestPollerRestart(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		stop      string
		dedupe    bool
		processed []string // by the restarted hub
		finished  []string
		outcomes  int // committed effects in total
	}{
		// Killed inside the process func: the file is offered again; one outcome.
		{stop: "processing", processed: []string{"manifest.csv"}, outcomes: 1},
		// Killed after the journal write: archived without processing again.
		{stop: "marked", finished: []string{"manifest.csv"}, outcomes: 1},
		// Killed between success and the journal write: the documented
		// at-least-once window. The process func runs again with the same key...
		{stop: "unmarked", processed: []string{"manifest.csv"}, outcomes: 2},
		// ...and a process func that de-duplicates on the key commits once.
		{stop: "unmarked", dedupe: true, processed: []string{"manifest.csv"}, outcomes: 1},
	} {
		t.Run(fmt.Sprintf("%s dedupe=%v", tc.stop, tc.dedupe), func(t *testing.T) {
			s := startSSHD(t)
			dir := t.TempDir()
			journal := filepath.Join(dir, "journal")
			outcomes := filepath.Join(dir, "outcomes")
			s.put(t, "in/manifest.csv", "awb,status\n1,DL\n")

			spec, _ := json.Marshal(s.spec(journal, outcomes, tc.stop))
			specFile := filepath.Join(dir, "spec.json")
			if err := os.WriteFile(specFile, spec, 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestPollerHelperProcess$", "-test.count=1")
			cmd.Env = append(os.Environ(), "HUB_SFTP_HELPER="+specFile)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			stopped := false
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if sc.Text() == "STOPPED" {
					stopped = true
					break
				}
			}
			_ = cmd.Process.Kill()
			go func() {
				for sc.Scan() { // drain so Wait returns
				}
			}()
			_ = cmd.Wait()
			if !stopped {
				t.Fatalf("the helper did not reach %q; stderr:\n%s", tc.stop, stderr.String())
			}
			if got := dirNames(t, s.local("processing")); len(got) != 1 {
				t.Fatalf("after the kill, processing holds %v", got)
			}

			// The restarted hub: a new client, the same journal file and directories.
			c := s.dial(t, nil)
			j, err := OpenFileJournal(journal)
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			calls := 0
			p := &Poller{Client: c, Dir: "in", ProcessingDir: "processing", ArchiveDir: "archive", Journal: j,
				Process: func(_ context.Context, f File) error {
					calls++
					_, err := commitOutcome(outcomes, f, tc.dedupe)
					return err
				}}
			rep := poll(t, p)
			if !slices.Equal(rep.Processed, tc.processed) || !slices.Equal(rep.Finished, tc.finished) || len(rep.Failed) != 0 {
				t.Fatalf("restarted pass: %+v", rep)
			}
			if calls != len(tc.processed) {
				t.Fatalf("process func called %d times after restart", calls)
			}
			lines := strings.Fields(readFile(t, outcomes))
			if len(lines) != tc.outcomes {
				t.Fatalf("committed outcomes %v, want %d", lines, tc.outcomes)
			}
			if len(slices.Compact(lines)) != 1 {
				t.Fatalf("both runs must see the same idempotency key: %v", lines)
			}
			if got := dirNames(t, s.local("archive")); !slices.Equal(got, []string{"manifest.csv"}) {
				t.Fatalf("archive holds %v", got)
			}
			if got := dirNames(t, s.local("processing")); len(got) != 0 || j.Len() != 0 {
				t.Fatalf("left in flight: %v, journal %d", got, j.Len())
			}
			// And nothing more happens.
			if rep := poll(t, p); len(rep.Processed)+len(rep.Finished) != 0 {
				t.Fatalf("extra pass: %+v", rep)
			}
		})
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
