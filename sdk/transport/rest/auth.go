package rest

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/carrierhub/hub/sdk"
)

// Auth puts credentials on a request. Apply is called once per send, from the
// calling goroutine, after the Client has set every other header and the body;
// it may block (to fetch a token) and must honour ctx. An error means the request
// is not sent; the Client marks it NotSent. Implementations are safe for
// concurrent use and never put secrets in errors.
type Auth interface {
	Apply(ctx context.Context, req *http.Request) error
}

// Renewer is an Auth whose credential can go stale before its stated expiry (a
// token the provider revoked). After a 401 the Client calls Renew with the request
// as it was sent; Renew discards the credential that request carried and reports
// whether a second attempt may succeed. The Client then sends the request once
// more, never twice.
type Renewer interface {
	Auth
	Renew(sent *http.Request) bool
}

// AuthFunc adapts a function to Auth.
type AuthFunc func(ctx context.Context, req *http.Request) error

// Apply calls f.
func (f AuthFunc) Apply(ctx context.Context, req *http.Request) error { return f(ctx, req) }

// Chain applies several Auths in order (an API key, then a signature over the
// finished request, say) and renews those that can be renewed.
type Chain []Auth

// Apply applies each member in order, stopping at the first error.
func (c Chain) Apply(ctx context.Context, req *http.Request) error {
	for _, a := range c {
		if a == nil {
			continue
		}
		if err := a.Apply(ctx, req); err != nil {
			return err
		}
	}
	return nil
}

// Renew renews every member that is a Renewer and reports whether any could.
func (c Chain) Renew(sent *http.Request) bool {
	renewed := false
	for _, a := range c {
		if r, ok := a.(Renewer); ok && r.Renew(sent) {
			renewed = true
		}
	}
	return renewed
}

var (
	_ Renewer = Chain(nil)
	_ Auth    = AuthFunc(nil)
	_ Auth    = APIKey{}
	_ Auth    = Basic{}
	_ Auth    = (*HMAC)(nil)
)

// APIKey sends a static key in a header (with an optional prefix such as
// "Token ") or, when Query is set, as a query parameter. String, GoString and
// LogValue redact the key.
type APIKey struct {
	// Key is the secret.
	Key string
	// Header is the header to carry it (default Authorization, unless Query is set).
	Header string
	// Prefix goes before the key in the header, e.g. "Token " or "Bearer ".
	Prefix string
	// Query names a query parameter to carry the key instead of a header.
	Query string
}

// Apply sets the header or query parameter.
func (a APIKey) Apply(_ context.Context, req *http.Request) error {
	if a.Key == "" {
		return missing("API key")
	}
	if a.Query != "" {
		q := req.URL.Query()
		q.Set(a.Query, a.Key)
		req.URL.RawQuery = q.Encode()
		if a.Header == "" {
			return nil
		}
	}
	h := a.Header
	if h == "" {
		h = "Authorization"
	}
	req.Header.Set(h, a.Prefix+a.Key)
	return nil
}

// String describes the key's placement without the key.
func (a APIKey) String() string {
	if a.Query != "" {
		return fmt.Sprintf("rest.APIKey{query %s, key redacted}", a.Query)
	}
	return fmt.Sprintf("rest.APIKey{header %s, key redacted}", a.Header)
}

// GoString redacts like String.
func (a APIKey) GoString() string { return a.String() }

// LogValue redacts the key in slog output.
func (a APIKey) LogValue() slog.Value { return slog.StringValue(a.String()) }

// Basic sends HTTP basic credentials (RFC 7617). String, GoString and LogValue
// redact the password.
type Basic struct {
	// Username is the user or client id.
	Username string
	// Password is the secret.
	Password string
}

// Apply sets the Authorization header.
func (b Basic) Apply(_ context.Context, req *http.Request) error {
	if b.Username == "" && b.Password == "" {
		return missing("basic-auth username and password")
	}
	req.SetBasicAuth(b.Username, b.Password)
	return nil
}

