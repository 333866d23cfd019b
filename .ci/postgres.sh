# shellcheck shell=bash
# .ci/postgres.sh starts a throw-away PostgreSQL server for the store's tests.
#
# Source it (do not execute it) from bash:
#
#     source .ci/postgres.sh && go test -race ./engine/store/...
#
# It installs PostgreSQL with apt-get when no /usr/lib/postgresql/*/bin/initdb exists,
# creates a cluster in a fresh temporary directory (trust authentication, fsync off),
# starts it on 127.0.0.1 on a free port with its socket in that directory, waits until
# pg_isready answers, and exports
#
#     HUB_POSTGRES_URL=postgres://postgres@127.0.0.1:<port>/postgres?sslmode=disable
#
# The server is stopped and its directory removed by hub_pg_stop, which is registered
# on the shell's EXIT trap (after any EXIT trap already set) and may also be called
# directly. PostgreSQL refuses to run as root, so as root the server runs as the
# "postgres" user through runuser; as any other user it runs as that user.
# Sourcing twice in one shell reuses the running server.

hub_pg_log() { echo "postgres.sh: $*" >&2; }

# hub_pg_as runs a command as the server's user.
hub_pg_as() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# hub_pg_free_port prints a TCP port on 127.0.0.1 that nothing listens on now.
hub_pg_free_port() {
	local port i
	for i in $(seq 1 50); do
		port=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	return 1
}

# hub_pg_stop stops the server started by hub_pg_start and deletes its files.
hub_pg_stop() {
	if [ -n "${HUB_PG_DIR:-}" ] && [ -d "$HUB_PG_DIR" ]; then
		if [ -f "$HUB_PG_DIR/data/postmaster.pid" ]; then
			hub_pg_as "$HUB_PG_BIN/pg_ctl" -D "$HUB_PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 ||
				hub_pg_log "pg_ctl stop failed; see $HUB_PG_DIR/log"
		fi
		rm -rf "$HUB_PG_DIR"
	fi
	unset HUB_PG_DIR HUB_PG_BIN HUB_PG_PORT HUB_POSTGRES_URL
}

hub_pg_start() {
	if [ -n "${HUB_PG_DIR:-}" ] && [ -n "${HUB_POSTGRES_URL:-}" ] &&
		"$HUB_PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$HUB_PG_PORT" 2>/dev/null; then
		hub_pg_log "reusing the server at 127.0.0.1:$HUB_PG_PORT"
		return 0
	fi

	local initdb
	initdb=$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1)
	if [ -z "$initdb" ]; then
		hub_pg_log "installing postgresql with apt-get"
		local sudo=""
		[ "$(id -u)" = 0 ] || sudo="sudo"
		$sudo apt-get update -qq >&2 &&
			DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >&2 || {
			hub_pg_log "apt-get install postgresql failed"
			return 1
		}
		initdb=$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1)
		if [ -z "$initdb" ]; then
			hub_pg_log "no initdb under /usr/lib/postgresql after installing"
			return 1
		fi
	fi
	HUB_PG_BIN=$(dirname "$initdb")

	HUB_PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/hub-pg.XXXXXX") || return 1
	if [ "$(id -u)" = 0 ]; then
		chown postgres "$HUB_PG_DIR" || return 1
	fi
	if ! hub_pg_as "$HUB_PG_BIN/initdb" -D "$HUB_PG_DIR/data" -A trust -U postgres >"$HUB_PG_DIR/initdb.log" 2>&1; then
		hub_pg_log "initdb failed:"
		cat "$HUB_PG_DIR/initdb.log" >&2
		hub_pg_stop
		return 1
	fi

	# Another process may take the port between choosing and binding: try a few.
	local attempt started=""
	for attempt in 1 2 3 4 5; do
		HUB_PG_PORT=$(hub_pg_free_port) || break
		if hub_pg_as "$HUB_PG_BIN/pg_ctl" -D "$HUB_PG_DIR/data" -l "$HUB_PG_DIR/log" -w -t 30 \
			-o "-p $HUB_PG_PORT -k $HUB_PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
			start >/dev/null 2>&1; then
			started=yes
			break
		fi
		hub_pg_log "start on port $HUB_PG_PORT failed (attempt $attempt)"
	done
	if [ -z "$started" ]; then
		hub_pg_log "could not start postgres; server log:"
		cat "$HUB_PG_DIR/log" >&2 2>/dev/null
		hub_pg_stop
		return 1
	fi

	local i
	for i in $(seq 1 100); do
		"$HUB_PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$HUB_PG_PORT" && break
		sleep 0.1
	done
	if ! "$HUB_PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$HUB_PG_PORT"; then
		hub_pg_log "postgres did not become ready; server log:"
		cat "$HUB_PG_DIR/log" >&2
		hub_pg_stop
		return 1
	fi

	# Run hub_pg_stop at exit, then whatever EXIT trap the shell already had.
	local prev
	prev=$(trap -p EXIT)
	prev=${prev#trap -- \'}
	prev=${prev%\' EXIT}
	prev=${prev//\'\\\'\'/\'}
	case "$prev" in
	*hub_pg_stop*) ;;
	"") trap 'hub_pg_stop' EXIT ;;
	*) trap "hub_pg_stop; $prev" EXIT ;;
	esac

	export HUB_PG_DIR HUB_PG_BIN HUB_PG_PORT
	export HUB_POSTGRES_URL="postgres://postgres@127.0.0.1:$HUB_PG_PORT/postgres?sslmode=disable"
	hub_pg_log "$("$HUB_PG_BIN/postgres" --version) ready; HUB_POSTGRES_URL=$HUB_POSTGRES_URL"
}

hub_pg_start
