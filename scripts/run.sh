#!/usr/bin/env bash
# `make run`: everything hookflow needs on one machine, then `hookflow serve` in the
# foreground. Ctrl-C (or SIGTERM) stops hookflow and the Temporal dev server if this run
# started it; anything that was already running is left running.
#
# PostgreSQL is left running even when this run started it: it is a system service other
# projects may use, and starting it again costs seconds, not state.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
scripts=$root/scripts
hookflow=$root/bin/hookflow
data_dir=$root/.data
admin_key_file=$data_dir/admin-key
# hookflow's own shutdown takes at most HOOKFLOW_SHUTDOWN_TIMEOUT (30s by default); give
# it that and some slack before forcing it.
readonly hookflow_grace=45
readonly temporal_grace=30

die() {
	echo "run: $*" >&2
	exit 1
}

[ -x "$hookflow" ] || die "$hookflow is missing: run 'make run' (it builds it)"

# The defaults are hookflow's own (see the README's Configuration); they are spelled out here because the
# set-up scripts and the banner need the same values hookflow will use.
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/hookflow?sslmode=disable}
export TEMPORAL_ADDRESS=${TEMPORAL_ADDRESS:-127.0.0.1:7233}
export TEMPORAL_NAMESPACE=${TEMPORAL_NAMESPACE:-default}
export HOOKFLOW_HTTP_ADDR=${HOOKFLOW_HTTP_ADDR:-127.0.0.1:8080}

mkdir -p "$data_dir"

# --- Stopping what we started -------------------------------------------------------------
temporal_pid=""
hookflow_pid=""

# Both functions run from the traps below, which shellcheck does not follow.
# shellcheck disable=SC2317
# Sends TERM to a process that is not our child, waits for it to go, then forces it.
stop_pid() {
	local pid=$1 grace=$2 deadline
	kill -TERM "$pid" 2>/dev/null || return 0
	deadline=$((SECONDS + grace))
	while kill -0 "$pid" 2>/dev/null; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			kill -KILL "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.2
	done
}

# shellcheck disable=SC2317
stop_all() {
	# Runs once, whichever of INT, TERM or EXIT comes first.
	trap - INT TERM EXIT
	if [ -n "$hookflow_pid" ]; then
		echo "run: stopping hookflow" >&2
		kill -TERM "$hookflow_pid" 2>/dev/null || true
		# hookflow is our child, so waiting reaps it; whichever of it and a timer ends first
		# decides whether it has to be forced.
		local timer finished=""
		sleep "$hookflow_grace" >/dev/null 2>&1 &
		timer=$!
		wait -n -p finished "$hookflow_pid" "$timer" 2>/dev/null || true
		if [ "$finished" = "$timer" ]; then
			echo "run: hookflow did not stop within ${hookflow_grace}s; killing it" >&2
			kill -KILL "$hookflow_pid" 2>/dev/null || true
		else
			kill "$timer" 2>/dev/null || true
		fi
		wait 2>/dev/null || true
	fi
	# Stopped after hookflow, so its worker can finish talking to Temporal on the way out.
	if [ -n "$temporal_pid" ]; then
		echo "run: stopping the Temporal dev server" >&2
		stop_pid "$temporal_pid" "$temporal_grace"
		rm -f "$data_dir/temporal.pid"
	fi
}
# Ctrl-C is how a user stops it: a clean stop, so no error for make to report.
trap 'stop_all; echo "run: stopped" >&2; exit 0' INT
trap 'stop_all; exit 143' TERM
trap stop_all EXIT

# --- Dependencies -------------------------------------------------------------------------
"$scripts/ensure-postgres.sh"

temporal_out=$("$scripts/temporal-dev.sh")
case $temporal_out in
TEMPORAL_DEV_PID=*) temporal_pid=${temporal_out#TEMPORAL_DEV_PID=} ;;
*) die "unexpected output from temporal-dev.sh: $temporal_out" ;;
esac

