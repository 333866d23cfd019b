package inbound_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/carrierhub/hub/sdk/transport/sftp/sftptest"
)

// sshd is a real OpenSSH server (sftptest) with the inbox helpers these tests
// use.
type sshd struct{ *sftptest.Server }

// startSSHD starts sshd, or skips the test when it is not installed (fails
// under CI=true, where the SFTP tests must run).
func startSSHD(t *testing.T) *sshd { return &sshd{sftptest.Start(t, sftptest.Options{})} }

// inbox makes a directory for an account's inbox on the server's disk and
// returns its absolute path.
func (s *sshd) inbox(t *testing.T, name string) string {
	t.Helper()
	d := filepath.Join(s.Root, name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// settings returns an account's inbox settings for dir.
func (s *sshd) settings(dir string) map[string]string {
	return map[string]string{"sftp_inbox": dir, "sftp_host": "127.0.0.1", "sftp_port": strconv.Itoa(s.Port),
		"sftp_user": s.User, "sftp_known_hosts": s.KnownHosts}
}
