package sdk_test

import (
	"strings"
	"testing"
	"time"

	"github.com/carrierhub/hub/sdk"
)

// pushManifest is a valid receive_push manifest with in as its inbound
// authentication and the credentials token, secret, user and password.
func pushManifest(in *sdk.InboundAuth) *sdk.Manifest {
	return &sdk.Manifest{
		ID: "pushy", Name: "Pushy", Version: "0.1.0", Category: "carrier_parcel", Docs: "https://example.test/pushy",
		Operations: []sdk.OperationInfo{{Name: sdk.OpReceivePush, Idempotent: true}},
		Account: sdk.AccountSchema{
			Credentials:  []sdk.Field{{Name: "token"}, {Name: "secret"}, {Name: "user"}, {Name: "password"}},
			Environments: map[string]string{"production": "https://pushy.test"},
		},
		Inbound: in,
	}
}

// TestManifestInbound: a connector that serves receive_push must declare
// how its pushes authenticate, completely and with declared credentials.
func TestManifestInbound(t *testing.T) {
	valid := map[string]*sdk.InboundAuth{
		"token in a header":       {Type: "token", Credential: "token", Header: "Authorization", Schemes: []string{"Bearer", "Token"}},
		"token in the query":      {Type: "token", Credential: "token", Query: "token"},
		"token in either":         {Type: "token", Credential: "token", Header: "X-Token", Query: "token"},
		"hmac, defaults":          {Type: "hmac", Credential: "secret", Header: "X-Signature", TimestampHeader: "X-Timestamp"},
		"hmac of the body alone":  {Type: "hmac", Credential: "secret", Header: "X-DV-Signature", Message: "{body}"},
		"hmac, standard webhooks": {Type: "hmac", Credential: "secret", Header: "Webhook-Signature", Prefix: "v1,", TimestampHeader: "Webhook-Timestamp", Algorithm: "sha256", Encoding: "base64", Message: "{header.webhook-id}.{timestamp}.{body}", Window: sdk.Duration(time.Hour)},
		"basic":                   {Type: "basic", Username: "user", Password: "password"},
	}
	for name, in := range valid {
		if err := pushManifest(in).Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	invalid := map[string]struct {
		in   *sdk.InboundAuth
		want string
	}{
		"none":                     {nil, "inbound: required"},
		"unknown type":             {&sdk.InboundAuth{Type: "magic"}, "inbound.type"},
		"token without credential": {&sdk.InboundAuth{Type: "token", Header: "X-Token"}, "inbound.credential: required"},
		"undeclared credential":    {&sdk.InboundAuth{Type: "token", Credential: "push_token", Header: "X-Token"}, `"push_token" is not one of account.credentials`},
		"token going nowhere":      {&sdk.InboundAuth{Type: "token", Credential: "token"}, "header, query or both"},
		"schemes without header":   {&sdk.InboundAuth{Type: "token", Credential: "token", Query: "t", Schemes: []string{"Bearer"}}, "inbound.schemes"},
		"scheme with a space":      {&sdk.InboundAuth{Type: "token", Credential: "token", Header: "A", Schemes: []string{"Bearer "}}, "inbound.schemes[0]"},
		"token with hmac fields":   {&sdk.InboundAuth{Type: "token", Credential: "token", Header: "A", TimestampHeader: "T"}, "inbound.timestamp_header: not used by type token"},
		"hmac without header":      {&sdk.InboundAuth{Type: "hmac", Credential: "secret", TimestampHeader: "T"}, "inbound.header"},
		"hmac without timestamp":   {&sdk.InboundAuth{Type: "hmac", Credential: "secret", Header: "S"}, "inbound.timestamp_header"},
		"hmac sha1":                {&sdk.InboundAuth{Type: "hmac", Credential: "secret", Header: "S", TimestampHeader: "T", Algorithm: "sha1"}, "inbound.algorithm"},
		"hmac base32":              {&sdk.InboundAuth{Type: "hmac", Credential: "secret", Header: "S", TimestampHeader: "T", Encoding: "base32"}, "inbound.encoding"},
		"hmac body unsigned":       {&sdk.InboundAuth{Type: "hmac", Credential: "secret", Header: "S", TimestampHeader: "T", Message: "{timestamp}"}, "must sign {body}"},
		"hmac no time, a window":   {&sdk.InboundAuth{Type: "hmac", Credential: "secret", Header: "S", Message: "{body}", Window: sdk.Duration(time.Minute)}, "inbound.timestamp_header"},
		"hmac timestamp unsigned":  {&sdk.InboundAuth{Type: "hmac", Credential: "secret", Header: "S", TimestampHeader: "T", Message: "{body}"}, "and {timestamp} when there is a timestamp_header"},
		"hmac unknown placeholder": {&sdk.InboundAuth{Type: "hmac", Credential: "secret", Header: "S", TimestampHeader: "T", Message: "{credential.secret}{timestamp}{body}"}, "only {timestamp}, {body} and {header.NAME}"},
		"hmac window too long":     {&sdk.InboundAuth{Type: "hmac", Credential: "secret", Header: "S", TimestampHeader: "T", Window: sdk.Duration(2 * time.Hour)}, "inbound.window"},
		"hmac prefix with a space": {&sdk.InboundAuth{Type: "hmac", Credential: "secret", Header: "S", TimestampHeader: "T", Prefix: "v1 "}, "inbound.prefix"},
		"basic without password":   {&sdk.InboundAuth{Type: "basic", Username: "user"}, "inbound.password: required"},
		"basic with a token":       {&sdk.InboundAuth{Type: "basic", Username: "user", Password: "password", Credential: "token"}, "inbound.credential: not used by type basic"},
	}
	for name, c := range invalid {
		err := pushManifest(c.in).Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", name, err, c.want)
		}
	}
	// Inbound authentication without pushes is a mistake too.
	m := pushManifest(valid["basic"])
	m.Operations = []sdk.OperationInfo{{Name: sdk.OpTrack, Idempotent: true}}
	if err := m.Validate(); err == nil || !strings.Contains(err.Error(), "does not serve receive_push") {
		t.Errorf("inbound without receive_push: %v", err)
	}
}

// TestInboundExpandMessage: the signed message is the layout with the
// timestamp, the raw body and named headers in place.
func TestInboundExpandMessage(t *testing.T) {
	in := &sdk.InboundAuth{Message: "{header.webhook-id}.{timestamp}.{body}"}
	got := in.ExpandMessage("1700000000", []byte(`{"a":"{timestamp}"}`), func(name string) string {
		if name == "webhook-id" {
			return "msg_1"
		}
		return ""
	})
	if want := `msg_1.1700000000.{"a":"{timestamp}"}`; string(got) != want {
		t.Errorf("message %q, want %q", got, want)
	}
	if got := (&sdk.InboundAuth{}).ExpandMessage("5", []byte("b"), nil); string(got) != "5.b" {
		t.Errorf("default layout: %q", got)
	}
}
