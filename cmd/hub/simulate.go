package main

import (
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	bluedartsim "github.com/carrierhub/hub/connectors/bluedart/simulator"
	delhiverysim "github.com/carrierhub/hub/connectors/delhivery/simulator"
)

// providerSimulator is a provider simulator the CLI can run: it answers in the
// provider's documented shapes, so the hub can be tried without an account.
type providerSimulator struct {
	url   func() string
	close func()
	// account is what `hub accounts create` needs to use it.
	account string
}

var simulators = map[string]func() providerSimulator{
	"delhivery_express": func() providerSimulator {
		s := delhiverysim.New()
		return providerSimulator{url: s.URL, close: s.Close, account: fmt.Sprintf(
			"--credential api_token=%s --setting pickup_location=WH-1", s.Token())}
	},
	"bluedart_soap": func() providerSimulator {
		s := bluedartsim.New()
		return providerSimulator{url: s.URL, close: s.Close, account: fmt.Sprintf(
			"--credential login_id=%s --credential licence_key=%s --setting customer_code=%s --setting origin_area=BOM",
			bluedartsim.LoginID, bluedartsim.LicenceKey, bluedartsim.CustomerCode)}
	},
}

// simulateCmd runs a connector's provider simulator on loopback until interrupted.
func simulateCmd() *cobra.Command {
	ids := make([]string, 0, len(simulators))
	for id := range simulators {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return &cobra.Command{
		Use:   "simulate CONNECTOR",
		Short: "Run a provider simulator on loopback, to try the hub without a carrier account",
		Long: `Run the simulator of a built-in connector's provider on a free loopback port until
interrupted. It answers in the provider's documented shapes, keeps state (a booked
shipment can be tracked and cancelled) and prints the account to create for it.

Simulators: ` + strings.Join(ids, ", ") + ".",
		Args:      cobra.ExactArgs(1),
		ValidArgs: ids,
		RunE: func(cmd *cobra.Command, args []string) error {
			newSim, ok := simulators[args[0]]
			if !ok {
				return fmt.Errorf("no simulator for %q; there are: %s", args[0], strings.Join(ids, ", "))
			}
			sim := newSim()
			defer sim.close()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s simulator listening on %s\n\n", args[0], sim.url())
			fmt.Fprintf(out, "Create an account for it:\n  hub accounts create --tenant TENANT_ID --connector %s --name simulator \\\n"+
				"    --environment sandbox --base-url %s \\\n    %s\n\nPress Ctrl-C to stop.\n", args[0], sim.url(), sim.account)
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			<-ctx.Done()
			return nil
		},
	}
}
