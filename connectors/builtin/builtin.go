// Package builtin lists the connectors compiled into the hub binary. They still
// run out of process: the hub re-executes itself with a hidden subcommand that
// serves one of them (see cmd/hub's connector-process).
package builtin

import (
	"github.com/carrierhub/hub/connectors/bluedart"
	"github.com/carrierhub/hub/connectors/delhivery"
	"github.com/carrierhub/hub/connectors/statusfile"
	"github.com/carrierhub/hub/sdk"
)

// factories builds each built-in connector by id.
var factories = []func() sdk.Connector{
	delhivery.New,
	bluedart.New,
	statusfile.New,
}

// All returns a fresh instance of every built-in connector.
func All() []sdk.Connector {
	out := make([]sdk.Connector, 0, len(factories))
	for _, f := range factories {
		out = append(out, f())
	}
	return out
}

// Lookup returns a fresh instance of the built-in connector with this id.
func Lookup(id string) (sdk.Connector, bool) {
	for _, f := range factories {
		c := f()
		if c.Describe().ID == id {
			return c, true
		}
	}
	return nil, false
}
