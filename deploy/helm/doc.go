// Package helm checks the hub's deployment artefacts: the Helm chart in hub/
// (rendered and linted in-process with the Helm Go module), the Dockerfile at
// the repository's root (parsed and linted with BuildKit's Dockerfile parser)
// and the Grafana dashboard in ../grafana (every hub_* metric it queries must
// exist in engine/metrics).
//
// It is a module of its own (github.com/carrierhub/hub/deploy/helm) so that
// Helm's and BuildKit's dependencies stay out of the product's go.mod; it
// reads the product's sources as text and imports none of its packages.
// Run its tests with: cd deploy/helm && go test ./...
package helm
