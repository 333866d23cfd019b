// Package hub is the hub's kernel: it assembles the engine's parts into one
// running hub and owns their lifecycle. New opens the store (bootstrapping the
// credentials key), sets up tracing and metrics, starts the plugin manager over
// the connectors it is given, and builds the event pipeline (outbox relay,
// webhook dispatcher, recorder, commands consumer, tracking poller, SFTP inbox,
// e-way bill notices, purges), the router, the idempotency keeper and the HTTP
// API. Run serves until its context is done and then shuts down in order: stop
// accepting, drain requests, stop the background work, stop connector
// processes, flush spans, close the store. Close releases what New built when
// Run is never called.
//
// The command line (cmd/hub) parses flags into a config.Config and passes what
// is not configuration in Options: the built-in connectors and connector
// folders, the logger, the hub's own executable. The kernel holds no connector
// of its own, so it runs with none in tests.
//
// OpenStore is the store bootstrap on its own, for commands that work on the
// store without serving.
//
// It may import every engine package, sdk/ and mappings/; never cmd/ or
// connectors/ (built-ins arrive through Options).
package hub
