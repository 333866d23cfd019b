package webhooks

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/carrierhub/hub/engine/store"
)

// Standard Webhooks header names.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// DefaultTolerance is how far a received webhook-timestamp may be from now before
// Verify refuses it (the specification's five minutes).
const DefaultTolerance = 5 * time.Minute

// Errors Verify returns.
var (
	// ErrNoMatch: no v1 signature in the header matches the payload.
	ErrNoMatch = errors.New("no signature matches")
	// ErrTimestamp: the timestamp is outside the tolerance (a replay or a wrong clock).
	ErrTimestamp = errors.New("timestamp outside the tolerance")
	// ErrSignatureHeader: the header or timestamp is malformed.
	ErrSignatureHeader = errors.New("malformed signature header")
)

// NewSecret returns a fresh whsec_ secret holding 32 random bytes.
func NewSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return store.WebhookSecretPrefix + base64.StdEncoding.EncodeToString(b[:])
}

// secretKey returns the HMAC key of a whsec_ secret. The error never quotes it.
func secretKey(secret string) ([]byte, error) {
	if err := store.CheckWebhookSecret(secret); err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(secret[len(store.WebhookSecretPrefix):])
}

// signOne returns the base64 HMAC-SHA256 of "id.timestamp.body" under key.
func signOne(key []byte, id, ts string, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Sign returns the webhook-signature value for body sent as message id at ts: one
// "v1,<base64 HMAC-SHA256>" per secret, space separated, so during a rotation the
// receiver accepts it with either secret.
func Sign(secrets []string, id string, ts time.Time, body []byte) (string, error) {
	if len(secrets) == 0 {
		return "", errors.New("signing: no secret")
	}
	stamp := strconv.FormatInt(ts.Unix(), 10)
	parts := make([]string, 0, len(secrets))
	for i, s := range secrets {
		key, err := secretKey(s)
		if err != nil {
			return "", fmt.Errorf("signing with secret %d: %w", i+1, err)
		}
		parts = append(parts, "v1,"+signOne(key, id, stamp, body))
	}
	return strings.Join(parts, " "), nil
}

// Verify checks a received webhook the way a receiver should: the timestamp (a
// decimal Unix time) within tolerance of now unless tolerance is zero, then any of
// the header's v1 signatures equal, in constant time, to the one secret makes.
func Verify(secret, id, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	key, err := secretKey(secret)
	if err != nil {
		return err
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("timestamp %q is not a Unix time: %w", timestamp, ErrSignatureHeader)
	}
	if tolerance > 0 {
		if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
			return fmt.Errorf("timestamp is %s away from now, more than %s: %w", d.Round(time.Second).Abs(), tolerance, ErrTimestamp)
		}
	}
	want := []byte(signOne(key, id, timestamp, body))
	seen := false
	for _, part := range strings.Fields(signature) {
		version, sig, ok := strings.Cut(part, ",")
		if !ok {
			return fmt.Errorf("signature %q is not version,signature: %w", part, ErrSignatureHeader)
		}
		if version != "v1" {
			continue
		}
		seen = true
		if hmac.Equal([]byte(sig), want) {
			return nil
		}
	}
	if !seen {
		return fmt.Errorf("no v1 signature: %w", ErrSignatureHeader)
	}
	return ErrNoMatch
}
