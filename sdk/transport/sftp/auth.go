package sftp

import (
	"crypto/ed25519"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/carrierhub/hub/sdk"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func invalidConfig(format string, args ...any) error {
	return &sdk.Error{Code: sdk.CodeInvalidRequest, Source: sdk.SourceConnector, NotSent: true,
		Message: fmt.Sprintf(format, args...)}
}

func (cfg *Config) validate() error {
	switch {
	case cfg.Host == "":
		return invalidConfig("sftp config: host is required")
	case strings.ContainsAny(cfg.Host, " /\x00"):
		return invalidConfig("sftp config: host %q is not a host name or address", cfg.Host)
	case cfg.Port < 0 || cfg.Port > 65535:
		return invalidConfig("sftp config: port %d is out of range", cfg.Port)
	case cfg.User == "":
		return invalidConfig("sftp config: user is required")
	case len(cfg.PrivateKeyPEM) == 0 && cfg.Password == "":
		return invalidConfig("sftp config: a private key or a password is required")
	case len(cfg.KnownHosts) == 0 && !cfg.InsecureIgnoreHostKeyForTestsOnly:
		return invalidConfig("sftp config: known_hosts content is required; host keys are always checked")
	case cfg.MaxFileSize < 0:
		return invalidConfig("sftp config: max file size %d is negative", cfg.MaxFileSize)
	case strings.ContainsRune(cfg.Root, 0):
		return invalidConfig("sftp config: root contains a NUL byte")
	}
	return nil
}

// authMethods builds the SSH auth methods. Its errors never quote the key or the
// passphrase.
func (cfg *Config) authMethods() ([]ssh.AuthMethod, error) {
	var methods []ssh.AuthMethod
	if len(cfg.PrivateKeyPEM) > 0 {
		var signer ssh.Signer
		var err error
		if len(cfg.Passphrase) > 0 {
			signer, err = ssh.ParsePrivateKeyWithPassphrase(cfg.PrivateKeyPEM, cfg.Passphrase)
		} else {
			signer, err = ssh.ParsePrivateKey(cfg.PrivateKeyPEM)
		}
		var missing *ssh.PassphraseMissingError
		switch {
		case err == nil:
		case errors.As(err, &missing):
			return nil, invalidConfig("sftp config: the private key is encrypted and no passphrase was given")
		case errors.Is(err, x509.IncorrectPasswordError):
			return nil, &sdk.Error{Code: sdk.CodeAuthFailed, Source: sdk.SourceConnector, NotSent: true,
				Message: "sftp config: the private key's passphrase is wrong"}
		default:
			return nil, invalidConfig("sftp config: the private key is not a PEM-encoded SSH private key this client can read")
		}
		methods = append(methods, ssh.PublicKeys(signer))
	}
	if cfg.Password != "" {
		pw := cfg.Password
		methods = append(methods, ssh.Password(pw),
			// Servers that allow only keyboard-interactive get the password for
			// each echo-off prompt.
			ssh.KeyboardInteractive(func(_, _ string, questions []string, echos []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range questions {
					if !echos[i] {
						answers[i] = pw
					}
				}
				return answers, nil
			}))
	}
	return methods, nil
}

// hostKeyChecker checks the server's host key against known_hosts content and
// remembers how the check went, so that Dial can classify a failed handshake.
type hostKeyChecker struct {
	cb         ssh.HostKeyCallback
	algorithms []string
	passed     bool
	failure    *sdk.Error
}

func newHostKeyChecker(cfg Config, addr string) (*hostKeyChecker, error) {
	if cfg.InsecureIgnoreHostKeyForTestsOnly && len(cfg.KnownHosts) == 0 {
		return &hostKeyChecker{cb: ssh.InsecureIgnoreHostKey()}, nil
	}
	cb, err := knownHostsCallback(cfg.KnownHosts)
	if err != nil {
		return nil, err
	}
	hk := &hostKeyChecker{cb: cb}
	if cfg.InsecureIgnoreHostKeyForTestsOnly {
		hk.cb = ssh.InsecureIgnoreHostKey()
		return hk, nil
	}
	hk.algorithms = knownAlgorithms(cb, addr)
	return hk, nil
}

