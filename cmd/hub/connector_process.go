package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/carrierhub/hub/connectors"
	"github.com/carrierhub/hub/sdk"
)

// connectorProcessCmd is the hidden entry point of a connector process: the
// plugin manager re-executes the hub binary with it, naming a built-in
// connector or (--dir) a connector folder from the connectors directory.
func connectorProcessCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:    "connector-process [CONNECTOR_ID | --dir DIR]",
		Short:  "Serve one connector over the plugin protocol (started by the hub)",
		Hidden: true,
		Args:   cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			var c sdk.Connector
			switch {
			case dir != "" && len(args) == 0:
				dc, err := connectors.LoadDir(dir)
				if err != nil {
					return err
				}
				c = dc
			case dir == "" && len(args) == 1:
				b, ok := connectors.Lookup(args[0])
				if !ok {
					return fmt.Errorf("no built-in connector %q", args[0])
				}
				var err error
				if c, err = b.Connector(); err != nil {
					return err
				}
			default:
				return fmt.Errorf("name a built-in connector or a folder with --dir, not both")
			}
			sdk.Serve(c) // does not return
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "a connector folder to serve")
	return cmd
}
