package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/carrierhub/hub/engine/api"
	"github.com/carrierhub/hub/engine/config"
	"github.com/carrierhub/hub/engine/router"
	"github.com/carrierhub/hub/engine/store"
)

// withStore opens the store for one command and closes it afterwards.
func withStore(cmd *cobra.Command, sf *storeFlags, fn func(ctx context.Context, st store.Store) error) error {
	ctx := cmd.Context()
	st, err := sf.open(ctx, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(ctx, st)
}

// outputFlag registers --output table|json.
func outputFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVarP(p, "output", "o", "table", "table or json")
}

func checkOutput(o string) error {
	if o != "table" && o != "json" {
		return fmt.Errorf("--output must be table or json, not %q", o)
	}
	return nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// clip shortens s to n characters, marking the cut.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	if n <= 1 {
		return s[:n]
	}
	return s[:n-1] + "…"
}

func table(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }

func day(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04")
}

func tenantsCmd() *cobra.Command {
	var sf storeFlags
	cmd := &cobra.Command{
		Use:   "tenants",
		Short: "Manage tenants directly in the store",
	}
	sf.register(cmd)
	var output string
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a tenant and print its id and an admin API key, once",
		Long: `Create a tenant and print its id and a new admin API key. The key's secret is shown
only this once. This is how a fresh install gets its first key: run it against the
hub's --data-dir (or --postgres-url), then call the API with Authorization: Bearer <key>.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			return withStore(cmd, &sf, func(ctx context.Context, st store.Store) error {
				t, err := st.CreateTenant(ctx, args[0])
				if err != nil {
					return fmt.Errorf("creating tenant %q: %w", args[0], err)
				}
				k, secret, err := st.CreateAPIKey(ctx, t.ID, "admin", true)
				if err != nil {
					return fmt.Errorf("creating the tenant's admin key: %w", err)
				}
				if output == "json" {
					return printJSON(cmd.OutOrStdout(), api.TenantCreated{Tenant: t, APIKey: api.APIKeyCreated{APIKey: k, Secret: secret}})
				}
				fmt.Fprintf(cmd.OutOrStdout(), "tenant  %s (%s)\nkey     %s (admin)\nsecret  %s\n\nThe secret is shown only now; store it safely.\n", t.ID, t.Name, k.ID, secret)
				return nil
			})
		},
	}
	outputFlag(create, &output)
	var listOutput string
	list := &cobra.Command{
		Use:   "list",
		Short: "List tenants",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(listOutput); err != nil {
				return err
			}
			return withStore(cmd, &sf, func(ctx context.Context, st store.Store) error {
				ts, err := st.ListTenants(ctx)
				if err != nil {
					return fmt.Errorf("listing tenants: %w", err)
				}
				if listOutput == "json" {
					if ts == nil {
						ts = []store.Tenant{}
					}
					return printJSON(cmd.OutOrStdout(), ts)
				}
				w := table(cmd.OutOrStdout())
				fmt.Fprintln(w, "ID\tNAME\tCREATED")
				for _, t := range ts {
					fmt.Fprintf(w, "%s\t%s\t%s\n", t.ID, clip(t.Name, 28), day(t.CreatedAt))
				}
				return w.Flush()
			})
		},
	}
	outputFlag(list, &listOutput)
	cmd.AddCommand(create, list)
	return cmd
}

func keysCmd() *cobra.Command {
	var (
		sf     storeFlags
		tenant string
	)
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Manage a tenant's API keys directly in the store",
	}
	sf.register(cmd)
	cmd.PersistentFlags().StringVar(&tenant, "tenant", "", "the tenant's id (required)")
	_ = cmd.MarkPersistentFlagRequired("tenant")
	var name, createOut string
	var adminKey bool
	var expiry expiryFlags
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an API key and print its secret, once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(createOut); err != nil {
				return err
			}
			opts, err := expiry.options(time.Now())
			if err != nil {
				return err
			}
			return withStore(cmd, &sf, func(ctx context.Context, st store.Store) error {
				k, secret, err := st.CreateAPIKey(ctx, tenant, name, adminKey, opts...)
				if err != nil {
					return fmt.Errorf("creating key for tenant %s: %w", tenant, err)
				}
				if createOut == "json" {
					return printJSON(cmd.OutOrStdout(), api.APIKeyCreated{APIKey: k, Secret: secret})
				}
				fmt.Fprintf(cmd.OutOrStdout(), "key     %s (%s)\nsecret  %s\n\nThe secret is shown only now; store it safely.\n", k.ID, k.Name, secret)
				return nil
			})
		},
	}
	create.Flags().StringVar(&name, "name", "cli", "a name telling the key apart")
	create.Flags().BoolVar(&adminKey, "admin", false, "make an admin key (may create and revoke the tenant's admin keys)")
	expiry.register(create)
	outputFlag(create, &createOut)
	var listOut string
	list := &cobra.Command{
		Use:   "list",
		Short: "List a tenant's API keys, revoked and expired ones included",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(listOut); err != nil {
				return err
			}
			return withStore(cmd, &sf, func(ctx context.Context, st store.Store) error {
				ks, err := st.ListAPIKeys(ctx, tenant)
				if err != nil {
					return fmt.Errorf("listing keys of tenant %s: %w", tenant, err)
				}
				if listOut == "json" {
					return printJSON(cmd.OutOrStdout(), ks)
				}
				now := time.Now()
				w := table(cmd.OutOrStdout())
				fmt.Fprintln(w, "ID\tNAME\tPREFIX\tADMIN\tEXPIRES\tSTATE")
				for _, k := range ks {
					fmt.Fprintf(w, "%s\t%s\t%s\t%t\t%s\t%s\n", k.ID, clip(k.Name, 14), clip(k.Prefix, 11), k.Admin,
						expiresColumn(k.ExpiresAt), keyState(k.RevokedAt, k.ExpiresAt, now))
				}
				return w.Flush()
			})
		},
	}
	outputFlag(list, &listOut)
	revoke := &cobra.Command{
		Use:   "revoke KEY_ID",
		Short: "Revoke an API key (a running hub may honour it for up to 30 s more); the tenant's last live admin key is kept",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd, &sf, func(ctx context.Context, st store.Store) error {
				if err := st.RevokeAPIKey(ctx, tenant, args[0]); err != nil {
					return fmt.Errorf("revoking key %s: %w", args[0], err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "revoked %s\n", args[0])
				return nil
			})
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

// keyValues parses repeated k=v flags.
func keyValues(flag string, pairs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--%s %q: want name=value", flag, strings.SplitN(p, "=", 2)[0])
		}
		out[k] = v
	}
	return out, nil
}

func accountsCmd() *cobra.Command {
	var (
		sf     storeFlags
		tenant string
	)
	cmd := &cobra.Command{
		Use:   "accounts",
		Short: "Manage a tenant's connector accounts directly in the store",
	}
	sf.register(cmd)
	cmd.PersistentFlags().StringVar(&tenant, "tenant", "", "the tenant's id (required)")
	_ = cmd.MarkPersistentFlagRequired("tenant")
	var (
		in            api.AccountInput
		creds, sets   []string
		credsFile     string
		connectorsDir string
		createOutput  string
	)
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an account: a tenant's credentials and settings for one connector",
		Long: `Create an account. Credentials are sealed in the store and never printed. For a
built-in connector the names are checked against its manifest (see GET
/v1/connectors); pass secrets with --credentials-file rather than on the command line
where shell history keeps them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(createOutput); err != nil {
				return err
			}
			var err error
			if in.Credentials, err = keyValues("credential", creds); err != nil {
				return err
			}
			if in.Settings, err = keyValues("setting", sets); err != nil {
				return err
			}
			if credsFile != "" {
				data, err := os.ReadFile(credsFile)
				if err != nil {
					return fmt.Errorf("reading credentials file: %w", err)
				}
				var fromFile map[string]string
				if err := json.Unmarshal(data, &fromFile); err != nil {
					return fmt.Errorf("credentials file %s: want a JSON object of strings: %w", credsFile, err)
				}
				for k, v := range fromFile {
					in.Credentials[k] = v
				}
			}
			if m, ok := findManifest(in.ConnectorID, connectorsDir); ok {
				// The egress allow-list hub serve runs with: HUB_CONFIG's file and the environment.
				cfg, err := config.Load(os.Getenv("HUB_CONFIG"), os.Environ())
				if err != nil {
					return err
				}
				if errs := api.ValidateAccount(m, in, cfg.Egress.Policy()); len(errs) > 0 {
					return accountErrors(errs)
				}
			} else {
				fmt.Fprintf(cmd.ErrOrStderr(), "hub: %s is neither a built-in connector nor a folder of --connectors-dir; its credential and setting names are not checked here\n", in.ConnectorID)
			}
			return withStore(cmd, &sf, func(ctx context.Context, st store.Store) error {
				a, err := st.CreateAccount(ctx, store.Account{
					TenantID: tenant, ConnectorID: in.ConnectorID, Name: in.Name, Environment: in.Environment,
					BaseURL: in.BaseURL, Credentials: in.Credentials, Settings: in.Settings,
				})
				if err != nil {
					return fmt.Errorf("creating account %q: %w", in.Name, err)
				}
				if createOutput == "json" {
					a.Credentials = nil // never printed
					return printJSON(cmd.OutOrStdout(), a)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "account %s (%s, %s, %s)\n", a.ID, a.Name, a.ConnectorID, a.Environment)
				return nil
			})
		},
	}
	f := create.Flags()
	f.StringVar(&in.ConnectorID, "connector", "", "the connector's id (required)")
	f.StringVar(&in.Name, "name", "", "a name telling the tenant's accounts apart (required)")
	f.StringVar(&in.Environment, "environment", "", "sandbox or production (required)")
	f.StringVar(&in.BaseURL, "base-url", "", "override the connector's URL for the environment (simulators, proxies)")
	f.StringArrayVar(&creds, "credential", nil, "a credential as name=value (repeatable)")
	f.StringVar(&credsFile, "credentials-file", "", "a JSON object of credentials, merged over --credential")
	f.StringArrayVar(&sets, "setting", nil, "a setting as name=value (repeatable)")
	f.StringVar(&connectorsDir, "connectors-dir", "", "the hub's directory of connector folders, to check a third-party connector's fields (env HUB_CONNECTORS_DIR)")
	outputFlag(create, &createOutput)
	for _, name := range []string{"connector", "name", "environment"} {
		_ = create.MarkFlagRequired(name)
	}
	var output string
	list := &cobra.Command{
		Use:   "list",
		Short: "List a tenant's accounts (without credentials)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			return withStore(cmd, &sf, func(ctx context.Context, st store.Store) error {
				as, err := st.ListAccounts(ctx, tenant, "")
				if err != nil {
					return fmt.Errorf("listing accounts of tenant %s: %w", tenant, err)
				}
				if output == "json" {
					if as == nil {
						as = []store.Account{}
					}
					return printJSON(cmd.OutOrStdout(), as)
				}
				w := table(cmd.OutOrStdout())
				fmt.Fprintln(w, "ID\tNAME\tCONNECTOR\tENV")
				for _, a := range as {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", a.ID, clip(a.Name, 14), clip(a.ConnectorID, 18), a.Environment)
				}
				return w.Flush()
			})
		},
	}
	outputFlag(list, &output)
	cmd.AddCommand(create, list)
	return cmd
}

func accountErrors(errs []router.FieldError) error {
	var b strings.Builder
	b.WriteString("the account is invalid:")
	for _, e := range errs {
		b.WriteString("\n  " + flagFor(e.Pointer) + ": " + e.Message)
	}
	return &exitError{code: 1, msg: b.String()}
}

// flagFor names the CLI flag behind an AccountInput pointer.
func flagFor(pointer string) string {
	unescape := strings.NewReplacer("~1", "/", "~0", "~").Replace
	switch {
	case strings.HasPrefix(pointer, "/credentials/"):
		return "--credential " + unescape(strings.TrimPrefix(pointer, "/credentials/"))
	case strings.HasPrefix(pointer, "/settings/"):
		return "--setting " + unescape(strings.TrimPrefix(pointer, "/settings/"))
	case pointer == "/connector_id":
		return "--connector"
	case pointer == "/base_url":
		return "--base-url"
	}
	return "--" + strings.TrimPrefix(pointer, "/")
}
