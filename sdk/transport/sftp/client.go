// Package sftp is the SDK's SFTP transport: a small client that connectors use to
// exchange files with carriers and ERPs that speak "CSV over SFTP".
//
// A Client connects over SSH (golang.org/x/crypto/ssh) and speaks SFTP through
// github.com/pkg/sftp. It always checks the server's host key against known_hosts
// content supplied with the account; every path it is given is relative to a
// configured root directory and may not leave it (absolute paths, ".." and symlinks
// pointing outside are refused); uploads are written under a temporary name and
// renamed into place, so a reader never sees a partial file under the final name.
//
// A Poller takes files from an inbox directory exactly once, even across hub
// restarts: see Poller for the guarantee and its one at-least-once window.
//
// Every error the package returns is a classified *sdk.Error, and no error message
// ever contains a password, passphrase or private key. Refused connections and
// unreachable hosts are carrier_unavailable with NotSent; refused credentials are
// auth_failed; a host key that does not match known_hosts (or is missing from it,
// or revoked) is also auth_failed, because like a bad password it is fixed by
// correcting the account's configuration (or is an attack), never by retrying;
// missing remote files are not_found; paths that would leave the root are
// invalid_request. The TCP connection goes through the egress guard (package
// egress): an address its policy does not admit is invalid_request with NotSent.
//
// Confinement is checked by the client before each operation: the lexical checks
// are absolute, the symlink check asks the server to resolve the path first. Someone
// with write access on the server who swaps a directory for a symlink between that
// check and the operation can still redirect it; where that matters, confine the
// account on the server too (sshd's ChrootDirectory).
//
// The package is SDK code: it may import sdk and mappings, never engine.
package sftp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/transport/egress"
	pkgsftp "github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// Defaults applied by Dial when the Config leaves a field zero.
const (
	// DefaultPort is the SSH port used when Config.Port is zero.
	DefaultPort = 22
	// DefaultDialTimeout bounds the TCP connect plus SSH handshake when
	// Config.DialTimeout is zero.
	DefaultDialTimeout = 15 * time.Second
	// DefaultMaxFileSize is the largest file uploaded or downloaded when
	// Config.MaxFileSize is zero: 64 MiB.
	DefaultMaxFileSize = 64 << 20
)

// Extension names advertised by OpenSSH's sftp-server that the client uses when
// present.
const (
	extPosixRename = "posix-rename@openssh.com"
	extFsync       = "fsync@openssh.com"
)

// Config says where and how to connect. The zero value is not usable: Host, User,
// one of PrivateKeyPEM or Password, and KnownHosts are required.
type Config struct {
	// Host is the server's DNS name or IP address, without a port.
	Host string
	// Port is the server's SSH port; zero means 22.
	Port int
	// User is the login name.
	User string
	// PrivateKeyPEM is an SSH private key (OpenSSH, PKCS#1, PKCS#8 or SEC1 PEM).
	// When both it and Password are set, the key is offered first.
	PrivateKeyPEM []byte
	// Passphrase decrypts PrivateKeyPEM when the key is encrypted.
	Passphrase []byte
	// Password is used for password authentication.
	Password string
	// KnownHosts is the content of a known_hosts file (OpenSSH format, hashed host
	// names and @revoked / @cert-authority markers included) listing the server's
	// host keys. It is required: the host key is always checked.
	KnownHosts []byte
	// InsecureIgnoreHostKeyForTestsOnly skips the host key check. It exists for
	// tests against throw-away servers and must never be set for a real account.
	InsecureIgnoreHostKeyForTestsOnly bool
	// Root is the directory every path given to the client is relative to, and
	// confined to. A relative Root is taken from the login directory; empty means
	// the login directory itself.
	Root string
	// DialTimeout bounds the TCP connect and SSH handshake; zero means
	// DefaultDialTimeout. Each later operation is bounded by its own context.
	DialTimeout time.Duration
	// MaxFileSize is the largest file Upload writes or Download reads, in bytes;
	// zero means DefaultMaxFileSize.
	MaxFileSize int64
	// Egress is the egress guard's allow-list the connection is checked against
	// after DNS; nil is egress.Default(), the policy the hub hands a connector
	// process. A refused address is invalid_request with NotSent.
	Egress *egress.Policy
}

