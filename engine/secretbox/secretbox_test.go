package secretbox

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func newKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func newBox(t testing.TB, key []byte) *Box {
	t.Helper()
	b, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSealOpenRoundTrip(t *testing.T) {
	b := newBox(t, newKey(t))
	for _, plain := range [][]byte{nil, []byte(""), []byte("s3cr3t"), bytes.Repeat([]byte{0}, 4096)} {
		sealed, err := b.Seal(plain, []byte("ten_a/acc_b"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(sealed, "v1:") {
			t.Fatalf("sealed %q lacks the v1: prefix", sealed)
		}
		got, err := b.Open(sealed, []byte("ten_a/acc_b"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, plain) {
			t.Fatalf("Open = %q, want %q", got, plain)
		}
	}
}

func TestSealIsRandomized(t *testing.T) {
	b := newBox(t, newKey(t))
	x, _ := b.Seal([]byte("same"), nil)
	y, _ := b.Seal([]byte("same"), nil)
	if x == y {
		t.Fatal("two seals of the same plaintext are identical: nonce is not random")
	}
	if strings.Contains(x, "same") {
		t.Fatal("plaintext visible in sealed value")
	}
}

func TestOpenRejects(t *testing.T) {
	key := newKey(t)
	b := newBox(t, key)
	sealed, err := b.Seal([]byte("password=hunter2"), []byte("ten_a/acc_1"))
	if err != nil {
		t.Fatal(err)
	}
	other := newBox(t, newKey(t))
	body := strings.TrimPrefix(sealed, "v1:")
	raw, _ := base64.RawURLEncoding.DecodeString(body)
	raw[len(raw)-1] ^= 1
	flipped := "v1:" + base64.RawURLEncoding.EncodeToString(raw)

	tests := []struct {
		name   string
		box    *Box
		sealed string
		aad    string
		want   error
	}{
		{"other owner (row copied)", b, sealed, "ten_a/acc_2", ErrOpen},
		{"other tenant", b, sealed, "ten_b/acc_1", ErrOpen},
		{"no associated data", b, sealed, "", ErrOpen},
		{"other key", other, sealed, "ten_a/acc_1", ErrOpen},
		{"flipped bit", b, flipped, "ten_a/acc_1", ErrOpen},
		{"no prefix", b, body, "ten_a/acc_1", ErrMalformed},
		{"empty", b, "", "ten_a/acc_1", ErrMalformed},
		{"bad base64", b, "v1:***", "ten_a/acc_1", ErrMalformed},
		{"padded base64", b, "v1:" + base64.URLEncoding.EncodeToString(raw[:20]) + "=", "ten_a/acc_1", ErrMalformed},
		{"too short", b, "v1:" + base64.RawURLEncoding.EncodeToString(raw[:27]), "ten_a/acc_1", ErrMalformed},
		{"future version", b, "v2:" + body, "ten_a/acc_1", ErrUnsupportedVersion},
		{"long junk version", b, strings.Repeat("x", 100) + ":" + body, "ten_a/acc_1", ErrUnsupportedVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.box.Open(tt.sealed, []byte(tt.aad))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open error = %v, want %v", err, tt.want)
			}
			if got != nil {
				t.Fatalf("Open returned plaintext %q alongside an error", got)
			}
			if strings.Contains(err.Error(), "hunter2") || len(err.Error()) > 200 {
				t.Fatalf("error leaks or echoes input: %q", err)
			}
		})
	}
}

func TestNewKeyLength(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33, 64} {
		if _, err := New(make([]byte, n)); err == nil {
			t.Fatalf("New accepted a %d-byte key", n)
		}
	}
}

func TestBoxConcurrent(t *testing.T) {
	b := newBox(t, newKey(t))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 200 {
				aad := []byte{byte(i)}
				s, err := b.Seal([]byte("x"), aad)
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := b.Open(s, aad); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestParseKey(t *testing.T) {
	key := newKey(t)
	good := map[string]string{
		"hex":          hex.EncodeToString(key),
		"HEX":          strings.ToUpper(hex.EncodeToString(key)),
		"std":          base64.StdEncoding.EncodeToString(key),
		"raw std":      base64.RawStdEncoding.EncodeToString(key),
		"url":          base64.URLEncoding.EncodeToString(key),
		"raw url":      base64.RawURLEncoding.EncodeToString(key),
		"with newline": base64.StdEncoding.EncodeToString(key) + "\n",
	}
	for name, text := range good {
		got, err := ParseKey(text)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !bytes.Equal(got, key) {
			t.Errorf("%s: decoded a different key", name)
		}
	}
	bad := map[string]string{
		"empty":       "",
		"spaces":      "   ",
		"short hex":   hex.EncodeToString(key[:16]),
		"short b64":   base64.StdEncoding.EncodeToString(key[:16]),
		"long b64":    base64.StdEncoding.EncodeToString(append(key, 1)),
		"not encoded": "this is my password, not a key!!",
	}
	for name, text := range bad {
		_, err := ParseKey(text)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if text != "" && strings.TrimSpace(text) != "" && strings.Contains(err.Error(), strings.TrimSpace(text)) {
			t.Errorf("%s: error echoes the key text: %v", name, err)
		}
	}
}

func TestKeyFromEnv(t *testing.T) {
	key := newKey(t)
	t.Setenv(EnvKey, hex.EncodeToString(key))
	got, err := KeyFromEnv()
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("KeyFromEnv = %x, %v", got, err)
	}
	t.Setenv(EnvKey, "")
	if _, err := KeyFromEnv(); !errors.Is(err, ErrNoKey) {
		t.Fatalf("unset: error = %v, want ErrNoKey", err)
	}
	t.Setenv(EnvKey, "c2hvcnQ=")
	_, err = KeyFromEnv()
	if err == nil || !strings.Contains(err.Error(), EnvKey) || !strings.Contains(err.Error(), "5 bytes") {
		t.Fatalf("short key: error = %v, want one naming %s and the decoded length", err, EnvKey)
	}
}

func TestLoadOrCreateKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "secret.key")
	k1, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(k1) != KeySize {
		t.Fatalf("created key has %d bytes", len(k1))
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Fatalf("created with mode %04o, want 0600", perm)
	}
	k2, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k1, k2) {
		t.Fatal("second load returned a different key")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

func TestLoadOrCreateKeyFileConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret.key")
	keys := make([][]byte, 16)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() {
			k, err := LoadOrCreateKeyFile(path)
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		})
	}
	wg.Wait()
	for i := range keys {
		if !bytes.Equal(keys[i], keys[0]) {
			t.Fatalf("creator %d got a different key", i)
		}
	}
}

func TestLoadOrCreateKeyFileRefuses(t *testing.T) {
	dir := t.TempDir()
	key := newKey(t)
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, path, want string
	}{
		{"world readable", write("world", hex.EncodeToString(key), 0o644), "chmod 600"},
		{"group readable", write("group", hex.EncodeToString(key), 0o640), "chmod 600"},
		{"wrong length", write("short", base64.StdEncoding.EncodeToString(key[:20]), 0o600), "20 bytes"},
		{"empty", write("empty", "", 0o600), "empty"},
		{"junk", write("junk", strings.Repeat("z", 1000), 0o600), "too long"},
		{"directory", dir, "not a regular file"},
		{"missing dir", filepath.Join(dir, "nope", "key"), "directory does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadOrCreateKeyFile(tt.path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), hex.EncodeToString(key)) {
				t.Fatalf("error leaks the key: %v", err)
			}
		})
	}
}
