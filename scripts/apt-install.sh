#!/usr/bin/env bash
# Installs Debian packages non-interactively: scripts/apt-install.sh PACKAGE...
#
# Shared by the ensure-*.sh scripts so every install waits for a busy apt the same way
# instead of failing because another install (or unattended-upgrades) holds the lock.
set -euo pipefail

if [ "$#" -eq 0 ]; then
	echo "usage: $0 PACKAGE..." >&2
	exit 2
fi

if ! command -v apt-get >/dev/null 2>&1; then
	echo "apt-get not found: install $* with this system's package manager" >&2
	exit 1
fi

# Installing needs root; use sudo when it is there rather than asking the user to rerun.
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		sudo_cmd=(sudo)
	else
		echo "installing $* needs root (and sudo is not available)" >&2
		exit 1
	fi
fi

# Wait up to 5 minutes for another apt/dpkg run to finish instead of failing at once.
# DEBIAN_FRONTEND goes through env because sudo drops the caller's environment.
apt_get=("${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive
	apt-get -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0 -q)

echo "installing $* (apt-get)" >&2
"${apt_get[@]}" -q update >&2
"${apt_get[@]}" install -y --no-install-recommends "$@" >&2