// Client is a connection to one SFTP server, confined to Config.Root. Its methods
// may be called from several goroutines at once.
//
// Each method takes a context that bounds it. When a context ends while its
// operation is in flight, the client closes the SSH connection (the only way to
// abandon an SFTP request), so every other call in flight on the same client fails
// too and the client must be dialled again.
type Client struct {
	addr     string
	maxSize  int64
	ssh      *ssh.Client
	sftp     *pkgsftp.Client
	root     string // the real (symlink-free) absolute path of Config.Root
	posixRen bool
	fsync    bool

	closeOnce sync.Once
	closeErr  error
}

// Dial connects, authenticates, checks the server's host key, starts the SFTP
// subsystem and resolves the root directory. Connection failures are
// carrier_unavailable with NotSent set; refused credentials and host key problems
// are auth_failed; a bad Config is invalid_request.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	port := cfg.Port
	if port == 0 {
		port = DefaultPort
	}
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(port))
	auth, err := cfg.authMethods()
	if err != nil {
		return nil, err
	}
	hk, err := newHostKeyChecker(cfg, addr)
	if err != nil {
		return nil, err
	}
	timeout := cfg.DialTimeout
	if timeout <= 0 {
		timeout = DefaultDialTimeout
	}
	clientCfg := &ssh.ClientConfig{
		User:              cfg.User,
		Auth:              auth,
		HostKeyCallback:   hk.check,
		HostKeyAlgorithms: hk.algorithms,
		Timeout:           timeout,
	}

	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d := egress.Dialer{Policy: cfg.Egress}
	conn, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, dialError(ctx, addr, err)
	}
	// The handshake has no context of its own: a deadline on the socket bounds it,
	// and closing the socket abandons it when ctx ends first.
	deadline, _ := dctx.Deadline()
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(dctx, func() { conn.Close() })
	sc, chans, reqs, err := ssh.NewClientConn(conn, addr, clientCfg)
	stopped := stop()
	if err != nil {
		conn.Close()
		return nil, handshakeError(ctx, addr, hk, err, !stopped)
	}
	_ = conn.SetDeadline(time.Time{})
	sshClient := ssh.NewClient(sc, chans, reqs)

	fail := func(e error) (*Client, error) {
		sshClient.Close()
		return nil, e
	}
	// Starting the subsystem is bounded by ctx as every later operation is.
	var sc2 *pkgsftp.Client
	if err := guard(ctx, sshClient, func() error {
		var err error
		sc2, err = pkgsftp.NewClient(sshClient, pkgsftp.UseConcurrentWrites(false))
		return err
	}); err != nil {
		if ce := ctxError(ctx, err); ce != nil {
			return fail(ce)
		}
		return fail(&sdk.Error{Code: sdk.CodePermanent, Source: sdk.SourceCarrier, NotSent: true,
			Message: fmt.Sprintf("sftp subsystem on %s: %v", addr, err)})
	}
	c := &Client{addr: addr, ssh: sshClient, sftp: sc2, maxSize: cfg.MaxFileSize}
	if c.maxSize <= 0 {
		c.maxSize = DefaultMaxFileSize
	}
	if v, ok := sc2.HasExtension(extPosixRename); ok && v == "1" {
		c.posixRen = true
	}
	if v, ok := sc2.HasExtension(extFsync); ok && v == "1" {
		c.fsync = true
	}
	root := cfg.Root
	if root == "" {
		root = "."
	}
	if err := c.do(ctx, "resolve root", root, func() error {
		real, err := sc2.RealPath(root)
		if err != nil {
			return err
		}
		fi, err := sc2.Stat(real)
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return &sdk.Error{Code: sdk.CodeInvalidRequest, Source: sdk.SourceConnector,
				Message: fmt.Sprintf("root %q is not a directory", root)}
		}
		c.root = real
		return nil
	}); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Close ends the SFTP session and the SSH connection. It is safe to call more than
// once.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.sftp.Close()
		if err := c.ssh.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			c.closeErr = err
		}
	})
	return c.closeErr
}

// Root returns the absolute, symlink-free path of the root directory on the
// server.
func (c *Client) Root() string { return c.root }

