#!/usr/bin/env bash
# Makes a Temporal server answer at TEMPORAL_ADDRESS with hookflow's search attributes.
#
# When nothing answers there (and the address is on this machine), starts the pinned dev
# server (bin/temporal server start-dev, built by `make temporal`) in the background with
# its state in .data/temporal.db, its log in .data/temporal.log and its pid in
# .data/temporal.pid. When a server already answers, it is used as it is and only the
# search attributes are made sure of.
#
# Its only output on stdout is one line for the caller to read (or eval):
#   TEMPORAL_DEV_PID=<pid>   the server was started by this run: the caller stops it
#   TEMPORAL_DEV_PID=        an existing server is used: leave it alone
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
temporal=$root/bin/temporal
data_dir=$root/.data
log_file=$data_dir/temporal.log
pid_file=$data_dir/temporal.pid
readonly ready_timeout=60 existing_timeout=15

address=${TEMPORAL_ADDRESS:-127.0.0.1:7233}
namespace=${TEMPORAL_NAMESPACE:-default}
# hookflow tags every delivery workflow with these so operators can find deliveries in the
# Temporal UI by account, subscription, event type and status.
search_attributes=(HookflowAccountID HookflowSubscriptionID HookflowEventType HookflowDeliveryStatus)

die() {
	echo "temporal-dev: $*" >&2
	exit 1
}

[ -x "$temporal" ] || die "$temporal is missing: run 'make temporal' first"

host=${address%:*}
port=${address##*:}
host=${host#[}
host=${host%]}
[[ $port =~ ^[0-9]+$ ]] || die "TEMPORAL_ADDRESS must be host:port, got '$address'"

# A plain TCP connect: cheap, and tells "nothing there" apart from "starting up".
listening() { (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; }
healthy() { "$temporal" operator cluster health --address "$address" >/dev/null 2>&1; }

# The log is appended to across runs: show what this run's server wrote.
log_tail() {
	echo "last lines of $log_file:"
	awk '/^--- .* start-dev$/ { n = 0 } { lines[n++] = $0 } END { for (i = (n > 20 ? n - 20 : 0); i < n; i++) print lines[i] }' "$log_file" 2>/dev/null
}

# Waits for the server to be healthy; $1, when given, is the pid that must stay alive, and
# $2 how long to wait (ready_timeout by default).
wait_healthy() {
	local pid=${1:-} deadline=$((SECONDS + ${2:-$ready_timeout}))
	until healthy; do
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			die "the Temporal dev server exited while starting; $(log_tail)"
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			local detail=""
			[ -z "$pid" ] || detail="; $(log_tail)"
			[ -n "$pid" ] || detail=": something listens there but does not answer as a Temporal server (another program on that port? set TEMPORAL_ADDRESS)"
			die "Temporal at $address was not healthy within ${2:-$ready_timeout}s$detail"
		fi
		sleep 0.5
	done
}

# Creating an attribute that exists with the same type is a no-op for Temporal, so this is
# safe to repeat; a server that predates hookflow gets them on first use. One call per
# attribute: given several --name flags and one --type, the CLI registers only the first.
ensure_search_attributes() {
	local name out
	for name in "${search_attributes[@]}"; do
		if ! out=$("$temporal" operator search-attribute create --name "$name" --type Keyword \
			--address "$address" --namespace "$namespace" 2>&1); then
			case $out in
			*"already exists"*) ;;
			*) die "could not register the search attribute $name on $address ($namespace): $out" ;;
			esac
		fi
	done
}

# A dev server this script started earlier may still be coming up (two runs at once).
our_server_pid() {
	local pid
	[ -f "$pid_file" ] || return 1
	pid=$(cat "$pid_file")
	[[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
		tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "server start-dev" &&
		echo "$pid"
}

# Stops the server this run started and waits for it (it is our child, so `wait` works),
# forcing it after a while: it finishes starting up before it honours TERM.
# The timer is a bare sleep with its output closed, so it can be killed outright and holds
# no pipe open for a caller reading our stdout.
abandon_start() {
	local timer finished=""
	kill -TERM "$started_pid" 2>/dev/null || true
	sleep 30 >/dev/null 2>&1 &
	timer=$!
	wait -n -p finished "$started_pid" "$timer" 2>/dev/null || true
	if [ "$finished" = "$timer" ]; then
		kill -KILL "$started_pid" 2>/dev/null || true
	else
		kill "$timer" 2>/dev/null || true
	fi
	wait 2>/dev/null || true
	rm -f "$pid_file"
}

started_pid=""
if listening; then
	# A server that is already up answers at once; one still starting gets a little while.
	wait_healthy "" "$existing_timeout"
elif starting_pid=$(our_server_pid); then
	wait_healthy "$starting_pid"
else
	case $host in
	localhost | 127.* | ::1) ;;
	*) die "nothing answers at TEMPORAL_ADDRESS=$address (only a server on this machine is started here)" ;;
	esac
	ip=$host
	[ "$ip" = localhost ] && ip=127.0.0.1

	mkdir -p "$data_dir"
	echo "starting the Temporal dev server on $address (UI port $((port + 1000)), log $log_file)" >&2
	echo "--- $(date -u +%FT%TZ) start-dev" >>"$log_file"
	attribute_flags=()
	for name in "${search_attributes[@]}"; do attribute_flags+=(--search-attribute "$name=Keyword"); done
	# setsid: a Ctrl-C in the terminal does not reach the server; whoever started us stops
	# it, after hookflow has shut down rather than while hookflow's worker still drains.
	# stdout/stderr go to the log so a caller capturing our stdout does not wait on it.
	# WAL with synchronous=full: a commit survives a crash and a power loss, as with
	# SQLite's defaults, at 1.7× their speed; synchronous=normal would be faster still but
	# can lose the last commits on a power loss (`make bench` measures all three, (f)).
	setsid "$temporal" server start-dev \
		--ip "$ip" --port "$port" --ui-port $((port + 1000)) \
		--db-filename "$data_dir/temporal.db" \
		--sqlite-pragma journal_mode=wal --sqlite-pragma synchronous=full \
		--namespace "$namespace" \
		"${attribute_flags[@]}" \
		--log-level warn \
		</dev/null >>"$log_file" 2>&1 &
	started_pid=$!
	echo "$started_pid" >"$pid_file"
	# Until the pid is handed to the caller, a failure (or a Ctrl-C) here must not leave a
	# server behind that nobody knows to stop.
	trap abandon_start EXIT
	wait_healthy "$started_pid"
fi

ensure_search_attributes
trap - EXIT
echo "TEMPORAL_DEV_PID=$started_pid"
