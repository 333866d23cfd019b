# Everyday targets. The README's two commands are "go run ./cmd/hub serve" and
# ".ci/run"; these are shortcuts around them.
.PHONY: run test test-quick lint generate bench

run:
	go run ./cmd/hub serve

# The whole suite, with a real Postgres started for it (as CI runs it).
test:
	.ci/run

# The suite without starting anything; Postgres tests skip unless HUB_POSTGRES_URL is set.
test-quick:
	go test -race ./...

lint:
	gofmt -l $$(git ls-files '*.go')
	go vet ./...

# Regenerates protocol code, SOAP clients and the canonical JSON Schemas.
generate:
	go generate ./...
	go test ./sdk/modelschema -update

bench:
	go test -run '^$$' -bench . -benchmem ./sdk/host ./engine/plugins ./engine/validate