// String names the user without the password.
func (b Basic) String() string { return fmt.Sprintf("rest.Basic{%s, password redacted}", b.Username) }

// GoString redacts like String.
func (b Basic) GoString() string { return b.String() }

// LogValue redacts the password in slog output.
func (b Basic) LogValue() slog.Value { return slog.StringValue(b.String()) }

func missing(what string) error {
	return &sdk.Error{Code: sdk.CodeAuthFailed, Source: sdk.SourceConnector, NotSent: true,
		Message: "rest: the account has no " + what}
}

// HMAC signs each request with HMAC-SHA256 over a canonical string. It sets the
// timestamp header, then the signature header to Prefix followed by the
// signature. Put it last in a Chain so it signs the finished request. String,
// GoString and LogValue redact the secret.
type HMAC struct {
	// Secret is the signing key.
	Secret []byte
	// Header carries the signature (default X-Signature).
	Header string
	// Prefix goes before the signature, e.g. "HMAC-SHA256 keyId=abc, signature=".
	Prefix string
	// TimestampHeader carries the signing time in Unix seconds (default
	// X-Timestamp); "-" sends no timestamp header.
	TimestampHeader string
	// Canonical builds the string to sign (default CanonicalRequest).
	Canonical func(req *http.Request, body []byte, ts time.Time) string
	// Base64 encodes the signature in standard Base64 instead of lowercase hex.
	Base64 bool
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// CanonicalRequest is the ready-made string to sign:
//
//	METHOD \n path \n sorted query \n unix-seconds \n hex(sha256(body))
//
// The path is the escaped path; the query is re-encoded with keys sorted.
func CanonicalRequest(req *http.Request, body []byte, ts time.Time) string {
	sum := sha256.Sum256(body)
	return strings.Join([]string{
		req.Method, req.URL.EscapedPath(), req.URL.Query().Encode(),
		strconv.FormatInt(ts.Unix(), 10), hex.EncodeToString(sum[:]),
	}, "\n")
}

// Sign returns the signature of msg under secret, hex or Base64 encoded.
func Sign(secret []byte, msg string, b64 bool) string {
	m := hmac.New(sha256.New, secret)
	io.WriteString(m, msg)
	if b64 {
		return base64.StdEncoding.EncodeToString(m.Sum(nil))
	}
	return hex.EncodeToString(m.Sum(nil))
}

// Apply signs req.
func (h *HMAC) Apply(_ context.Context, req *http.Request) error {
	if len(h.Secret) == 0 {
		return missing("signing secret")
	}
	var body []byte
	if req.GetBody != nil {
		rc, err := req.GetBody()
		if err != nil {
			return &sdk.Error{Code: sdk.CodeInternal, Source: sdk.SourceConnector, Message: "rest: reading the body to sign: " + err.Error()}
		}
		body, err = io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return &sdk.Error{Code: sdk.CodeInternal, Source: sdk.SourceConnector, Message: "rest: reading the body to sign: " + err.Error()}
		}
	}
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	ts := now()
	tsHeader := h.TimestampHeader
	if tsHeader == "" {
		tsHeader = "X-Timestamp"
	}
	if tsHeader != "-" {
		req.Header.Set(tsHeader, strconv.FormatInt(ts.Unix(), 10))
	}
	canon := CanonicalRequest
	if h.Canonical != nil {
		canon = h.Canonical
	}
	header := h.Header
	if header == "" {
		header = "X-Signature"
	}
	req.Header.Set(header, h.Prefix+Sign(h.Secret, canon(req, body, ts), h.Base64))
	return nil
}

// String describes the signer without its secret.
func (h *HMAC) String() string { return fmt.Sprintf("rest.HMAC{header %s, secret redacted}", h.Header) }

// GoString redacts like String.
func (h *HMAC) GoString() string { return h.String() }

// LogValue redacts the secret in slog output.
func (h *HMAC) LogValue() slog.Value { return slog.StringValue(h.String()) }
