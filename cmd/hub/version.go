package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is the hub's release, set at build time with
// -ldflags "-X main.version=v1.2.3"; otherwise the module version is used.
var version = ""

// buildVersion returns the hub's version, VCS commit and Go version.
func buildVersion() (ver, commit, goVersion string) {
	ver, commit, goVersion = version, "unknown", "unknown"
	if info, ok := debug.ReadBuildInfo(); ok {
		goVersion = info.GoVersion
		if ver == "" {
			ver = info.Main.Version
		}
		modified := false
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified && commit != "unknown" {
			commit += "-dirty"
		}
	}
	if ver == "" {
		ver = "(devel)"
	}
	return ver, commit, goVersion
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the hub's version, commit and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v, c, g := buildVersion()
			fmt.Fprintf(cmd.OutOrStdout(), "hub %s\ncommit %s\n%s\n", v, c, g)
			return nil
		},
	}
}