# --- Configuration ------------------------------------------------------------------------
# The admin key is kept in .data so a restart keeps the key the user already has in their
# shell history and scripts.
generate_admin_key() {
	local random
	if command -v openssl >/dev/null 2>&1; then
		random=$(openssl rand -hex 16)
	else
		random=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
	fi
	echo "hfa_$random"
}

key_source="from HOOKFLOW_ADMIN_KEY"
if [ -z "${HOOKFLOW_ADMIN_KEY:-}" ]; then
	key_source="kept in ${admin_key_file#"$root/"}"
	if [ -s "$admin_key_file" ]; then
		HOOKFLOW_ADMIN_KEY=$(tr -d '[:space:]' <"$admin_key_file")
	else
		HOOKFLOW_ADMIN_KEY=$(generate_admin_key)
		# The key is a credential: mktemp creates the file with mode 600 before it holds
		# anything, and the rename makes it appear whole.
		key_tmp=$(mktemp "$admin_key_file.XXXXXX")
		echo "$HOOKFLOW_ADMIN_KEY" >"$key_tmp"
		mv "$key_tmp" "$admin_key_file"
	fi
fi
export HOOKFLOW_ADMIN_KEY

# The key that encrypts signing secrets at rest is kept beside the admin key: losing it
# would make every stored secret unreadable, so it is generated once and reused.
secrets_key_file=$data_dir/secrets-key
if [ -z "${HOOKFLOW_SECRETS_KEY:-}" ]; then
	if [ ! -s "$secrets_key_file" ]; then
		secrets_tmp=$(mktemp "$secrets_key_file.XXXXXX")
		"$root/bin/hookflow" secrets generate-key >"$secrets_tmp"
		mv "$secrets_tmp" "$secrets_key_file"
	fi
	HOOKFLOW_SECRETS_KEY=$(tr -d '[:space:]' <"$secrets_key_file")
fi
export HOOKFLOW_SECRETS_KEY

# A dev machine's receivers are usually on localhost, which hookflow refuses by default.
export HOOKFLOW_ALLOW_PRIVATE_NETWORKS=${HOOKFLOW_ALLOW_PRIVATE_NETWORKS:-true}
temporal_port=${TEMPORAL_ADDRESS##*:}
export HOOKFLOW_TEMPORAL_UI_URL=${HOOKFLOW_TEMPORAL_UI_URL:-http://127.0.0.1:$((temporal_port + 1000))}

# --- Migrate, then serve ------------------------------------------------------------------
"$hookflow" migrate

# The address hookflow listens on may be a wildcard; a browser needs a concrete host.
http_host=${HOOKFLOW_HTTP_ADDR%:*}
http_port=${HOOKFLOW_HTTP_ADDR##*:}
case $http_host in
'' | 0.0.0.0 | '[::]' | '::') http_host=127.0.0.1 ;;
*) ;;
esac
base_url="http://$http_host:$http_port"

cat <<EOF

  hookflow is starting
    API          $base_url/v1
    dashboard    $base_url/
    Temporal UI  $HOOKFLOW_TEMPORAL_UI_URL
    admin key    $HOOKFLOW_ADMIN_KEY   ($key_source)

  create an account:
    curl -s -X POST $base_url/v1/accounts -H "Authorization: Bearer $HOOKFLOW_ADMIN_KEY" -H 'Content-Type: application/json' -d '{"name":"Acme"}'

  Ctrl-C stops hookflow$([ -n "$temporal_pid" ] && echo " and the Temporal dev server").

EOF

# In its own session so a Ctrl-C in the terminal reaches only this script, which then
# sends hookflow a single TERM: a second signal would cut its graceful shutdown short.
# In the background so this script's traps run at once rather than after hookflow exits.
setsid "$hookflow" serve &
hookflow_pid=$!
status=0
wait "$hookflow_pid" || status=$?
hookflow_pid=""
exit "$status"
