package helm

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// dockerfilePath is the repository's Dockerfile, seen from this package.
const dockerfilePath = "../../Dockerfile"

// parsedDockerfile is a Dockerfile's stages and the build checks BuildKit
// reported while parsing it.
type parsedDockerfile struct {
	stages   []instructions.Stage
	metaArgs []instructions.ArgCommand
	warnings []string
}

// parseDockerfile parses src as BuildKit does, with every build check on.
func parseDockerfile(src string) (*parsedDockerfile, error) {
	res, err := parser.Parse(strings.NewReader(src))
	if err != nil {
		return nil, fmt.Errorf("parsing dockerfile: %w", err)
	}
	p := &parsedDockerfile{}
	for _, w := range res.Warnings {
		p.warnings = append(p.warnings, w.Short)
	}
	lint := linter.New(&linter.Config{
		ExperimentalAll: true,
		Warn: func(rule, _, _, msg string, loc []parser.Range) {
			line := 0
			if len(loc) > 0 {
				line = loc[0].Start.Line
			}
			p.warnings = append(p.warnings, fmt.Sprintf("line %d: %s: %s", line, rule, msg))
		},
	})
	p.stages, p.metaArgs, err = instructions.Parse(res.AST, lint)
	if err != nil {
		return nil, fmt.Errorf("reading dockerfile instructions: %w", err)
	}
	return p, nil
}

// pinnedImage matches an image reference with an explicit tag (and optionally
// a digest): registry/name:tag[@sha256:...].
var pinnedImage = regexp.MustCompile(`^[a-z0-9.\-/:]+:[A-Za-z0-9_.\-]+(@sha256:[a-f0-9]{64})?$`)

// checkDockerfile returns every rule src breaks: it must parse without build
// check warnings, have a build stage and a final stage, pin every external base
// image to a tag other than latest, run the final stage as a non-root USER,
// never ADD a URL, and start the hub through an exec-form ENTRYPOINT.
func checkDockerfile(src string) []string {
	p, err := parseDockerfile(src)
	if err != nil {
		return []string{err.Error()}
	}
	problems := slices.Clone(p.warnings)
	if len(p.stages) < 2 {
		problems = append(problems, fmt.Sprintf("%d stage(s): want a multi-stage build (build, then a small final stage)", len(p.stages)))
	}
	names := map[string]bool{}
	for _, st := range p.stages {
		base := st.BaseName
		if !names[strings.ToLower(base)] && base != "scratch" {
			switch {
			case strings.Contains(base, "$"):
				problems = append(problems, fmt.Sprintf("FROM %s: base image comes from a build argument, so it is not pinned", base))
			case !pinnedImage.MatchString(base) || strings.HasSuffix(strings.SplitN(base, "@", 2)[0], ":latest"):
				problems = append(problems, fmt.Sprintf("FROM %s: base image is not pinned to a release tag", base))
			}
		}
		if st.Name != "" {
			names[strings.ToLower(st.Name)] = true
		}
		for _, c := range st.Commands {
			if add, ok := c.(*instructions.AddCommand); ok {
				for _, src := range add.SourcePaths {
					if strings.Contains(src, "://") || strings.HasPrefix(src, "git@") {
						problems = append(problems, fmt.Sprintf("ADD %s: fetches from the network; download in a RUN step with a checksum instead", src))
					}
				}
			}
		}
	}
	if len(p.stages) == 0 {
		return problems
	}
	final := p.stages[len(p.stages)-1]
	var user string
	var entry *instructions.EntrypointCommand
	for _, c := range final.Commands {
		switch c := c.(type) {
		case *instructions.UserCommand:
			user = c.User
		case *instructions.EntrypointCommand:
			entry = c
		}
	}
	uid := strings.SplitN(user, ":", 2)[0]
	switch {
	case user == "":
		problems = append(problems, "final stage has no USER: the container would run as root")
	case uid == "0" || uid == "root":
		problems = append(problems, fmt.Sprintf("final stage runs as USER %s (root)", user))
	}
	switch {
	case entry == nil:
		problems = append(problems, "final stage has no ENTRYPOINT")
	case entry.PrependShell:
		problems = append(problems, "ENTRYPOINT is in shell form: signals would not reach the hub")
	}
	return problems
}

