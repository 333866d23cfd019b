package sdk

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// InboundAuth is how a provider's pushes to the hub's inbound route
// (POST /v1/inbound/{connector}/{account}) prove they come from the provider.
// Every connector that serves receive_push declares one in its manifest's
// inbound section. The engine checks it against the account's credentials,
// in constant time, before the connector sees the push; a push to an account
// that holds no inbound credential is refused. Files fetched from an
// account's SFTP inbox are authenticated by the SFTP login instead and are
// not checked against it.
//
// Three types:
//
//	token   a shared token the provider sends in a header (Header, optionally
//	        after one of Schemes) or a query parameter (Query); Credential names
//	        the account credential holding it.
//	hmac    a signature of the body: HMAC-SHA256 (Algorithm) keyed with the
//	        Credential, over Message built from the body and the Unix time in
//	        TimestampHeader, in Header (after Prefix), Encoding hex or base64;
//	        a timestamp further than Window from the hub's clock is refused.
//	basic   HTTP basic authentication with the account credentials Username
//	        and Password name.
type InboundAuth struct {
	// Type is token, hmac or basic.
	Type string `yaml:"type" json:"type" jsonschema:"enum=token,enum=hmac,enum=basic"`
	// Credential names the account credential holding the shared token
	// (token) or the signing key (hmac), as its raw bytes.
	Credential string `yaml:"credential,omitempty" json:"credential,omitempty"`
	// Header is the request header holding the token (token) or the
	// signature (hmac), by name (case-insensitive).
	Header string `yaml:"header,omitempty" json:"header,omitempty"`
	// Schemes are authorization schemes the token may follow in Header,
	// compared case-insensitively ("Bearer", "Token"); a header value that
	// starts with none of them is taken as the bare token.
	Schemes []string `yaml:"schemes,omitempty" json:"schemes,omitempty"`
	// Query is the query parameter holding the token (token), when the
	// provider cannot add a header; with Header too, either is accepted.
	Query string `yaml:"query,omitempty" json:"query,omitempty"`
	// Prefix goes before each signature in Header (hmac): "sha256=", "v1,".
	// The header may carry several signatures separated by spaces (a provider
	// rotating its key); one that verifies is enough.
	Prefix string `yaml:"prefix,omitempty" json:"prefix,omitempty"`
	// TimestampHeader is the header holding the time of the push in Unix
	// seconds (hmac); Message must sign it. A provider that signs the body
	// alone (Borzo, Xpressbees) has none: its Message is "{body}", and a
	// recorded push can be replayed, which the hub's idempotent recording of
	// tracking events absorbs.
	TimestampHeader string `yaml:"timestamp_header,omitempty" json:"timestamp_header,omitempty"`
	// Algorithm is the HMAC's hash (hmac): sha256, the default.
	Algorithm string `yaml:"algorithm,omitempty" json:"algorithm,omitempty" jsonschema:"enum=sha256"`
	// Encoding is how the signature is written (hmac): hex (the default) or
	// base64 (standard, padded).
	Encoding string `yaml:"encoding,omitempty" json:"encoding,omitempty" jsonschema:"enum=hex,enum=base64"`
	// Message is the signed message's layout (hmac): {timestamp} is the
	// TimestampHeader's value, {body} the raw body, {header.NAME} another
	// header's value (the Standard Webhooks layout is
	// "{header.webhook-id}.{timestamp}.{body}"); "{timestamp}.{body}" when
	// empty. It must contain {body}, and {timestamp} when TimestampHeader is set.
	Message string `yaml:"message,omitempty" json:"message,omitempty"`
	// Window is how far the push's timestamp may be from the hub's clock,
	// either way (hmac), so that a recorded push cannot be replayed later;
	// 5m when zero, at most 1h.
	Window Duration `yaml:"window,omitempty" json:"window,omitempty"`
	// Username names the account credential a basic push's user name must
	// equal (basic).
	Username string `yaml:"username,omitempty" json:"username,omitempty"`
	// Password names the account credential a basic push's password must
	// equal (basic).
	Password string `yaml:"password,omitempty" json:"password,omitempty"`
}

// Inbound authentication types.
const (
	InboundToken = "token"
	InboundHMAC  = "hmac"
	InboundBasic = "basic"
)

// Defaults and limits of an hmac inbound authentication.
const (
	DefaultInboundWindow  = 5 * time.Minute
	MaxInboundWindow      = time.Hour
	DefaultInboundMessage = "{timestamp}.{body}"
)

// inboundPlaceholderRE finds the placeholders of an hmac message layout.
var inboundPlaceholderRE = regexp.MustCompile(`\{(timestamp|body|header\.[A-Za-z0-9!#$%&'*+.^_` + "`" + `|~-]+)\}`)

// MessageLayout returns Message, or DefaultInboundMessage when it is empty.
func (a *InboundAuth) MessageLayout() string {
	if a.Message == "" {
		return DefaultInboundMessage
	}
	return a.Message
}

// WindowOrDefault returns Window, or DefaultInboundWindow when it is zero.
func (a *InboundAuth) WindowOrDefault() time.Duration {
	if a.Window <= 0 {
		return DefaultInboundWindow
	}
	return time.Duration(a.Window)
}

// Credentials returns the names of the account credentials the check reads.
func (a *InboundAuth) Credentials() []string {
	if a.Type == InboundBasic {
		return []string{a.Username, a.Password}
	}
	return []string{a.Credential}
}