// MaxFileSize returns the size limit in bytes that Upload and Download enforce.
func (c *Client) MaxFileSize() int64 { return c.maxSize }

// FileInfo describes a remote file.
type FileInfo struct {
	// Name is the file's base name.
	Name string
	// Size is its length in bytes.
	Size int64
	// ModTime is its modification time; SFTP version 3 carries whole seconds.
	ModTime time.Time
	// Dir is true for directories.
	Dir bool
	// Regular is true for regular files (not directories, symlinks or devices).
	Regular bool
}

func toInfo(fi os.FileInfo) FileInfo {
	return FileInfo{Name: fi.Name(), Size: fi.Size(), ModTime: fi.ModTime(), Dir: fi.IsDir(), Regular: fi.Mode().IsRegular()}
}

// Stat describes the file at rel, following a final symlink only when it stays
// inside the root.
func (c *Client) Stat(ctx context.Context, rel string) (FileInfo, error) {
	var info FileInfo
	err := c.do(ctx, "stat", rel, func() error {
		full, err := c.confine(rel)
		if err != nil {
			return err
		}
		fi, err := c.sftp.Stat(full)
		if err != nil {
			return err
		}
		info = toInfo(fi)
		info.Name = path.Base(full)
		return nil
	})
	return info, err
}

// List returns the entries of directory dir whose base names match the glob
// pattern (path.Match syntax; empty matches everything), sorted by name. Names
// starting with a dot are left out unless the pattern itself starts with a dot, as
// a shell does.
func (c *Client) List(ctx context.Context, dir, pattern string) ([]FileInfo, error) {
	if pattern != "" {
		if _, err := path.Match(pattern, ""); err != nil {
			return nil, &sdk.Error{Code: sdk.CodeInvalidRequest, Source: sdk.SourceConnector,
				Message: fmt.Sprintf("glob pattern %q is malformed", pattern), NotSent: true}
		}
	}
	var out []FileInfo
	err := c.do(ctx, "list", dir, func() error {
		full, err := c.confine(dir)
		if err != nil {
			return err
		}
		entries, err := c.sftp.ReadDirContext(ctx, full)
		if err != nil {
			return err
		}
		for _, e := range entries {
			name := e.Name()
			if name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
				continue
			}
			if strings.HasPrefix(name, ".") && !strings.HasPrefix(pattern, ".") {
				continue
			}
			if pattern != "" {
				if ok, _ := path.Match(pattern, name); !ok {
					continue
				}
			}
			out = append(out, toInfo(e))
		}
		return nil
	})
	sortInfos(out)
	return out, err
}

// Download reads the whole file at rel. A file larger than MaxFileSize is refused
// with invalid_request before any of it is read; a missing file is not_found.
func (c *Client) Download(ctx context.Context, rel string) ([]byte, error) {
	var data []byte
	err := c.do(ctx, "download", rel, func() error {
		full, err := c.confine(rel)
		if err != nil {
			return err
		}
		f, err := c.sftp.Open(full)
		if err != nil {
			return err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return &sdk.Error{Code: sdk.CodeInvalidRequest, Source: sdk.SourceConnector,
				Message: fmt.Sprintf("%q is not a regular file", rel)}
		}
		if fi.Size() > c.maxSize {
			return tooLarge(rel, fi.Size(), c.maxSize)
		}
		// Read at most one byte more than the limit, in case the file grows.
		buf, err := io.ReadAll(io.LimitReader(f, c.maxSize+1))
		if err != nil {
			return err
		}
		if int64(len(buf)) > c.maxSize {
			return tooLarge(rel, int64(len(buf)), c.maxSize)
		}
		data = buf
		return nil
	})
	return data, err
}

