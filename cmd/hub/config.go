package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/carrierhub/hub/engine/config"
)

func configCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check configuration files and list every setting",
		Long: `The hub reads one YAML file (hub serve --config FILE, or HUB_CONFIG), overridden by
HUB_* environment variables, overridden by flags. With no file, the defaults run the
embedded single-node hub.

  hub config validate hub.yaml     check a file: unknown keys and bad values, with lines
  hub config show [--config FILE]  the effective settings (secrets redacted)
  hub config reference             every setting, its default and environment variable`,
	}
	cmd.AddCommand(configValidateCmd(), configShowCmd(), configReferenceCmd())
	return cmd
}

func configValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a configuration file; exit 1 naming file:line of the first problem",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := config.Load(args[0], nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", args[0])
			return nil
		},
	}
}

func configShowCmd() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Print the effective settings as YAML (defaults, file, environment), secrets redacted",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(file, os.Environ())
			if err != nil {
				return err
			}
			return writeYAML(cmd.OutOrStdout(), cfg.Redacted())
		},
	}
	cmd.Flags().StringVar(&file, "config", os.Getenv("HUB_CONFIG"), "YAML configuration file (env HUB_CONFIG)")
	return cmd
}

func configReferenceCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "reference",
		Short: "Print the reference of every setting (Markdown)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := io.WriteString(cmd.OutOrStdout(), config.Reference())
			return err
		},
	}
}

func writeYAML(w io.Writer, v any) error {
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return err
	}
	return enc.Close()
}