func (hk *hostKeyChecker) check(hostname string, remote net.Addr, key ssh.PublicKey) error {
	err := hk.cb(hostname, remote, key)
	if err == nil {
		hk.passed = true
		return nil
	}
	var ke *knownhosts.KeyError
	var re *knownhosts.RevokedError
	presented := key.Type() + " " + ssh.FingerprintSHA256(key)
	switch {
	case errors.As(err, &ke) && len(ke.Want) > 0:
		hk.failure = &sdk.Error{Code: sdk.CodeAuthFailed, Source: sdk.SourceConnector, NotSent: true,
			Message: fmt.Sprintf("host key for %s does not match known_hosts (server presented %s); refusing to connect", hostname, presented)}
	case errors.As(err, &re):
		hk.failure = &sdk.Error{Code: sdk.CodeAuthFailed, Source: sdk.SourceConnector, NotSent: true,
			Message: fmt.Sprintf("host key for %s is revoked in known_hosts (server presented %s); refusing to connect", hostname, presented)}
	default:
		hk.failure = &sdk.Error{Code: sdk.CodeAuthFailed, Source: sdk.SourceConnector, NotSent: true,
			Message: fmt.Sprintf("host %s is not in known_hosts (server presented %s); refusing to connect", hostname, presented)}
	}
	return hk.failure
}

// knownHostsCallback parses known_hosts content with x/crypto's knownhosts
// package, which reads only files: the content goes through a private temporary
// file that is removed at once. known_hosts holds public keys only.
func knownHostsCallback(content []byte) (ssh.HostKeyCallback, error) {
	f, err := os.CreateTemp("", "hub-known-hosts-*")
	if err != nil {
		return nil, &sdk.Error{Code: sdk.CodeInternal, Source: sdk.SourceConnector, NotSent: true,
			Message: fmt.Sprintf("staging known_hosts: %v", err)}
	}
	defer os.Remove(f.Name())
	_, werr := f.Write(content)
	cerr := f.Close()
	if werr != nil || cerr != nil {
		return nil, &sdk.Error{Code: sdk.CodeInternal, Source: sdk.SourceConnector, NotSent: true,
			Message: fmt.Sprintf("staging known_hosts: %v", errors.Join(werr, cerr))}
	}
	cb, err := knownhosts.New(f.Name())
	if err != nil {
		// The error names the temporary file and a line number; keep the line.
		msg := err.Error()
		if i := strings.Index(msg, f.Name()); i >= 0 {
			msg = msg[:i] + "known_hosts" + msg[i+len(f.Name()):]
		}
		return nil, invalidConfig("sftp config: %s", msg)
	}
	return cb, nil
}

// knownAlgorithms lists the host key algorithms known_hosts has keys of for addr,
// so the server is asked for a key that can be checked rather than its preferred
// one. It asks the callback about a throw-away key: the mismatch error lists the
// keys on file. Nil means no preference (the host is not on file, or only
// certificate authorities are).
// probeKey is an all-zero ed25519 public key: no server has it.
var probeKey = ed25519.PublicKey(make([]byte, ed25519.PublicKeySize))

func knownAlgorithms(cb ssh.HostKeyCallback, addr string) []string {
	probe, err := ssh.NewPublicKey(probeKey)
	if err != nil {
		return nil
	}
	// The hostname decides; the remote address only has to parse.
	var ke *knownhosts.KeyError
	if !errors.As(cb(addr, &net.TCPAddr{}, probe), &ke) {
		return nil
	}
	var algs []string
	seen := map[string]bool{}
	add := func(a string) {
		if !seen[a] {
			seen[a] = true
			algs = append(algs, a)
		}
	}
	for _, k := range ke.Want {
		switch t := k.Key.Type(); t {
		case ssh.KeyAlgoRSA:
			add(ssh.KeyAlgoRSASHA512)
			add(ssh.KeyAlgoRSASHA256)
			add(ssh.KeyAlgoRSA)
		default:
			add(t)
		}
	}
	return algs
}