// Upload writes everything r yields to rel, atomically: the bytes go to a
// temporary name in the same directory, are flushed to stable storage when the
// server offers fsync@openssh.com, and are then renamed to rel (replacing an
// existing file when the server offers posix-rename@openssh.com; without it an
// existing rel is a conflict). A failure at any point removes the temporary file
// and leaves rel as it was. Content beyond MaxFileSize is refused with
// invalid_request. Upload returns the number of bytes written.
func (c *Client) Upload(ctx context.Context, rel string, r io.Reader) (int64, error) {
	var n int64
	err := c.do(ctx, "upload", rel, func() error {
		full, err := c.confine(rel)
		if err != nil {
			return err
		}
		if full == c.root {
			return &sdk.Error{Code: sdk.CodeInvalidRequest, Source: sdk.SourceConnector, NotSent: true,
				Message: "upload needs a file name, not the root directory"}
		}
		if fi, err := c.sftp.Lstat(full); err == nil && !fi.Mode().IsRegular() {
			return &sdk.Error{Code: sdk.CodeConflict, Source: sdk.SourceConnector,
				Message: fmt.Sprintf("%q exists and is not a regular file", rel)}
		}
		tmp := path.Join(path.Dir(full), "."+path.Base(full)+"."+randomHex(8)+".tmp")
		n, err = c.writeTemp(tmp, r)
		if err == nil {
			err = c.rename(tmp, full, true)
		}
		if err != nil {
			// Best effort: the connection may be the thing that failed.
			_ = c.sftp.Remove(tmp)
			return err
		}
		return nil
	})
	return n, err
}

func (c *Client) writeTemp(tmp string, r io.Reader) (int64, error) {
	f, err := c.sftp.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, io.LimitReader(r, c.maxSize+1))
	if err == nil && n > c.maxSize {
		err = tooLarge(path.Base(tmp), n, c.maxSize)
	}
	if err == nil && c.fsync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		var se *sdk.Error
		if !errors.As(err, &se) {
			err = fmt.Errorf("writing temporary file: %w", err)
		}
	}
	return n, err
}

// rename moves from to to. With replace, an existing target is replaced
// atomically when the server supports posix-rename; otherwise, and always when
// replace is false, SSH_FXP_RENAME is used, which refuses an existing target.
func (c *Client) rename(from, to string, replace bool) error {
	if replace && c.posixRen {
		return c.sftp.PosixRename(from, to)
	}
	err := c.sftp.Rename(from, to)
	if err != nil {
		if _, serr := c.sftp.Lstat(to); serr == nil {
			return &sdk.Error{Code: sdk.CodeConflict, Source: sdk.SourceConnector,
				Message: fmt.Sprintf("%q already exists", c.rel(to))}
		}
	}
	return err
}

// Rename moves the file at from to to, both relative to the root. It refuses to
// replace an existing file (conflict), so it can be used to claim a file: of
// several clients renaming the same file, exactly one succeeds.
func (c *Client) Rename(ctx context.Context, from, to string) error {
	return c.do(ctx, "rename", from, func() error {
		f, err := c.confine(from)
		if err != nil {
			return err
		}
		t, err := c.confine(to)
		if err != nil {
			return err
		}
		if f == c.root || t == c.root {
			return &sdk.Error{Code: sdk.CodeInvalidRequest, Source: sdk.SourceConnector, NotSent: true,
				Message: "the root directory cannot be renamed"}
		}
		return c.rename(f, t, false)
	})
}

// Remove deletes the file at rel; a missing file is not_found.
func (c *Client) Remove(ctx context.Context, rel string) error {
	return c.do(ctx, "remove", rel, func() error {
		full, err := c.confine(rel)
		if err != nil {
			return err
		}
		if full == c.root {
			return &sdk.Error{Code: sdk.CodeInvalidRequest, Source: sdk.SourceConnector, NotSent: true,
				Message: "the root directory cannot be removed"}
		}
		return c.sftp.Remove(full)
	})
}

// MkdirAll creates directory rel and any missing parents inside the root.
func (c *Client) MkdirAll(ctx context.Context, rel string) error {
	return c.do(ctx, "mkdir", rel, func() error {
		if _, err := clean(rel); err != nil {
			return err
		}
		// Create one level at a time so each parent is checked before the next is
		// made inside it.
		cur := ""
		for _, elem := range strings.Split(strings.Trim(path.Clean(rel), "/"), "/") {
			if elem == "." || elem == "" {
				continue
			}
			cur = path.Join(cur, elem)
			full, err := c.confine(cur)
			if err != nil {
				return err
			}
			fi, err := c.sftp.Stat(full)
			if err == nil {
				if !fi.IsDir() {
					return &sdk.Error{Code: sdk.CodeConflict, Source: sdk.SourceConnector,
						Message: fmt.Sprintf("%q exists and is not a directory", cur)}
				}
				continue
			}
			if !errors.Is(err, os.ErrNotExist) {
				return err
			}
			if err := c.sftp.Mkdir(full); err != nil {
				// Another client may have made it meanwhile.
				if fi, serr := c.sftp.Stat(full); serr != nil || !fi.IsDir() {
					return err
				}
			}
		}
		return nil
	})
}

