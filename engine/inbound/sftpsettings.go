package inbound

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"path"
	"strconv"
	"strings"

	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/sdk/transport/sftp"
)

// Account settings and credentials of the SFTP inbox; see the package doc.
const (
	// SettingSFTPInbox is the inbox directory on the server; setting it enables
	// the inbox for the account.
	SettingSFTPInbox = "sftp_inbox"
	// SettingSFTPHost is the server's host name or address.
	SettingSFTPHost = "sftp_host"
	// SettingSFTPPort is the server's SSH port; 22 when unset.
	SettingSFTPPort = "sftp_port"
	// SettingSFTPUser is the login name.
	SettingSFTPUser = "sftp_user"
	// SettingSFTPKnownHosts is the server's host keys in known_hosts format.
	SettingSFTPKnownHosts = "sftp_known_hosts"
	// SettingSFTPPattern is a glob on file names; every file when unset.
	SettingSFTPPattern = "sftp_pattern"
	// SettingSFTPArchive is where processed files go; <inbox>/archive when unset.
	SettingSFTPArchive = "sftp_archive"
	// SettingSFTPFailed is where refused files go; <inbox>/failed when unset.
	SettingSFTPFailed = "sftp_failed"
	// SettingSFTPProcessing holds claimed files; <inbox>/.processing when unset.
	SettingSFTPProcessing = "sftp_processing"
	// CredentialSFTPPassword is the login password (a credential).
	CredentialSFTPPassword = "sftp_password"
	// CredentialSFTPPrivateKey is a PEM SSH private key (a credential).
	CredentialSFTPPrivateKey = "sftp_private_key"
	// CredentialSFTPPassphrase decrypts an encrypted private key (a credential).
	CredentialSFTPPassphrase = "sftp_passphrase"
)

// InboxSettingNames returns the account settings the SFTP inbox reads. They
// are the hub's rather than a connector's: an account of any connector that
// serves receive_push may carry them, whatever its manifest declares.
func InboxSettingNames() []string {
	return []string{SettingSFTPInbox, SettingSFTPHost, SettingSFTPPort, SettingSFTPUser, SettingSFTPKnownHosts,
		SettingSFTPPattern, SettingSFTPArchive, SettingSFTPFailed, SettingSFTPProcessing}
}

// InboxCredentialNames returns the account credentials the SFTP inbox reads;
// see InboxSettingNames.
func InboxCredentialNames() []string {
	return []string{CredentialSFTPPassword, CredentialSFTPPrivateKey, CredentialSFTPPassphrase}
}

// inboxSettings is one account's inbox, read from its settings and credentials.
// Paths are relative to the inbox, which the connection is confined to.
type inboxSettings struct {
	inbox      string // as configured, cleaned: the connection's root
	host       string
	port       int
	user       string
	knownHosts []byte
	pattern    string
	archive    string
	failed     string
	processing string
	password   string
	privateKey []byte
	passphrase []byte
	// fingerprint changes whenever anything above does (it is a hash, so it
	// holds no secret).
	fingerprint string
}

// leaseKey names the inbox in the store's lease table: server, user and
// directory, so an account moved to another server or directory gets a new one.
func (s *inboxSettings) leaseKey() string {
	return "sftp://" + s.user + "@" + net.JoinHostPort(s.host, strconv.Itoa(s.port)) + "/" + strings.TrimPrefix(s.inbox, "/")
}

// clientConfig returns the connection's configuration.
func (s *inboxSettings) clientConfig(cfg *InboxConfig) sftp.Config {
	return sftp.Config{Host: s.host, Port: s.port, User: s.user, Password: s.password,
		PrivateKeyPEM: s.privateKey, Passphrase: s.passphrase, KnownHosts: s.knownHosts,
		Root: s.inbox, DialTimeout: cfg.DialTimeout, MaxFileSize: cfg.MaxFileSize, Egress: cfg.Egress}
}

// settingError is an account's inbox configuration problem. Its message names
// the setting and never quotes a credential.
type settingError struct{ key, msg string }

func (e *settingError) Error() string { return e.key + ": " + e.msg }

