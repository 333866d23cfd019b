package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/carrierhub/hub/connectors/builtin"
	"github.com/carrierhub/hub/sdk"
)

// connectorProcessCmd is the hidden entry point of a built-in connector's
// process: the plugin manager re-executes the hub binary with it.
func connectorProcessCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "connector-process CONNECTOR_ID",
		Short:  "Serve one built-in connector over the plugin protocol (started by the hub)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			c, ok := builtin.Lookup(args[0])
			if !ok {
				return fmt.Errorf("no built-in connector %q", args[0])
			}
			sdk.Serve(c) // does not return
			return nil
		},
	}
}
