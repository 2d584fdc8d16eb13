#!/usr/bin/env bash
# Makes a Chromium available for the dashboard's browser tests, installing Debian's package
# when there is none, and prints its version.
set -euo pipefail

find_chromium() {
	command -v chromium 2>/dev/null && return 0
	[ -x /usr/bin/chromium ] && echo /usr/bin/chromium && return 0
	return 1
}

if ! chromium=$(find_chromium); then
	"$(dirname "${BASH_SOURCE[0]}")/apt-install.sh" chromium
	chromium=$(find_chromium) || {
		echo "ensure-chromium: chromium is still missing after installing it" >&2
		exit 1
	}
fi

# Debian's launcher script can print shell warnings of its own on stderr; only the
# version line matters here.
"$chromium" --version 2>/dev/null
