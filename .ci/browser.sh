# shellcheck shell=bash
# .ci/browser.sh provides what the console's browser tests need: Debian's
# Chromium (run headless by the tests) and axe-core, the accessibility engine the
# tests run inside that browser.
#
# Source it (do not execute it) from bash:
#
#     source .ci/browser.sh && go test -run Console ./cmd/hub
#
# It installs chromium with apt-get when missing and axe-core with npm into
# ~/.cache/hub-ci (once per version), and exports HUB_CHROMIUM and HUB_AXE_JS,
# the paths the tests read. With CI=true the tests fail instead of skipping when
# either is missing.

hub_browser_log() { echo "browser.sh: $*" >&2; }

# HUB_AXE_VERSION is the axe-core release the tests run.
HUB_AXE_VERSION="${HUB_AXE_VERSION:-4.14.1}"

hub_browser_prepare() {
	local sudo=""
	[ "$(id -u)" = 0 ] || sudo="sudo"
	if ! command -v chromium >/dev/null 2>&1; then
		hub_browser_log "installing chromium with apt-get"
		$sudo apt-get update -qq >&2 &&
			DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2 || {
			hub_browser_log "apt-get install chromium failed"
			return 1
		}
	fi
	HUB_CHROMIUM="$(command -v chromium)"
	export HUB_CHROMIUM

	local dir="${XDG_CACHE_HOME:-$HOME/.cache}/hub-ci/axe-core-$HUB_AXE_VERSION"
	if [ ! -f "$dir/node_modules/axe-core/axe.min.js" ]; then
		if ! command -v npm >/dev/null 2>&1; then
			hub_browser_log "installing npm with apt-get"
			DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends npm >&2 || {
				hub_browser_log "apt-get install npm failed"
				return 1
			}
		fi
		hub_browser_log "installing axe-core $HUB_AXE_VERSION with npm"
		mkdir -p "$dir" && npm install --silent --no-audit --no-fund --prefix "$dir" "axe-core@$HUB_AXE_VERSION" >&2 || {
			hub_browser_log "npm install axe-core failed"
			return 1
		}
	fi
	HUB_AXE_JS="$dir/node_modules/axe-core/axe.min.js"
	export HUB_AXE_JS
	hub_browser_log "$("$HUB_CHROMIUM" --version 2>/dev/null | head -n 1) and axe-core $HUB_AXE_VERSION ready for the console's tests"
}

hub_browser_prepare
