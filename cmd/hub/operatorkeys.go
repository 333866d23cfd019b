package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/carrierhub/hub/engine/store"
)

// expiryFlags are --expires-at and --expires-in of a key-creating command.
type expiryFlags struct {
	at string
	in time.Duration
}

func (f *expiryFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.at, "expires-at", "", "when the key stops working, RFC 3339 (2027-01-31T18:30:00+05:30); default never")
	cmd.Flags().DurationVar(&f.in, "expires-in", 0, "how long the key works from now, e.g. 720h; instead of --expires-at")
}

// options returns the store options of the flags given: none, or an expiry in
// the future.
func (f *expiryFlags) options(now time.Time) ([]store.KeyOption, error) {
	var t time.Time
	switch {
	case f.at != "" && f.in != 0:
		return nil, fmt.Errorf("give --expires-at or --expires-in, not both")
	case f.at != "":
		var err error
		if t, err = time.Parse(time.RFC3339, f.at); err != nil {
			return nil, fmt.Errorf("--expires-at %q: want an RFC 3339 time such as 2027-01-31T18:30:00+05:30", f.at)
		}
		if !t.After(now) {
			return nil, fmt.Errorf("--expires-at %s is not in the future", f.at)
		}
	case f.in < 0:
		return nil, fmt.Errorf("--expires-in %s: want a positive duration", f.in)
	case f.in > 0:
		t = now.Add(f.in)
	default:
		return nil, nil
	}
	return []store.KeyOption{store.WithExpiry(t)}, nil
}

// keyState is live, revoked or expired, for key listings.
func keyState(revoked, expires *time.Time, now time.Time) string {
	switch {
	case revoked != nil:
		return "revoked"
	case expires != nil && !now.Before(*expires):
		return "expired"
	}
	return "live"
}

// expiresColumn is a key's expiry as listings show it.
func expiresColumn(expires *time.Time) string {
	if expires == nil {
		return "never"
	}
	return day(*expires)
}

// OperatorKeyCreated is a new operator key with its secret, as
// "hub operator-keys create -o json" prints it.
type OperatorKeyCreated struct {
	store.OperatorKey
	// Secret is the bearer secret; shown only this once.
	Secret string `json:"secret"`
}

func operatorKeysCmd() *cobra.Command {
	var sf storeFlags
	cmd := &cobra.Command{
		Use:   "operator-keys",
		Short: "Manage the hub-wide operator keys directly in the store",
		Long: `Operator keys are hub-wide API keys (hub_op_...) for the people who run the hub.
They manage tenants through the API (POST /v1/tenants, GET /v1/tenants,
GET /v1/tenants/{id}) and are refused (403) on every tenant's route: they see no
tenant's accounts, keys, shipments or webhooks. A tenant's own keys see only their
tenant. Operator keys are made only here, never through the API.`,
	}
	sf.register(cmd)
	var (
		createOut string
		expiry    expiryFlags
	)
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create an operator key and print its secret, once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(createOut); err != nil {
				return err
			}
			opts, err := expiry.options(time.Now())
			if err != nil {
				return err
			}
			return withStore(cmd, &sf, func(ctx context.Context, st store.Store) error {
				k, secret, err := st.CreateOperatorKey(ctx, args[0], opts...)
				if err != nil {
					return fmt.Errorf("creating operator key %q: %w", args[0], err)
				}
				if createOut == "json" {
					return printJSON(cmd.OutOrStdout(), OperatorKeyCreated{OperatorKey: k, Secret: secret})
				}
				fmt.Fprintf(cmd.OutOrStdout(), "key      %s (%s, operator)\nexpires  %s\nsecret   %s\n\nThe secret is shown only now; store it safely.\n",
					k.ID, k.Name, expiresColumn(k.ExpiresAt), secret)
				return nil
			})
		},
	}
	expiry.register(create)
	outputFlag(create, &createOut)
	var listOut string
	list := &cobra.Command{
		Use:   "list",
		Short: "List operator keys, revoked and expired ones included",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(listOut); err != nil {
				return err
			}
			return withStore(cmd, &sf, func(ctx context.Context, st store.Store) error {
				ks, err := st.ListOperatorKeys(ctx)
				if err != nil {
					return fmt.Errorf("listing operator keys: %w", err)
				}
				if listOut == "json" {
					return printJSON(cmd.OutOrStdout(), ks)
				}
				now := time.Now()
				w := table(cmd.OutOrStdout())
				fmt.Fprintln(w, "ID\tNAME\tPREFIX\tCREATED\tEXPIRES\tSTATE")
				for _, k := range ks {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, clip(k.Name, 20), clip(k.Prefix, 13), day(k.CreatedAt),
						expiresColumn(k.ExpiresAt), keyState(k.RevokedAt, k.ExpiresAt, now))
				}
				return w.Flush()
			})
		},
	}
	outputFlag(list, &listOut)
	revoke := &cobra.Command{
		Use:   "revoke KEY_ID",
		Short: "Revoke an operator key (a running hub may honour it for up to 30 s more)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd, &sf, func(ctx context.Context, st store.Store) error {
				if err := st.RevokeOperatorKey(ctx, args[0]); err != nil {
					return fmt.Errorf("revoking operator key %s: %w", args[0], err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "revoked %s\n", args[0])
				return nil
			})
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}
