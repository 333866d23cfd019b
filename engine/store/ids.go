package store

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// Row ids are a kind prefix and 16 random bytes in lower-case unpadded base32
// (26 characters): unguessable, so an id learnt from one tenant's logs gives no hint
// about another's, and URL- and log-safe.
const (
	tenantPrefix  = "ten_"
	apiKeyPrefix  = "key_"
	accountPrefix = "acc_"
	// operatorKeyPrefix is the kind of hub-wide operator keys' ids.
	operatorKeyPrefix = "opk_"
	idRandLen         = 26
)

// API key secrets are "hub_sk_" and 32 random bytes in unpadded base64url (43
// characters). The store keeps only their SHA-256 and the first characters for display.
// Operator key secrets are the same but for their "hub_op_" prefix, which tells
// the API which kind of key to look up.
const (
	secretPrefix         = "hub_sk_"
	operatorSecretPrefix = "hub_op_"
	secretRandLen        = 43
	displayPrefixLen     = len(secretPrefix) + 6
)

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newID returns a fresh id with the given kind prefix.
func newID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms.
	return prefix + idEncoding.EncodeToString(b[:])
}

// validID reports whether s could be an id of the kind prefix. Anything else cannot
// name a row, so lookups answer ErrNotFound without asking the database.
func validID(prefix, s string) bool {
	if len(s) != len(prefix)+idRandLen || !strings.HasPrefix(s, prefix) {
		return false
	}
	for _, c := range s[len(prefix):] {
		if (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}

// newSecret returns a fresh API key secret.
func newSecret() string { return newSecretWith(secretPrefix) }

// newSecretWith returns a fresh secret of the kind prefix (secretPrefix or
// operatorSecretPrefix, which are equally long).
func newSecretWith(prefix string) string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// wellFormedSecret reports whether s has the shape of a secret made by newSecret.
func wellFormedSecret(s string) bool { return wellFormedSecretOf(secretPrefix, s) }

// wellFormedSecretOf reports whether s has the shape of a secret of the kind prefix.
func wellFormedSecretOf(prefix, s string) bool {
	if len(s) != len(prefix)+secretRandLen || !strings.HasPrefix(s, prefix) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s[len(prefix):])
	return err == nil
}

// hashSecret returns the hex SHA-256 of an API key secret: the value stored and looked
// up. A fast hash is right here, unlike for passwords: the secret holds 256 random
// bits, so the hash cannot be reversed by guessing however fast guesses are, and a
// salt would add nothing while making lookup by hash impossible. Authenticate runs on
// every API call, so a deliberately slow hash (bcrypt, argon2) would cost every request.
func hashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
