# shellcheck shell=bash
# .ci/openssh.sh makes sure the SFTP transport's tests can start a real OpenSSH server.
#
# Source it (do not execute it) from bash:
#
#     source .ci/openssh.sh && go test -race ./sdk/transport/sftp/...
#
# The tests start their own sshd (internal-sftp, keys generated in the test) on
# 127.0.0.1 and a free port, and stop it themselves; this script only provides what
# they need: /usr/sbin/sshd and ssh-keygen (apt-get install openssh-server when
# missing) and sshd's privilege-separation directory /run/sshd. With CI=true the
# tests fail instead of skipping when sshd is missing. No system service is
# started or enabled.

hub_ssh_log() { echo "openssh.sh: $*" >&2; }

hub_ssh_prepare() {
	local sudo=""
	[ "$(id -u)" = 0 ] || sudo="sudo"
	if [ ! -x /usr/sbin/sshd ] || ! command -v ssh-keygen >/dev/null 2>&1; then
		hub_ssh_log "installing openssh-server with apt-get"
		# policy-rc.d keeps the package from starting the system sshd on port 22.
		local policy=/usr/sbin/policy-rc.d added=""
		if [ ! -e "$policy" ]; then
			printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null && $sudo chmod +x "$policy" && added=yes
		fi
		$sudo apt-get update -qq >&2 &&
			DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends openssh-server >&2
		local rc=$?
		[ -n "$added" ] && $sudo rm -f "$policy"
		if [ "$rc" != 0 ] || [ ! -x /usr/sbin/sshd ]; then
			hub_ssh_log "apt-get install openssh-server failed"
			return 1
		fi
	fi
	$sudo mkdir -p /run/sshd && $sudo chmod 0755 /run/sshd || {
		hub_ssh_log "cannot create /run/sshd"
		return 1
	}
	hub_ssh_log "$(/usr/sbin/sshd -V 2>&1 | head -n 1) ready for the SFTP tests"
}

hub_ssh_prepare
