package sftp

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carrierhub/hub/sdk"
)

func TestJournals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fj, err := OpenFileJournal(filepath.Join(t.TempDir(), "j"))
	if err != nil {
		t.Fatal(err)
	}
	defer fj.Close()
	for name, j := range map[string]Journal{"memory": NewMemoryJournal(), "file": fj} {
		t.Run(name, func(t *testing.T) {
			odd := "we:ird\nname \"quoted\" \x00"
			for _, k := range []string{"a", odd} {
				if done, _ := j.Done(ctx, k); done {
					t.Fatalf("%q done before MarkDone", k)
				}
				if err := j.MarkDone(ctx, k); err != nil {
					t.Fatal(err)
				}
				if done, _ := j.Done(ctx, k); !done {
					t.Fatalf("%q not done after MarkDone", k)
				}
			}
			if err := j.Forget(ctx, "a"); err != nil {
				t.Fatal(err)
			}
			if err := j.Forget(ctx, "never recorded"); err != nil {
				t.Fatal(err)
			}
			if done, _ := j.Done(ctx, "a"); done {
				t.Fatal("forgotten key still done")
			}
			if done, _ := j.Done(ctx, odd); !done {
				t.Fatal("odd key lost")
			}
		})
	}
}

func TestFileJournalSurvivesReopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "journal")
	j, err := OpenFileJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	// Enough churn to trigger compaction.
	for i := range 200 {
		k := fmt.Sprint("claim-", i)
		if err := j.MarkDone(ctx, k); err != nil {
			t.Fatal(err)
		}
		if i%10 != 0 {
			if err := j.Forget(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
	}
	if j.Len() != 20 {
		t.Fatalf("live keys %d", j.Len())
	}
	if lines := strings.Count(readFile(t, path), "\n"); lines >= 200 {
		t.Fatalf("the journal was never compacted: %d lines", lines)
	}
	// No Close: a crash. Add a torn final append as a crash mid-write leaves.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`+ "claim-9`)
	f.Close()

	j2, err := OpenFileJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()
	if j2.Len() != 20 {
		t.Fatalf("after reopen: %d keys", j2.Len())
	}
	for _, k := range []string{"claim-0", "claim-190"} {
		if done, _ := j2.Done(ctx, k); !done {
			t.Errorf("%s lost", k)
		}
	}
	if done, _ := j2.Done(ctx, "claim-9"); done {
		t.Error("a torn append counted")
	}
	j.Close()
	if err := j2.Close(); err != nil {
		t.Fatal(err)
	}
	wantCode(t, j2.MarkDone(ctx, "x"), sdk.CodeInternal)
}

func TestFileJournalRefusesGarbage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"bad op":    "+ \"a\"\n* \"b\"\n",
		"unquoted":  "+ \"a\"\n+ b\n",
		"too short": "+\n",
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := OpenFileJournal(path)
		se := wantCode(t, err, sdk.CodeInternal)
		if !strings.Contains(se.Message, "line") {
			t.Errorf("%s: the error should name the line: %v", name, se)
		}
	}
	_, err := OpenFileJournal(filepath.Join(dir, "no-such-dir", "j"))
	wantCode(t, err, sdk.CodeInternal)
}

func TestPathsLexically(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"", "/a", "..", "a/../b", "a/..", `a\b`, "a\x00"} {
		if _, err := clean(p); err == nil {
			t.Errorf("%q accepted", p)
		}
	}
	for p, want := range map[string]string{"a": "a", "./a/": "a", "a//b/.": "a/b", ".": ".", "..a/b..": "..a/b.."} {
		if got, err := clean(p); err != nil || got != want {
			t.Errorf("%q: %q, %v", p, got, err)
		}
	}
	for name, ok := range map[string]bool{"0123456789abcdef_x.csv": true, "0123456789abcdef_": false,
		"0123456789abcdeg_x": false, "x.csv": false, "0123456789abcdef-x": false} {
		if _, got := claimedName(name); got != ok {
			t.Errorf("claimedName(%q) = %v", name, got)
		}
	}
}
