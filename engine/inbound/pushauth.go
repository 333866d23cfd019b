package inbound

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/carrierhub/hub/sdk"
)

// Reasons VerifyPush refuses a push. The inbound route answers every one of
// them (and an unknown account) the same way; they differ only in the hub's
// log.
var (
	// ErrNoInboundCredential: the account holds no credential the
	// connector's inbound authentication needs, so every push is refused.
	ErrNoInboundCredential = errors.New("the account holds no inbound credential")
	// ErrPushUnauthenticated: the push carries no credentials, or wrong ones.
	ErrPushUnauthenticated = errors.New("the push's credentials are missing or wrong")
	// ErrPushStale: an hmac push's timestamp is missing, unreadable or
	// outside the window (a replayed or delayed push).
	ErrPushStale = errors.New("the push's timestamp is missing or outside the window")
	// ErrNoInboundAuth: the connector declares no inbound authentication
	// (a manifest that skipped validation): nothing is accepted.
	ErrNoInboundAuth = errors.New("the connector declares no inbound authentication")
)

// Push is what VerifyPush reads of an inbound HTTP request.
type Push struct {
	// Header is the request's header.
	Header http.Header
	// Query is the request's query.
	Query url.Values
	// Body is the raw body, as received.
	Body []byte
}

// PushVerifier checks pushes against a connector's declared inbound
// authentication (sdk.InboundAuth) and an account's credentials. The zero
// value is not usable; NewPushVerifier makes one. It is safe for concurrent
// use.
type PushVerifier struct {
	// dummy stands in for every credential of an account that does not
	// exist or holds none, so that refusing it costs the same work as
	// checking a real account.
	dummy string
}

// NewPushVerifier returns a verifier with a random stand-in credential.
func NewPushVerifier() *PushVerifier {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return &PushVerifier{dummy: hex.EncodeToString(b[:])}
}

// Verify checks p against spec with the account's credentials, at now (for
// an hmac timestamp's window). Tokens, signatures and passwords are compared
// in constant time. A nil creds stands for an account that does not exist
// (or belongs to another connector): the same checks run against a random
// stand-in, and the push is refused with ErrPushUnauthenticated, so that the
// work done, and the answer, do not tell whether the account exists. An
// account that lacks a credential spec names is refused with
// ErrNoInboundCredential after the same work.
func (v *PushVerifier) Verify(spec *sdk.InboundAuth, creds map[string]string, p Push, now time.Time) error {
	if spec == nil {
		return ErrNoInboundAuth
	}
	names := spec.Credentials()
	use := make(map[string]string, len(names))
	missing := creds == nil
	for _, n := range names {
		c := creds[n]
		if c == "" {
			missing, c = true, v.dummy
		}
		use[n] = c
	}
	var err error
	switch spec.Type {
	case sdk.InboundToken:
		err = verifyToken(spec, use[spec.Credential], p)
	case sdk.InboundHMAC:
		err = verifyHMAC(spec, use[spec.Credential], p, now)
	case sdk.InboundBasic:
		err = verifyBasic(use[spec.Username], use[spec.Password], p)
	default:
		return ErrNoInboundAuth
	}
	switch {
	case creds == nil:
		return ErrPushUnauthenticated
	case missing:
		return ErrNoInboundCredential
	}
	return err
}

// equal compares two secrets in constant time, hashing both first so that
// the time depends neither on where they differ nor on their lengths. An
// empty presented value never matches.
func equal(want, got string) int {
	w, g := sha256.Sum256([]byte(want)), sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(w[:], g[:]) & nonEmpty(got)
}

func nonEmpty(s string) int {
	if s == "" {
		return 0
	}
	return 1
}

// verifyToken finds the token where spec says it travels (the header, bare
// or after one of the schemes, and the query parameter) and compares each
// place's value with want; every place is compared, whatever the first
// answered.
func verifyToken(spec *sdk.InboundAuth, want string, p Push) error {
	ok := 0
	if spec.Header != "" {
		got := strings.TrimSpace(p.Header.Get(spec.Header))
		for _, s := range spec.Schemes {
			if len(got) > len(s) && strings.EqualFold(got[:len(s)], s) && (got[len(s)] == ' ' || got[len(s)] == '\t') {
				got = strings.TrimSpace(got[len(s):])
				break
			}
		}
		ok |= equal(want, got)
	}
	if spec.Query != "" {
		ok |= equal(want, p.Query.Get(spec.Query))
	}
	if ok != 1 {
		return ErrPushUnauthenticated
	}
	return nil
}

// verifyHMAC recomputes the signature of the push's message with key and
// compares it with every signature the header carries; the timestamp, when
// the provider signs one, must be within the window of now.
func verifyHMAC(spec *sdk.InboundAuth, key string, p Push, now time.Time) error {
	var ts string
	if spec.TimestampHeader != "" {
		ts = strings.TrimSpace(p.Header.Get(spec.TimestampHeader))
	}
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write(spec.ExpandMessage(ts, p.Body, p.Header.Get))
	want := mac.Sum(nil)
	ok := 0
	for _, part := range strings.Fields(p.Header.Get(spec.Header)) {
		sig, found := strings.CutPrefix(part, spec.Prefix)
		if !found {
			continue
		}
		var got []byte
		var err error
		if spec.Encoding == "base64" {
			got, err = base64.StdEncoding.DecodeString(sig)
		} else {
			got, err = hex.DecodeString(sig)
		}
		if err == nil && hmac.Equal(want, got) {
			ok = 1
		}
	}
	if spec.TimestampHeader != "" {
		sec, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			return ErrPushStale
		}
		if d := now.Sub(time.Unix(sec, 0)); d > spec.WindowOrDefault() || d < -spec.WindowOrDefault() {
			return ErrPushStale
		}
	}
	if ok != 1 {
		return ErrPushUnauthenticated
	}
	return nil
}

// verifyBasic compares the push's basic credentials with the account's,
// both of them every time.
func verifyBasic(user, password string, p Push) error {
	u, pw, _ := (&http.Request{Header: p.Header}).BasicAuth()
	if equal(user, u)&equal(password, pw) != 1 {
		return ErrPushUnauthenticated
	}
	return nil
}
