#!/bin/sh
# Registers the custom search attributes hookflow indexes its delivery workflows by, so
# operators can filter them in the Temporal UI. Each argument is one Keyword attribute.
#
# Safe to run any number of times: an attribute that is already registered is left alone.
# It waits for the namespace first because auto-setup creates it only after the server is
# serving, and a fresh PostgreSQL-backed cluster can take a while to get there.
set -eu

address="${TEMPORAL_ADDRESS:-temporal:7233}"
namespace="${TEMPORAL_NAMESPACE:-default}"
tries="${REGISTER_TRIES:-90}"
pause="${REGISTER_PAUSE_SECONDS:-2}"

if [ "$#" -eq 0 ]; then
	echo "usage: $0 SEARCH_ATTRIBUTE..." >&2
	exit 2
fi
if ! command -v temporal >/dev/null 2>&1; then
	echo "$0: Temporal's CLI (temporal) is not on PATH; in a checkout, make temporal builds it into bin/" >&2
	exit 1
fi

temporal_cli() {
	temporal --address "$address" "$@"
}

is_registered() {
	temporal_cli operator search-attribute list --namespace "$namespace" 2>/dev/null |
		grep -Eq "^[[:space:]]*$1[[:space:]]+Keyword([[:space:]]|\$)"
}

n=0
until temporal_cli operator namespace describe --namespace "$namespace" >/dev/null 2>&1; do
	n=$((n + 1))
	if [ "$n" -ge "$tries" ]; then
		echo "namespace $namespace not reachable at $address after $tries tries" >&2
		exit 1
	fi
	sleep "$pause"
done

for name in "$@"; do
	n=0
	# The list is the proof: a creation becomes visible a moment later, so keep checking.
	until is_registered "$name"; do
		n=$((n + 1))
		if [ "$n" -gt "$tries" ]; then
			echo "could not register $name in $namespace after $tries tries" >&2
			exit 1
		fi
		if ! out=$(temporal_cli operator search-attribute create \
			--namespace "$namespace" --name "$name" --type Keyword 2>&1); then
			case "$out" in
			*"different type"*)
				echo "$name exists in $namespace with another type; hookflow needs Keyword: $out" >&2
				exit 1
				;;
			*"already exists"*) ;;
			*) echo "registering $name (try $n): $out" >&2 ;;
			esac
		fi
		sleep "$pause"
	done
	echo "$name: registered (Keyword) in $namespace"
done