// do runs one operation bounded by ctx and classifies its error.
func (c *Client) do(ctx context.Context, op, rel string, f func() error) error {
	if err := ctx.Err(); err != nil {
		e := ctxError(ctx, err)
		e.NotSent = true
		return e
	}
	err := guard(ctx, c.ssh, f)
	if err == nil {
		return nil
	}
	return c.classify(ctx, op, rel, err)
}

// guard runs f, closing conn if ctx ends first so that a hung request returns.
func guard(ctx context.Context, conn io.Closer, f func() error) error {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	err := f()
	if !stop() && err != nil {
		// ctx ended while f ran: its error is the closed connection; report why.
		if ce := ctx.Err(); ce != nil {
			return ce
		}
	}
	return err
}

// rel turns an absolute server path under the root back into a root-relative one,
// for messages.
func (c *Client) rel(full string) string {
	if full == c.root {
		return "."
	}
	return strings.TrimPrefix(strings.TrimPrefix(full, c.root), "/")
}

// clean checks a root-relative path lexically and returns it cleaned.
func clean(rel string) (string, error) {
	bad := func(why string) error {
		return &sdk.Error{Code: sdk.CodeInvalidRequest, Source: sdk.SourceConnector, NotSent: true,
			Message: fmt.Sprintf("path %q refused: %s", rel, why)}
	}
	switch {
	case rel == "":
		return "", bad("it is empty")
	case strings.ContainsRune(rel, 0):
		return "", bad("it contains a NUL byte")
	case strings.HasPrefix(rel, "/"):
		return "", bad("absolute paths are not allowed; paths are relative to the root")
	case strings.Contains(rel, `\`):
		return "", bad("backslashes are not allowed")
	}
	for _, elem := range strings.Split(rel, "/") {
		if elem == ".." {
			return "", bad(`".." is not allowed`)
		}
	}
	return path.Clean(rel), nil
}

// confine maps a root-relative path to an absolute server path and makes sure
// neither its directory nor, when it is a symlink, the path itself resolves
// outside the root. It must run inside do.
func (c *Client) confine(rel string) (string, error) {
	cl, err := clean(rel)
	if err != nil {
		return "", err
	}
	if cl == "." {
		return c.root, nil
	}
	full := path.Join(c.root, cl)
	// The directory: every component of it, symlinks resolved by the server.
	dir := path.Dir(full)
	if dir != c.root {
		real, err := c.sftp.RealPath(dir)
		if err != nil {
			return "", err
		}
		if !c.inside(real) {
			return "", escapeError(rel)
		}
		// The server may not report a missing directory from realpath.
		if _, err := c.sftp.Stat(real); err != nil {
			return "", err
		}
		full = path.Join(real, path.Base(full))
	}
	// The final component, when it is a symlink.
	fi, err := c.sftp.Lstat(full)
	if err == nil && fi.Mode()&os.ModeSymlink != 0 {
		real, err := c.sftp.RealPath(full)
		if err != nil || !c.inside(real) {
			return "", escapeError(rel)
		}
	}
	return full, nil
}

func (c *Client) inside(real string) bool {
	if c.root == "/" {
		return strings.HasPrefix(real, "/")
	}
	return real == c.root || strings.HasPrefix(real, c.root+"/")
}

func escapeError(rel string) error {
	return &sdk.Error{Code: sdk.CodeInvalidRequest, Source: sdk.SourceConnector, NotSent: true,
		Message: fmt.Sprintf("path %q refused: it resolves outside the root through a symlink", rel)}
}

func tooLarge(name string, size, limit int64) error {
	return &sdk.Error{Code: sdk.CodeInvalidRequest, Source: sdk.SourceConnector,
		Message: fmt.Sprintf("%q is %d bytes or more, over the %d-byte limit", name, size, limit)}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error.
	return hex.EncodeToString(b)
}
