#!/usr/bin/env bash
# Makes a Node.js available for the signing tests, which check v1a signatures with Node's
# own crypto, installing Debian's package when there is none, and prints its version.
set -euo pipefail

if ! command -v node >/dev/null 2>&1; then
	"$(dirname "${BASH_SOURCE[0]}")/apt-install.sh" nodejs
	command -v node >/dev/null 2>&1 || {
		echo "ensure-node: node is still missing after installing nodejs" >&2
		exit 1
	}
fi

node --version
