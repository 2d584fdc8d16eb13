#!/usr/bin/env bash
# Makes the PostgreSQL server named by DATABASE_URL answer, and creates its database.
#
#   scripts/ensure-postgres.sh [--skip-create-db]     (or SKIP_CREATE_DB=1)
#
# A server that already answers is used as it is. Otherwise, when DATABASE_URL points at
# this machine, the local Debian cluster for that port is started, and PostgreSQL is
# installed first if there is none. A remote server is never installed or started: we can
# only wait for it. Runs without systemd: clusters are started with pg_ctlcluster.
set -euo pipefail

readonly default_url='postgres://postgres@127.0.0.1:5432/hookflow?sslmode=disable'
readonly ready_timeout=60

url=${DATABASE_URL:-$default_url}
skip_create_db=${SKIP_CREATE_DB:-0}
for arg in "$@"; do
	case $arg in
	--skip-create-db) skip_create_db=1 ;;
	*)
		echo "usage: $0 [--skip-create-db]" >&2
		exit 2
		;;
	esac
done

die() {
	echo "ensure-postgres: $*" >&2
	exit 1
}
say() { echo "ensure-postgres: $*" >&2; }

# pg_ctlcluster and pg_hba.conf need root; use sudo when we are not root.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		die "'$*' needs root (and sudo is not available)"
	fi
}

# --- Parse DATABASE_URL -------------------------------------------------------------------
# postgres[ql]://[user[:password]@]host[:port][/dbname][?params]. Only the parts this script
# needs: libpq itself reads the rest of the URL. The URL is never printed, and its password
# goes to psql and pg_isready through PGPASSWORD rather than their command lines, which
# other users of the machine can read.
url_re='^(postgres(ql)?://)([^/?#]*)(/[^?#]*)?(\?[^#]*)?$'
[[ $url =~ $url_re ]] || die "DATABASE_URL must be a postgres:// URL (postgres://user[:password]@host[:port]/database)"
scheme=${BASH_REMATCH[1]}
authority=${BASH_REMATCH[3]}
path=${BASH_REMATCH[4]}
query=${BASH_REMATCH[5]}

percent_decode() { printf '%b' "${1//%/\\x}"; }

userinfo=""
[[ $authority == *@* ]] && userinfo=${authority%@*}
hostport=${authority##*@}
if [[ $userinfo == *:* ]]; then
	PGPASSWORD=$(percent_decode "${userinfo#*:}")
	export PGPASSWORD
	userinfo=${userinfo%%:*}
fi
authority=${userinfo:+$userinfo@}$hostport
if [[ $hostport =~ ^\[([^]]*)\](:([0-9]+))?$ ]]; then # [::1]:5432
	host=${BASH_REMATCH[1]}
	port=${BASH_REMATCH[3]}