// ExpandMessage builds an hmac's signed message from its layout: header
// returns a request header's value by name.
func (a *InboundAuth) ExpandMessage(timestamp string, body []byte, header func(name string) string) []byte {
	layout := a.MessageLayout()
	out := make([]byte, 0, len(layout)+len(body)+len(timestamp))
	last := 0
	for _, m := range inboundPlaceholderRE.FindAllStringSubmatchIndex(layout, -1) {
		out = append(out, layout[last:m[0]]...)
		switch name := layout[m[2]:m[3]]; name {
		case "timestamp":
			out = append(out, timestamp...)
		case "body":
			out = append(out, body...)
		default:
			out = append(out, header(strings.TrimPrefix(name, "header."))...)
		}
		last = m[1]
	}
	return append(out, layout[last:]...)
}

// validateInbound checks the manifest's inbound section: present exactly when
// the connector serves receive_push, complete for its type, naming declared
// account credentials.
func (m *Manifest) validateInbound() error {
	_, push := m.Operation(OpReceivePush)
	a := m.Inbound
	switch {
	case push && a == nil:
		return fmt.Errorf("inbound: required, since the connector serves receive_push: declare how the provider's pushes authenticate (type token, hmac or basic), so the hub can refuse others before the connector sees them")
	case a == nil:
		return nil
	case !push:
		return fmt.Errorf("inbound: declared, but the connector does not serve receive_push")
	}
	declared := func(field, name string) error {
		if name == "" {
			return fmt.Errorf("inbound.%s: required for %s (the name of an account credential)", field, a.Type)
		}
		if !slices.ContainsFunc(m.Account.Credentials, func(f Field) bool { return f.Name == name }) {
			return fmt.Errorf("inbound.%s: %q is not one of account.credentials", field, name)
		}
		return nil
	}
	unused := func(fields map[string]bool) error {
		for _, f := range []struct {
			key string
			set bool
		}{
			{"credential", a.Credential != ""}, {"header", a.Header != ""}, {"schemes", len(a.Schemes) > 0},
			{"query", a.Query != ""}, {"prefix", a.Prefix != ""}, {"timestamp_header", a.TimestampHeader != ""},
			{"algorithm", a.Algorithm != ""}, {"encoding", a.Encoding != ""}, {"message", a.Message != ""},
			{"window", a.Window != 0}, {"username", a.Username != ""}, {"password", a.Password != ""},
		} {
			if f.set && !fields[f.key] {
				return fmt.Errorf("inbound.%s: not used by type %s", f.key, a.Type)
			}
		}
		return nil
	}
	switch a.Type {
	case InboundToken:
		if err := unused(map[string]bool{"credential": true, "header": true, "schemes": true, "query": true}); err != nil {
			return err
		}
		if err := declared("credential", a.Credential); err != nil {
			return err
		}
		if a.Header == "" && a.Query == "" {
			return fmt.Errorf("inbound: a token travels in a header or a query parameter: set header, query or both")
		}
		if len(a.Schemes) > 0 && a.Header == "" {
			return fmt.Errorf("inbound.schemes: only with header")
		}
		for i, s := range a.Schemes {
			if s == "" || strings.ContainsAny(s, " \t") {
				return fmt.Errorf("inbound.schemes[%d]: %q is not an authorization scheme (one word, no space)", i, s)
			}
		}
	case InboundHMAC:
		if err := unused(map[string]bool{"credential": true, "header": true, "prefix": true, "timestamp_header": true,
			"algorithm": true, "encoding": true, "message": true, "window": true}); err != nil {
			return err
		}
		if err := declared("credential", a.Credential); err != nil {
			return err
		}
		if a.Header == "" {
			return fmt.Errorf("inbound.header: required for hmac (the header holding the signature)")
		}
		if a.TimestampHeader == "" && (a.Message == "" || strings.Contains(a.Message, "{timestamp}") || a.Window != 0) {
			return fmt.Errorf("inbound.timestamp_header: required for hmac (the header holding the push's Unix time, which the signature covers), " +
				"unless the provider signs no time: then write the message without {timestamp} (message: \"{body}\") and no window")
		}
		if a.Algorithm != "" && a.Algorithm != "sha256" {
			return fmt.Errorf("inbound.algorithm: %q is not sha256", a.Algorithm)
		}
		if a.Encoding != "" && a.Encoding != "hex" && a.Encoding != "base64" {
			return fmt.Errorf("inbound.encoding: %q is not hex or base64", a.Encoding)
		}
		if strings.Contains(a.Prefix, " ") {
			return fmt.Errorf("inbound.prefix: must not contain a space (signatures are separated by spaces)")
		}
		layout := a.MessageLayout()
		if rest := inboundPlaceholderRE.ReplaceAllString(layout, ""); strings.ContainsAny(rest, "{}") {
			return fmt.Errorf("inbound.message: %q: only {timestamp}, {body} and {header.NAME} may be used", layout)
		}
		if !strings.Contains(layout, "{body}") || a.TimestampHeader != "" && !strings.Contains(layout, "{timestamp}") {
			return fmt.Errorf("inbound.message: %q must sign {body}, and {timestamp} when there is a timestamp_header", layout)
		}
		if a.Window < 0 || time.Duration(a.Window) > MaxInboundWindow {
			return fmt.Errorf("inbound.window: must be between 0s (the default, %s) and %s", DefaultInboundWindow, MaxInboundWindow)
		}
	case InboundBasic:
		if err := unused(map[string]bool{"username": true, "password": true}); err != nil {
			return err
		}
		if err := declared("username", a.Username); err != nil {
			return err
		}
		if err := declared("password", a.Password); err != nil {
			return err
		}
	default:
		return fmt.Errorf("inbound.type: %q is not token, hmac or basic", a.Type)
	}
	return nil
}
