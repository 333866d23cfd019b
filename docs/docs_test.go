package docs

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// repoRoot is the repository's root, from this package's directory.
const repoRoot = ".."

// TestTutorialRunsAsWritten runs every sh block of connector-tutorial.md, in
// order, in one bash script: a fresh HOME, the hub binary built from this
// checkout, and a free port where the page says 8080. The script's own checks
// (hub connector test, hub invoke) make it fail when the page stops being true;
// the test then checks the tracked answer.
func TestTutorialRunsAsWritten(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the hub and runs hub serve")
	}
	page, err := os.ReadFile("connector-tutorial.md")
	if err != nil {
		t.Fatal(err)
	}
	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	for _, block := range shBlocks(string(page)) {
		for _, line := range strings.Split(block, "\n") {
			if strings.HasPrefix(line, "go build -o hub ") {
				continue // the test builds the binary itself, below
			}
			script.WriteString(line + "\n")
		}
	}
	work := t.TempDir()
	home := filepath.Join(work, "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-o", filepath.Join(work, "hub"), "./cmd/hub")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the hub: %v\n%s", err, out)
	}
	port := freePort(t)
	text := strings.ReplaceAll(script.String(), "127.0.0.1:8080", "127.0.0.1:"+strconv.Itoa(port))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", text)
	cmd.Dir = work
	cmd.Env = append(cleanEnv(), "HOME="+home, "HUB_URL=http://127.0.0.1:"+strconv.Itoa(port))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	if err != nil {
		logs, _ := os.ReadFile(filepath.Join(work, "hub.log"))
		t.Fatalf("the tutorial failed: %v\n%s\nhub.log:\n%s", err, out.String(), logs)
	}
	for _, want := range []string{"1 passed, 0 failed", `"tracking_number": "AX1234567"`, `"status": "delivered"`, `"carrier_message": "AWB not found"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the tutorial's output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "are samples written by hub connector new") && strings.Count(out.String(), "are samples") > 1 {
		t.Errorf("samples remain after the tutorial replaced them:\n%s", out.String())
	}
}

// exists reports whether path (a glob when it has a *) names a file under dir.
func exists(dir, path string) bool {
	if strings.Contains(path, "*") {
		matches, _ := filepath.Glob(filepath.Join(dir, path))
		return len(matches) > 0
	}
	_, err := os.Stat(filepath.Join(dir, path))
	return err == nil
}

// cleanEnv is the test's environment without the hub's own settings.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HUB_") {
			env = append(env, kv)
		}
	}
	return env
}

var shBlockRE = regexp.MustCompile("(?s)```sh\n(.*?)```")

func shBlocks(page string) []string {
	var out []string
	for _, m := range shBlockRE.FindAllStringSubmatch(page, -1) {
		out = append(out, m[1])
	}
	return out
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// pathRE finds repository paths in backticks: at least one slash, or a file
// with a known extension, starting with a top-level folder of the repository.
var pathRE = regexp.MustCompile("`((?:cmd|connectors|docs|engine|mappings|sdk|testdata|bench|deploy)/[A-Za-z0-9_./*-]*)`")

// TestPagesNameOnlyFilesThatExist checks every repository path that a
// documentation page names in backticks.
func TestPagesNameOnlyFilesThatExist(t *testing.T) {
	pages := []string{"README.md", "docs/connector-tutorial.md", "mappings/README.md", "sdk/model/TRACKING.md",
		"bench/README.md", "engine/config/REFERENCE.md"}
	more, _ := filepath.Glob(filepath.Join(repoRoot, "connectors", "*", "README.md"))
	for _, m := range more {
		rel, _ := filepath.Rel(repoRoot, m)
		pages = append(pages, rel)
	}
	for _, page := range pages {
		data, err := os.ReadFile(filepath.Join(repoRoot, page))
		if err != nil {
			t.Errorf("%s: %v", page, err)
			continue
		}
		for _, m := range pathRE.FindAllStringSubmatch(string(data), -1) {
			p := strings.TrimRight(m[1], ".")
			if !exists(filepath.Join(repoRoot, filepath.Dir(page)), p) && !exists(repoRoot, p) {
				t.Errorf("%s names %s, which is neither beside it nor in the repository", page, p)
			}
		}
	}
}