else
	host=${hostport%%:*}
	port=${hostport#"$host"}
	port=${port#:}
fi
# A host= or port= parameter (e.g. a Unix socket directory) overrides the authority part.
if [[ $query =~ [?\&]host=([^\&]*) ]]; then host=${BASH_REMATCH[1]}; fi
if [[ $query =~ [?\&]port=([^\&]*) ]]; then port=${BASH_REMATCH[1]}; fi
port=${port:-5432}

dbname=$(percent_decode "${path#/}")
host=$(percent_decode "$host")

# The server is probed through its maintenance database, which exists on every cluster, so
# a missing application database does not read as "server down".
admin_url="${scheme}${authority}/postgres${query}"

case $host in
'' | localhost | 127.* | ::1 | /*) is_local=1 ;;
*) is_local=0 ;;
esac

# --- Client tools -------------------------------------------------------------------------
if ! command -v pg_isready >/dev/null 2>&1 || ! command -v psql >/dev/null 2>&1; then
	"$(dirname "${BASH_SOURCE[0]}")/apt-install.sh" postgresql-client
fi

answers() { pg_isready -q -t 3 -d "$admin_url" >/dev/null 2>&1; }

# --- Server -------------------------------------------------------------------------------
# Prints "version cluster status" of the local Debian cluster listening on $port, if any.
local_cluster() {
	command -v pg_lsclusters >/dev/null 2>&1 || return 0
	pg_lsclusters --no-header 2>/dev/null |
		awk -v port="$port" '$3 == port { print $1, $2, $4; exit }'
}

# Debian's fresh cluster allows TCP logins only with a password (scram-sha-256); a dev
# machine connects as postgres without one, so loopback TCP is switched to trust. Only
# ever done for a cluster this script has just installed, never for an existing set-up.
trust_loopback() {
	local hba="/etc/postgresql/$1/$2/pg_hba.conf"
	say "allowing password-less loopback connections in $hba (fresh install)"
	as_root sed -i -E \
		's#^(host[[:space:]]+all[[:space:]]+all[[:space:]]+(127\.0\.0\.1/32|::1/128)[[:space:]]+)[^[:space:]]+#\1trust#' \
		"$hba"
}

if ! answers; then
	if [ "$is_local" -ne 1 ]; then
		say "waiting for the PostgreSQL server at $host:$port (not on this machine, so not started here)"
	else
		cluster=$(local_cluster)
		fresh_install=0
		if [ -z "$cluster" ]; then
			if [ -n "$(ls -A /etc/postgresql 2>/dev/null)" ]; then
				die "no local PostgreSQL cluster listens on port $port (pg_lsclusters lists: $(pg_lsclusters --no-header 2>/dev/null | awk '{print $1"/"$2":"$3}' | xargs))"
			fi
			"$(dirname "${BASH_SOURCE[0]}")/apt-install.sh" postgresql
			fresh_install=1
			cluster=$(local_cluster)
			[ -n "$cluster" ] || die "PostgreSQL was installed but no cluster listens on port $port"
		fi
		read -r version name status <<<"$cluster"
		if [ "$fresh_install" -eq 1 ]; then
			trust_loopback "$version" "$name"
		fi
		if [ "$status" = online ]; then
			# The package's own start may have beaten us to it; the new rules need a reload.
			[ "$fresh_install" -eq 0 ] || as_root pg_ctlcluster --skip-systemctl-redirect "$version" "$name" reload
		else
			say "starting PostgreSQL cluster $version/$name"
			as_root pg_ctlcluster --skip-systemctl-redirect "$version" "$name" start
		fi
	fi

	deadline=$((SECONDS + ready_timeout))
	until answers; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			hint=""
			[ "$is_local" -ne 1 ] || hint=" (check its log under /var/log/postgresql/)"
			die "PostgreSQL at ${host:-local socket}:$port did not answer within ${ready_timeout}s$hint"
		fi
		sleep 1
	done
fi

# --- Database -----------------------------------------------------------------------------
if [ "$skip_create_db" = 1 ]; then
	exit 0
fi
if [ -z "$dbname" ] || [ "$dbname" = postgres ]; then
	# No database named (libpq then uses the user's name) or the maintenance one: nothing
	# of ours to create.
	exit 0
fi

psql_admin() { psql -X -q -v ON_ERROR_STOP=1 -v db="$dbname" "$admin_url" "$@"; }

# pg_isready answers without logging in, so a server that refuses our login only shows here;
# a Debian PostgreSQL set up by someone else wants a password over TCP.
if ! login_error=$(psql_admin -tA <<<"SELECT 1" 2>&1 >/dev/null); then
	die "PostgreSQL at ${host:-local socket}:$port answers but refuses DATABASE_URL's login: ${login_error}
  Set DATABASE_URL with a user and password it accepts, e.g.
    DATABASE_URL='postgres://postgres:PASSWORD@127.0.0.1:5432/hookflow?sslmode=disable'
  or allow that user on loopback without one (trust for 127.0.0.1/32 in pg_hba.conf)."
fi

db_exists() {
	[ "$(psql_admin -tA <<<"SELECT 1 FROM pg_database WHERE datname = :'db'")" = 1 ]
}

if ! db_exists; then
	# Another process (a parallel make target) may create it between the check and the
	# CREATE; losing that race is fine as long as the database exists afterwards.
	create="SELECT format('CREATE DATABASE %I', :'db') \\gexec"
	if psql_admin <<<"$create" 2>/dev/null; then
		say "created database '$dbname'"
	elif ! db_exists; then
		psql_admin <<<"$create" # again, this time showing why it fails
		db_exists || die "could not create database '$dbname'"
	fi
fi
