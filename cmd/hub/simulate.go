package main

import (
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/carrierhub/hub/connectors"
	"github.com/carrierhub/hub/sdk/declarative"
	"github.com/carrierhub/hub/sdk/simulator"
)

// simulatorIDs lists the built-in connectors that have a simulator.
func simulatorIDs() []string {
	var ids []string
	for _, b := range connectors.Builtins() {
		if b.HasSimulator() {
			ids = append(ids, b.ID)
		}
	}
	return ids
}

// startSimulator starts the simulator of a built-in connector, or the generic
// one of a connector folder on disk.
func startSimulator(target string) (connectors.Simulator, string, error) {
	if b, ok := connectors.Lookup(target); ok {
		if !b.HasSimulator() {
			return nil, "", fmt.Errorf("connector %s has no simulator (no recorded exchanges)", target)
		}
		s, err := b.StartSimulator()
		return s, b.ID, err
	}
	if st, err := os.Stat(target); err == nil && st.IsDir() {
		s, err := simulator.New(declarative.FolderFS(target), simulator.Options{})
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", target, err)
		}
		return s, s.ConnectorID(), nil
	}
	return nil, "", fmt.Errorf("no simulator for %q: name a connector folder or one of %s", target, strings.Join(simulatorIDs(), ", "))
}

// accountFlags renders what hub accounts create needs to use a simulator.
func accountFlags(creds, settings map[string]string) string {
	var parts []string
	for _, kv := range []struct {
		flag string
		m    map[string]string
	}{{"--credential", creds}, {"--setting", settings}} {
		names := make([]string, 0, len(kv.m))
		for k := range kv.m {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			parts = append(parts, fmt.Sprintf("%s %s=%s", kv.flag, k, kv.m[k]))
		}
	}
	return strings.Join(parts, " ")
}

// simulateCmd runs a connector's provider simulator on loopback until interrupted.
func simulateCmd() *cobra.Command {
	ids := simulatorIDs()
	return &cobra.Command{
		Use:   "simulate CONNECTOR|DIR",
		Short: "Run a provider simulator on loopback, to try the hub without a carrier account",
		Long: `Run the simulator of a connector's provider on a free loopback port until
interrupted. It answers in the provider's documented shapes, keeps state (a booked
shipment can be tracked and cancelled) and prints the account to create for it.

A connector written as data gets the generic simulator, which answers from the
recorded exchanges under its testdata/exchanges/ and checks the auth its manifest
declares; name a built-in connector or a connector folder on disk.

Built-in simulators: ` + strings.Join(ids, ", ") + ".",
		Args:      cobra.ExactArgs(1),
		ValidArgs: ids,
		RunE: func(cmd *cobra.Command, args []string) error {
			sim, id, err := startSimulator(args[0])
			if err != nil {
				return err
			}
			defer sim.Close()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s simulator listening on %s\n\n", id, sim.URL())
			fmt.Fprintf(out, "Create an account for it:\n  hub accounts create --tenant TENANT_ID --connector %s --name simulator \\\n"+
				"    --environment sandbox --base-url %s \\\n    %s\n\nThe hub dials no loopback address by default: run hub serve (and hub accounts create)\n"+
				"with HUB_EGRESS_ALLOW=127.0.0.0/8 to reach this simulator.\n\nPress Ctrl-C to stop.\n", id, sim.URL(), accountFlags(sim.Account()))
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			<-ctx.Done()
			return nil
		},
	}
}
