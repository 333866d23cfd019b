package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/carrierhub/hub/connectors"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/conformance"
	"github.com/carrierhub/hub/sdk/declarative"
	"github.com/carrierhub/hub/sdk/exchanges"
	"github.com/carrierhub/hub/sdk/modelschema"
	"github.com/carrierhub/hub/sdk/scaffold"
	"github.com/carrierhub/hub/sdk/simulator"
)

// connectorCmd groups what a connector author runs: test, new and schema.
func connectorCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "connector", Short: "Write and check connectors: test, new, schema"}
	cmd.AddCommand(connectorTestCmd(), connectorSchemaCmd(), connectorNewCmd())
	return cmd
}

// connectorTestCmd runs conformance on connectors.
func connectorTestCmd() *cobra.Command {
	var output, dir string
	cmd := &cobra.Command{
		Use:   "test [DIR|ID ...]",
		Short: "Check connectors against the contract, out of process, against their simulators",
		Long: `Check each named connector (a folder on disk, or the id of a built-in connector;
with no argument, every built-in connector and every folder of --connectors-dir):

  manifest   the manifest against the schema (hub connector schema), with file:line errors
  sources    every source has a URL, what it covers and a confidence
  mappings   every mapping's fixtures (NAME.CASE.in.EXT against NAME.CASE.out.json)
  exchanges  every recorded exchange (testdata/exchanges/*.yaml): its canonical request
             through the real connector process against the connector's simulator,
             its answer compared with the recorded canonical answer or error
  contract   one tracking result per requested number in request order, canonical
             statuses with raw codes kept, times with offsets, no secret in any output
  process    unknown operations, malformed payloads and a graceful stop

It exits 1 when any check fails, listing what failed per connector.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if dir == "" {
				dir = os.Getenv("HUB_CONNECTORS_DIR")
			}
			targets, refused := args, 0
			if len(targets) == 0 {
				for _, b := range connectors.Builtins() {
					targets = append(targets, b.ID)
				}
				if dir != "" {
					found, problems := declarative.Scan(dir)
					for _, f := range found {
						targets = append(targets, f.Dir)
					}
					for _, p := range problems {
						fmt.Fprintf(cmd.OutOrStdout(), "FAIL %v\n", p)
					}
					refused = len(problems)
				}
			}
			var reports []*conformance.Report
			for _, target := range targets {
				r, err := checkConnector(cmd.Context(), target)
				if err != nil {
					return err
				}
				reports = append(reports, r)
				if output != "json" {
					printReport(cmd.OutOrStdout(), r)
				}
			}
			failed := refused
			for _, r := range reports {
				if r.Failed() {
					failed++
				}
			}
			if output == "json" {
				if err := printJSON(cmd.OutOrStdout(), reports); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "%d passed, %d failed\n", len(reports)+refused-failed, failed)
			}
			if failed > 0 {
				return &exitError{code: 1}
			}
			return nil
		},
	}
	outputFlag(cmd, &output)
	cmd.Flags().StringVar(&dir, "connectors-dir", "", "with no argument, also test every folder of this directory (env HUB_CONNECTORS_DIR)")
	return cmd
}

// checkConnector runs conformance on a built-in connector or a folder.
func checkConnector(ctx context.Context, target string) (*conformance.Report, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	t := conformance.Target{Name: target, Path: exe}
	if b, ok := connectors.Lookup(target); ok {
		t.Files, t.Args = b.Files, []string{"connector-process", b.ID}
		// Conformance replays the recorded exchanges, so it runs against the
		// generic simulator on them (or the connector's own, when it replays
		// them: an encrypted wire); a connector without any is checked
		// against its own simulator for the process contract alone.
		var sim connectors.Simulator
		switch {
		case b.OwnSimulatorReplays && b.Simulate != nil:
			sim, err = b.Simulate()
		case b.Files != nil && hasExchanges(b.Files):
			sim, err = simulator.New(b.Files, simulator.Options{})
		case b.Simulate != nil:
			sim, err = b.Simulate()
		}
		if err != nil {
			return nil, fmt.Errorf("%s: starting its simulator: %w", target, err)
		}
		if sim != nil {
			defer sim.Close()
			t.Simulator = sim
		}
		return conformance.Check(ctx, t), nil
	}
	st, err := os.Stat(target)
	if err != nil || !st.IsDir() {
		return nil, fmt.Errorf("%q is neither a connector folder nor a built-in connector (%s)", target, strings.Join(builtinIDs(), ", "))
	}
	t.Files, t.Args = declarative.FolderFS(target), []string{"connector-process", "--dir", target}
	if _, err := declarative.LoadDir(target); err != nil {
		r := &conformance.Report{Connector: target, Checks: []conformance.Result{{Name: "manifest", Problems: []string{err.Error()}}}}
		return r, nil
	}
	if hasExchanges(t.Files) {
		sim, _, err := startSimulator(target)
		if err != nil {
			return nil, err
		}
		defer sim.Close()
		t.Simulator = sim
	}
	return conformance.Check(ctx, t), nil
}

// hasExchanges reports whether a connector folder records exchanges.
func hasExchanges(fsys fs.FS) bool {
	names, _ := fs.Glob(fsys, exchanges.Dir+"/*.yaml")
	return len(names) > 0
}

func builtinIDs() []string {
	var ids []string
	for _, b := range connectors.Builtins() {
		ids = append(ids, b.ID)
	}
	return ids
}

// printReport writes one connector's checks for a person.
func printReport(w io.Writer, r *conformance.Report) {
	verdict := "ok  "
	if r.Failed() {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "%s %s\n", verdict, r.Connector)
	for _, c := range r.Checks {
		switch {
		case c.Skipped != "":
			fmt.Fprintf(w, "     -    %s (skipped: %s)\n", c.Name, c.Skipped)
		case c.Passed:
			fmt.Fprintf(w, "     ok   %s\n", c.Name)
		default:
			fmt.Fprintf(w, "     FAIL %s\n", c.Name)
			for _, p := range c.Problems {
				fmt.Fprintf(w, "%s\n", indent(p, "          "))
			}
		}
	}
	if len(r.Unmapped) > 0 {
		fmt.Fprintf(w, "     provider codes seen mapped to unknown: %s\n", strings.Join(r.Unmapped, ", "))
	}
	if r.Samples > 0 {
		fmt.Fprintf(w, "     %d exchange file(s) are samples written by hub connector new, not taken from a source\n", r.Samples)
	}
}

// connectorSchemaCmd prints the manifest's JSON Schema.
func connectorSchemaCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of a connector manifest (for editors; the hub validates with it)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := cmd.OutOrStdout().Write(modelschema.Manifest())
			return err
		},
	}
}

// connectorNewCmd writes a new connector folder.
func connectorNewCmd() *cobra.Command {
	var (
		protocol, auth, dir, name, ops string
	)
	cmd := &cobra.Command{
		Use:   "new ID",
		Short: "Write a new connector folder that passes hub connector test at once",
		Long: `Write a connector folder written as data: a manifest with a binding per operation,
request and response mappings with fixtures, a status table, sample recorded exchanges
(marked sample: true) and a README. It passes hub connector test as written; replace
the samples with the provider's documented shapes one by one.

  --protocol  rest_json, xml_http, soap or sftp_csv
  --ops       track,create_shipment,cancel_shipment (sftp_csv: receive_push)
  --auth      header:NAME, query:NAME, bearer, basic, oauth2[:TOKEN_PATH], wsse (soap) or none`,
		Example: `  hub connector new acme_express --protocol rest_json --ops track --auth header:X-Api-Key
  hub connector test acme_express`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := scaffold.Options{ID: args[0], Name: name, Protocol: protocol, Auth: auth}
			for _, op := range strings.Split(ops, ",") {
				if op = strings.TrimSpace(op); op != "" {
					o.Ops = append(o.Ops, sdk.Operation(op))
				}
			}
			if dir == "" {
				dir = args[0]
			}
			files, err := scaffold.Write(dir, o)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "wrote %s/\n", dir)
			for _, f := range files {
				fmt.Fprintf(w, "  %s\n", f)
			}
			fmt.Fprintf(w, "\nNext: hub connector test %s\n", dir)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&protocol, "protocol", "rest_json", "wire style: "+strings.Join(scaffold.Protocols, ", "))
	f.StringVar(&ops, "ops", "", "operations to bind, comma-separated (default: every one the protocol's scaffold writes)")
	f.StringVar(&auth, "auth", "header:X-Api-Key", "how requests are signed")
	f.StringVar(&dir, "dir", "", "where to write the folder (default ./ID)")
	f.StringVar(&name, "name", "", "the provider's display name (default: from the id)")
	return cmd
}
