// Command hub is the carrier integration hub: one binary that serves the HTTP API
// (hub serve), manages tenants, API keys, operator keys and accounts directly in
// the store, calls a running hub (connectors, invoke, connector-health), and,
// hidden, serves a built-in connector in its own process when the hub starts it.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// exitError ends the program with a chosen status after its message (if any) has
// been printed.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// streams are the command's standard input, output and error.
type streams struct {
	in       io.Reader
	out, err io.Writer
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], streams{os.Stdin, os.Stdout, os.Stderr}))
}

// run executes the CLI with args and returns the exit status.
func run(ctx context.Context, args []string, std streams) int {
	root := newRootCmd(std)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(std.err, "hub:", ee.msg)
		}
		return ee.code
	}
	fmt.Fprintln(std.err, "hub:", err)
	return 1
}

func newRootCmd(std streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "hub",
		Short: "The carrier integration hub",
		Long: `hub routes canonical requests (shipments, tracking, e-way bills, ERP postings) to
carrier, government and ERP connectors, each in its own process.

A fresh install: run "hub tenants create NAME" to make the first tenant and its admin
API key, then "hub serve". "hub operator-keys create NAME" makes a hub-wide operator
key, which manages tenants through the API and sees no tenant's data.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(std.in)
	root.SetOut(std.out)
	root.SetErr(std.err)
	root.AddCommand(
		configCmd(),
		serveCmd(),
		tenantsCmd(),
		keysCmd(),
		operatorKeysCmd(),
		accountsCmd(),
		connectorsCmd(),
		invokeCmd(),
		connectorHealthCmd(),
		connectorCmd(),
		versionCmd(),
		simulateCmd(),
		connectorProcessCmd(),
		mapCmd(),
		webhooksCmd(),
	)
	return root
}

// envOr returns the environment variable name, or def when it is unset or empty.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
