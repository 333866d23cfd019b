package secretbox

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// EnvKey is the environment variable KeyFromEnv reads.
const EnvKey = "HUB_SECRET_KEY"

// ErrNoKey means HUB_SECRET_KEY is unset or empty.
var ErrNoKey = errors.New(EnvKey + " is not set")

// ParseKey decodes a KeySize-byte key written as 64 hex digits or as base64 (standard or
// URL alphabet, padded or not). Surrounding whitespace is ignored. Errors never echo the
// text, which may be a key with a typo.
func ParseKey(text string) ([]byte, error) {
	s := strings.TrimSpace(text)
	if s == "" {
		return nil, errors.New("key is empty")
	}
	if len(s) == 2*KeySize {
		if k, err := hex.DecodeString(s); err == nil {
			return k, nil
		}
	}
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding,
	} {
		k, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(k) != KeySize {
			return nil, fmt.Errorf("key decodes (base64) to %d bytes, want %d", len(k), KeySize)
		}
		return k, nil
	}
	return nil, fmt.Errorf("key is neither %d hex digits nor base64 of %d bytes (%d characters given)",
		2*KeySize, KeySize, len(s))
}

// KeyFromEnv reads the key from HUB_SECRET_KEY (hex or base64, see ParseKey). It returns
// ErrNoKey when the variable is unset or empty.
func KeyFromEnv() ([]byte, error) {
	v := os.Getenv(EnvKey)
	if strings.TrimSpace(v) == "" {
		return nil, ErrNoKey
	}
	k, err := ParseKey(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvKey, err)
	}
	return k, nil
}

// LoadOrCreateKeyFile reads a key file (hex or base64, see ParseKey), or creates it with mode 0600 holding a new random
// key (base64) when it does not exist. It refuses a file that group or others may read or
// write, a file that is not a regular file, and content that is not a KeySize-byte key.
// Two processes creating the same file at once end up with the same key.
func LoadOrCreateKeyFile(path string) ([]byte, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("key file %s: reading random key: %w", path, err)
	}
	// Write the key to a private temporary file, then hard-link it into place: the link
	// fails if path exists, so a concurrent creator never sees a half-written file and
	// two creators agree on whichever key was linked first.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".hub-key-*")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("key file %s: directory does not exist", path)
		}
		return nil, fmt.Errorf("key file %s: creating: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	werr := tmp.Chmod(0o600)
	if werr == nil {
		_, werr = tmp.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	}
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, fmt.Errorf("key file %s: writing new key: %w", path, werr)
	}
	switch err := os.Link(tmp.Name(), path); {
	case err == nil:
		return key, nil
	case errors.Is(err, fs.ErrExist):
		return readKeyFile(path)
	default:
		return nil, fmt.Errorf("key file %s: creating: %w", path, err)
	}
}

func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("key file %s: not a regular file (%s)", path, info.Mode().Type())
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("key file %s: mode %04o lets group or others access it; run chmod 600 %s",
			path, perm, path)
	}
	// A key in any accepted form is under 100 bytes; read a little more to detect junk.
	buf := make([]byte, 256)
	n, err := f.Read(buf)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	if n == len(buf) {
		return nil, fmt.Errorf("key file %s: %d bytes is too long for a key", path, info.Size())
	}
	k, err := ParseKey(string(buf[:n]))
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return k, nil
}
