package api

import (
	"strings"
	"testing"
)

// TestValidateAccountInboxSettings checks the hub's SFTP inbox settings are
// accepted on accounts of connectors that take pushes, checked as the inbox reads
// them, and refused on connectors that do not.
func TestValidateAccountInboxSettings(t *testing.T) {
	inbox := map[string]string{"sftp_inbox": "/in", "sftp_host": "sftp.carrier.test", "sftp_user": "acme",
		"sftp_known_hosts": "sftp.carrier.test ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG1hZGUtdXAta2V5LWZvci10ZXN0cy1vbmx5"}
	creds := func(extra ...string) map[string]string {
		m := map[string]string{"push_token": "t"}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i]] = extra[i+1]
		}
		return m
	}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for key, val := range inbox {
			m[key] = val
		}
		m[k] = v
		return m
	}
	for _, tc := range []struct {
		name     string
		in       AccountInput
		pointers []string
	}{
		{"inbox with a password", AccountInput{Settings: inbox, Credentials: creds("sftp_password", "pw")}, nil},
		{"inbox without credentials", AccountInput{Settings: inbox, Credentials: creds()}, []string{"/credentials"}},
		{"bad port", AccountInput{Settings: with("sftp_port", "99999"), Credentials: creds("sftp_password", "pw")}, []string{"/settings/sftp_port"}},
		{"no known_hosts", AccountInput{Settings: with("sftp_known_hosts", " "), Credentials: creds("sftp_password", "pw")}, []string{"/settings/sftp_known_hosts"}},
		{"no inbox at all", AccountInput{Credentials: creds()}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Name, tc.in.Environment, tc.in.ConnectorID = "files", "sandbox", "pushy"
			got := ValidateAccount(pushyManifest, tc.in, nil)
			var pointers []string
			for _, e := range got {
				pointers = append(pointers, e.Pointer)
				if strings.Contains(e.Message, "pw") {
					t.Errorf("a credential's value reached the message: %q", e.Message)
				}
			}
			if strings.Join(pointers, ",") != strings.Join(tc.pointers, ",") {
				t.Errorf("errors at %v, want %v (%+v)", pointers, tc.pointers, got)
			}
		})
	}
	// A connector that takes no pushes has no inbox: the settings are unknown to it.
	in := AccountInput{ConnectorID: "acme", Name: "a", Environment: "sandbox", Settings: with("client_name", "x"),
		Credentials: map[string]string{"api_token": "t"}}
	if errs := ValidateAccount(acmeManifest, in, nil); len(errs) != len(inbox) {
		t.Errorf("acme account with inbox settings: %d errors, want %d (one per setting): %+v", len(errs), len(inbox), errs)
	}
}