func TestDockerfile(t *testing.T) {
	src, err := os.ReadFile(dockerfilePath)
	if err != nil {
		t.Fatal(err)
	}
	if problems := checkDockerfile(string(src)); len(problems) > 0 {
		t.Fatalf("Dockerfile:\n  %s", strings.Join(problems, "\n  "))
	}

	p, err := parseDockerfile(string(src))
	if err != nil {
		t.Fatal(err)
	}
	build, final := p.stages[0], p.stages[len(p.stages)-1]
	if !strings.HasPrefix(build.BaseName, "golang:1.26") {
		t.Errorf("build stage FROM %s, want golang:1.26.x", build.BaseName)
	}
	if final.BaseName != "gcr.io/distroless/static-debian12:nonroot" && !strings.HasPrefix(final.BaseName, "gcr.io/distroless/static-debian12:nonroot@") {
		t.Errorf("final stage FROM %s, want distroless static nonroot", final.BaseName)
	}

	var buildCmd string
	for _, c := range build.Commands {
		if r, ok := c.(*instructions.RunCommand); ok && strings.Contains(strings.Join(r.CmdLine, " "), "go build") {
			buildCmd = strings.Join(r.CmdLine, " ")
		}
	}
	for _, want := range []string{"-trimpath", "-s -w", "-X main.version=${VERSION}", "./cmd/hub"} {
		if !strings.Contains(buildCmd, want) {
			t.Errorf("go build step %q lacks %q", buildCmd, want)
		}
	}
	if !hasEnv(build, "CGO_ENABLED", "0") {
		t.Error("build stage does not set CGO_ENABLED=0: the binary would not be static")
	}

	var entry, cmd []string
	var exposed, volumes []string
	for _, c := range final.Commands {
		switch c := c.(type) {
		case *instructions.EntrypointCommand:
			entry = c.CmdLine
		case *instructions.CmdCommand:
			cmd = c.CmdLine
		case *instructions.ExposeCommand:
			exposed = append(exposed, c.Ports...)
		case *instructions.VolumeCommand:
			volumes = append(volumes, c.Volumes...)
		}
	}
	if !slices.Equal(entry, []string{"/hub"}) {
		t.Errorf("ENTRYPOINT %q, want [/hub]", entry)
	}
	if !slices.Equal(cmd, []string{"serve", "--listen", "0.0.0.0:8080"}) {
		t.Errorf("CMD %q, want [serve --listen 0.0.0.0:8080]", cmd)
	}
	if !slices.Contains(exposed, "8080") {
		t.Errorf("EXPOSE %q, want 8080", exposed)
	}
	if !slices.Contains(volumes, "/data") {
		t.Errorf("VOLUME %q, want /data", volumes)
	}
	if !hasEnv(final, "HUB_DATA_DIR", "/data") {
		t.Error("final stage does not point HUB_DATA_DIR at the /data volume")
	}
}

// hasEnv reports whether stage st sets the environment variable key to value.
func hasEnv(st instructions.Stage, key, value string) bool {
	for _, c := range st.Commands {
		if e, ok := c.(*instructions.EnvCommand); ok {
			for _, kv := range e.Env {
				if kv.Key == key && kv.Value == value {
					return true
				}
			}
		}
	}
	return false
}

// TestDockerfileChecks proves each rule of checkDockerfile catches what it is for.
func TestDockerfileChecks(t *testing.T) {
	const good = `FROM golang:1.26.8-bookworm AS build
RUN go build -o /out/hub ./cmd/hub
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/hub /hub
USER 65532:65532
ENTRYPOINT ["/hub"]
`
	if problems := checkDockerfile(good); len(problems) > 0 {
		t.Fatalf("good Dockerfile refused: %q", problems)
	}
	tests := []struct {
		name, src, want string
	}{
		{"single stage", "FROM gcr.io/distroless/static-debian12:nonroot\nUSER 65532\nENTRYPOINT [\"/hub\"]\n", "multi-stage"},
		{"no user", strings.Replace(good, "USER 65532:65532\n", "", 1), "no USER"},
		{"root user", strings.Replace(good, "USER 65532:65532", "USER root", 1), "(root)"},
		{"uid 0", strings.Replace(good, "USER 65532:65532", "USER 0:0", 1), "(root)"},
		{"latest", strings.Replace(good, "golang:1.26.8-bookworm", "golang:latest", 1), "not pinned"},
		{"untagged", strings.Replace(good, "gcr.io/distroless/static-debian12:nonroot", "gcr.io/distroless/static-debian12", 1), "not pinned"},
		{"arg image", "ARG BASE=golang:1.26\n" + strings.Replace(good, "golang:1.26.8-bookworm", "${BASE}", 1), "build argument"},
		{"add url", strings.Replace(good, "USER", "ADD https://example.com/tool.tgz /tool.tgz\nUSER", 1), "fetches from the network"},
		{"shell entrypoint", strings.Replace(good, `ENTRYPOINT ["/hub"]`, "ENTRYPOINT /hub", 1), "shell form"},
		{"no entrypoint", strings.Replace(good, `ENTRYPOINT ["/hub"]`+"\n", "", 1), "no ENTRYPOINT"},
		{"build check", strings.Replace(good, "AS build", "as build", 1), "FromAsCasing"},
		{"bad syntax", "FROM golang:1.26.8-bookworm AS build\nCOPY\n", "COPY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problems := checkDockerfile(tt.src)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Errorf("problems %q, want one mentioning %q", problems, tt.want)
			}
		})
	}
}
