# shellcheck shell=bash
# .ci/loadbalancer.sh provides HAProxy for the replica tests (cmd/hub's
# TestReplicas), which start it themselves as a plain process on loopback
# with a config in a temp dir; no system service is started or enabled.
#
# Source it (do not execute it) from bash:
#
#     source .ci/loadbalancer.sh && go test -run Replicas ./cmd/hub
#
# It installs haproxy with apt-get when it is missing and exports HUB_HAPROXY,
# the binary the tests run. HAProxy rather than nginx: its active health checks
# take a replica whose /readyz answers 503 out of rotation, as a Kubernetes
# Service does, which the rolling restart relies on. With CI=true the tests fail instead of
# skipping when it is missing.

hub_lb_log() { echo "loadbalancer.sh: $*" >&2; }

hub_lb_prepare() {
	local sudo=""
	[ "$(id -u)" = 0 ] || sudo="sudo"
	if ! command -v haproxy >/dev/null 2>&1 && [ ! -x /usr/sbin/haproxy ]; then
		hub_lb_log "installing haproxy with apt-get"
		# policy-rc.d keeps the package from starting the system haproxy.
		local policy=/usr/sbin/policy-rc.d added=""
		if [ ! -e "$policy" ]; then
			printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null && $sudo chmod +x "$policy" && added=yes
		fi
		$sudo apt-get update -qq >&2 &&
			DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends haproxy >&2
		local rc=$?
		[ -n "$added" ] && $sudo rm -f "$policy"
		if [ "$rc" != 0 ]; then
			hub_lb_log "apt-get install haproxy failed"
			return 1
		fi
	fi
	HUB_HAPROXY="$(command -v haproxy || echo /usr/sbin/haproxy)"
	export HUB_HAPROXY
	hub_lb_log "$("$HUB_HAPROXY" -v 2>&1 | head -n 1) ready for the replica tests"
}

hub_lb_prepare