// parseInboxSettings reads an account's inbox from its settings and
// credentials; ok is false when the account has no inbox (sftp_inbox unset).
func parseInboxSettings(a store.Account) (s *inboxSettings, ok bool, err error) {
	get := func(k string) string { return strings.TrimSpace(a.Settings[k]) }
	inbox := get(SettingSFTPInbox)
	if inbox == "" {
		return nil, false, nil
	}
	bad := func(key, format string, args ...any) (*inboxSettings, bool, error) {
		return nil, true, &settingError{key: key, msg: fmt.Sprintf(format, args...)}
	}
	if err := plainPath(inbox); err != "" {
		return bad(SettingSFTPInbox, "%s", err)
	}
	s = &inboxSettings{inbox: path.Clean(inbox), host: get(SettingSFTPHost), port: sftp.DefaultPort,
		user: get(SettingSFTPUser), pattern: get(SettingSFTPPattern)}
	switch {
	case s.host == "":
		return bad(SettingSFTPHost, "is required when %s is set", SettingSFTPInbox)
	case strings.ContainsAny(s.host, " /@\x00") || strings.ContainsFunc(s.host, isControl):
		return bad(SettingSFTPHost, "%q is not a host name or address", s.host)
	case s.user == "":
		return bad(SettingSFTPUser, "is required when %s is set", SettingSFTPInbox)
	case strings.ContainsFunc(s.user, isControl):
		return bad(SettingSFTPUser, "contains a control character")
	}
	if p := get(SettingSFTPPort); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return bad(SettingSFTPPort, "%q is not a port number (1 to 65535)", p)
		}
		s.port = n
	}
	kh := a.Settings[SettingSFTPKnownHosts]
	if strings.TrimSpace(kh) == "" {
		return bad(SettingSFTPKnownHosts, "is required: the server's host key is always checked (put the server's line from `ssh-keyscan -p PORT HOST` here)")
	}
	s.knownHosts = []byte(kh)
	if s.pattern == "" {
		s.pattern = "*"
	}
	if _, err := path.Match(s.pattern, ""); err != nil || strings.Contains(s.pattern, "/") {
		return bad(SettingSFTPPattern, "%q is not a glob on file names (path.Match syntax, no '/')", s.pattern)
	}
	for _, d := range []struct {
		key, def string
		dst      *string
	}{
		{SettingSFTPArchive, "archive", &s.archive},
		{SettingSFTPFailed, "failed", &s.failed},
		{SettingSFTPProcessing, ".processing", &s.processing},
	} {
		rel, msg := insideInbox(s.inbox, get(d.key), d.def)
		if msg != "" {
			return bad(d.key, "%s", msg)
		}
		*d.dst = rel
	}
	if s.archive == s.processing || s.failed == s.processing {
		return bad(SettingSFTPProcessing, "must differ from %s and %s", SettingSFTPArchive, SettingSFTPFailed)
	}
	s.password = a.Credentials[CredentialSFTPPassword]
	s.privateKey = []byte(a.Credentials[CredentialSFTPPrivateKey])
	s.passphrase = []byte(a.Credentials[CredentialSFTPPassphrase])
	if s.password == "" && len(s.privateKey) == 0 {
		return bad("credentials", "%s or %s is required", CredentialSFTPPassword, CredentialSFTPPrivateKey)
	}
	h := sha256.New()
	for _, part := range [][]byte{[]byte(s.inbox), []byte(s.host), []byte(strconv.Itoa(s.port)), []byte(s.user),
		s.knownHosts, []byte(s.pattern), []byte(s.archive), []byte(s.failed), []byte(s.processing),
		[]byte(s.password), s.privateKey, s.passphrase} {
		h.Write([]byte(strconv.Itoa(len(part)) + ":"))
		h.Write(part)
	}
	s.fingerprint = hex.EncodeToString(h.Sum(nil))
	return s, true, nil
}

// plainPath says what is wrong with a directory setting, or "" when nothing is.
func plainPath(p string) string {
	switch {
	case strings.ContainsFunc(p, isControl):
		return "contains a control character"
	case strings.Contains(p, `\`):
		return "contains a backslash; use '/'"
	}
	for _, elem := range strings.Split(p, "/") {
		if elem == ".." {
			return `must not contain ".."`
		}
	}
	return ""
}

// insideInbox turns a directory setting into a path relative to the inbox: a
// relative value is taken from the inbox, an absolute one must lie inside it
// (the connection is confined to the inbox), and empty means def.
func insideInbox(inbox, value, def string) (string, string) {
	if value == "" {
		return def, ""
	}
	if msg := plainPath(value); msg != "" {
		return "", msg
	}
	rel := path.Clean(value)
	if strings.HasPrefix(value, "/") {
		prefix := strings.TrimSuffix(inbox, "/") + "/"
		if !strings.HasPrefix(inbox, "/") || !strings.HasPrefix(rel, prefix) {
			return "", fmt.Sprintf("%q must be inside %s %q (the connection is confined to the inbox); a relative path is taken from the inbox", value, SettingSFTPInbox, inbox)
		}
		rel = strings.TrimPrefix(rel, prefix)
	}
	if rel == "." || rel == "" {
		return "", fmt.Sprintf("must differ from %s", SettingSFTPInbox)
	}
	return rel, ""
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// CheckInboxSettings says what is wrong with an account's SFTP inbox settings
// and credentials, as the inbox would find it when polling, so an account can be
// refused when it is created: key is the setting at fault ("credentials" when
// neither a password nor a private key is given) and problem the reason. Both
// are empty when the account has no inbox or its inbox is well formed.
func CheckInboxSettings(settings, credentials map[string]string) (key, problem string) {
	_, _, err := parseInboxSettings(store.Account{Settings: settings, Credentials: credentials})
	var se *settingError
	if errors.As(err, &se) {
		return se.key, se.msg
	}
	return "", ""
}
