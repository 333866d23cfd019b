package nicsim

import (
	"io/fs"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/exchanges"
	"github.com/carrierhub/hub/sdk/transport/nic"
)

// Fixture is a Server set up for one NIC connector's tests and for hub
// connector test: one API user, the connector's base URL on the server, and a
// Replayer over the connector's recorded exchanges (Select, Unmatched).
type Fixture struct {
	*Replayer
	sim  *Server
	user User
	base string
}

// NewFixture starts a Server with opts and user, whose connector's base URL
// is the server's URL plus base (EWBBase, or "" for the IRP host), replaying
// files' recorded exchanges read by replies. Close it when done.
func NewFixture(opts Options, user User, base string, files fs.FS, replies func(*exchanges.File) ([]Reply, error)) (*Fixture, error) {
	sim, err := New(opts)
	if err != nil {
		return nil, err
	}
	sim.AddUser(user)
	return &Fixture{Replayer: &Replayer{Server: sim, Files: files, Replies: replies}, sim: sim, user: user, base: base}, nil
}

// URL is the connector's base URL on the simulator.
func (f *Fixture) URL() string { return f.sim.URL + f.base }

// Close stops the simulator.
func (f *Fixture) Close() { f.sim.Close() }

// Server is the underlying NIC session simulator.
func (f *Fixture) Server() *Server { return f.sim }

// Account returns the credentials and settings of the simulator's API user,
// with the simulator's public key as the public_key setting.
func (f *Fixture) Account() (credentials, settings map[string]string) {
	u := f.user
	return map[string]string{
			nic.CredClientID: u.ClientID, nic.CredClientSecret: u.ClientSecret,
			nic.CredUsername: u.Username, nic.CredPassword: u.Password,
		}, map[string]string{
			nic.SettingGSTIN: u.GSTIN, nic.SettingPublicKey: string(f.sim.PublicKeyPEM()),
		}
}

// SDKAccount is Account as an *sdk.Account for the sandbox environment.
func (f *Fixture) SDKAccount() *sdk.Account {
	creds, settings := f.Account()
	return &sdk.Account{ID: "acc_nic_sim", TenantID: "ten_nic_sim", Environment: "sandbox", BaseURL: f.URL(),
		Credentials: creds, Settings: settings}
}
