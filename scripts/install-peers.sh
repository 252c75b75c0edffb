#!/usr/bin/env bash
# Installs the Debian packages of the interop test peers, but only when one of
# their binaries is missing. As root it runs apt-get; otherwise it prints what
# to install and fails, so a developer machine is never changed silently.
set -euo pipefail

binaries=(sipp baresip linphonec tshark sox ffmpeg espeak-ng)
packages=(sip-tester baresip linphone-cli tshark sox libsox-fmt-all espeak-ng ffmpeg)

missing=()
for b in "${binaries[@]}"; do
	command -v "$b" >/dev/null 2>&1 || missing+=("$b")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "interop peers present: ${binaries[*]}"
	exit 0
fi

echo "missing test peers: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "run as root, or install them yourself:" >&2
	echo "  sudo apt-get install --no-install-recommends ${packages[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update
apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${packages[@]}"
for b in "${binaries[@]}"; do
	command -v "$b" >/dev/null 2>&1 || { echo "still missing after install: $b" >&2; exit 1; }
done
