// Package secretbox seals small secrets, such as a carrier account's credentials, with
// AES-256-GCM before they are written to the store, and opens them again after reading.
//
// A sealed value is text: a format version, a colon, and the unpadded base64url encoding of
// a random 12-byte nonce followed by the GCM ciphertext and tag ("v1:..."). The version lets
// a later release change the algorithm or add key identifiers for rotation while still
// opening old rows. Associated data (not stored) binds a sealed value to its owner, so a
// value copied to another row does not open there.
//
// The package imports nothing of the hub's and logs nothing: keys and plaintexts never
// appear in its errors.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length in bytes of a key: AES-256.
const KeySize = 32

// versionV1 prefixes values sealed with AES-256-GCM, a 12-byte random nonce and no key id.
const versionV1 = "v1"

// Errors Open reports; test them with errors.Is.
var (
	// ErrMalformed means the value is not a sealed value at all: no version prefix, bad
	// encoding, or too short to hold a nonce and a tag.
	ErrMalformed = errors.New("malformed sealed value")
	// ErrUnsupportedVersion means the value was sealed in a format this build does not know.
	ErrUnsupportedVersion = errors.New("unsupported sealed value version")
	// ErrOpen means authentication failed: a different key, a modified value, or associated
	// data that does not match the data it was sealed with.
	ErrOpen = errors.New("sealed value does not authenticate (wrong key, tampered value, or wrong owner)")
)

// Box seals and opens values with one key. It is safe for concurrent use.
type Box struct {
	aead cipher.AEAD
}

// New returns a Box for a KeySize-byte key. The key is not retained beyond the cipher's
// own expanded copy.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secretbox: key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plaintext bound to associatedData and returns the sealed text. The same
// associatedData must be given to Open.
func (b *Box) Seal(plaintext, associatedData []byte) (string, error) {
	ns := b.aead.NonceSize()
	buf := make([]byte, ns, ns+len(plaintext)+b.aead.Overhead())
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("secretbox: reading random nonce: %w", err)
	}
	buf = b.aead.Seal(buf, buf[:ns], plaintext, associatedData)
	return versionV1 + ":" + base64.RawURLEncoding.EncodeToString(buf), nil
}

// Open decrypts a value made by Seal with the same key and associatedData. It reports
// ErrMalformed, ErrUnsupportedVersion or ErrOpen.
func (b *Box) Open(sealed string, associatedData []byte) ([]byte, error) {
	version, body, ok := strings.Cut(sealed, ":")
	if !ok {
		return nil, fmt.Errorf("secretbox: %w: no version prefix", ErrMalformed)
	}
	if version != versionV1 {
		if len(version) > 8 {
			version = version[:8] + "..."
		}
		return nil, fmt.Errorf("secretbox: %w %q", ErrUnsupportedVersion, version)
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w: body is not unpadded base64url", ErrMalformed)
	}
	ns := b.aead.NonceSize()
	if len(raw) < ns+b.aead.Overhead() {
		return nil, fmt.Errorf("secretbox: %w: %d bytes is too short", ErrMalformed, len(raw))
	}
	plain, err := b.aead.Open(nil, raw[:ns], raw[ns:], associatedData)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", ErrOpen)
	}
	return plain, nil
}
