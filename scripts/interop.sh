#!/usr/bin/env bash
# Runs the interop tests (package ./interop) against a pure-Go roomgate
# binary (CGO_ENABLED=0, as shipped). The test harness itself is compiled with
# the race detector, and ROOMGATE_RACE=1 builds the server with it too (much
# slower: for hunting races under real peers, not for CI). Everything is
# compiled first; then, when possible (root and unshare(1)), the tests run
# inside a fresh network namespace that only has the loopback interface, so
# no peer can send a packet anywhere else whatever its defaults. Otherwise
# they run directly (peers are still configured for 127.0.0.1 only).
#
# Environment: GO (go command), ROOMGATE_BIN (test this binary instead of
# building one), ROOMGATE_RACE, INTEROP_TIMEOUT (default 10m), INTEROP_RUN
# (a -run pattern), INTEROP_FLAGS (extra test flags, e.g. -test.v).
set -euo pipefail

GO=${GO:-go}
timeout=${INTEROP_TIMEOUT:-10m}
root=$(cd "$(dirname "$0")/.." && pwd)
given_bin=${ROOMGATE_BIN:+$(realpath "$ROOMGATE_BIN")}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$root"
if [ -n "$given_bin" ]; then
	cp "$given_bin" "$work/roomgate" # a binary built elsewhere
elif [ "${ROOMGATE_RACE:-0}" = 1 ]; then
	CGO_ENABLED=1 $GO build -race -o "$work/roomgate" ./cmd/roomgate
else
	CGO_ENABLED=0 $GO build -o "$work/roomgate" ./cmd/roomgate
fi
CGO_ENABLED=1 $GO test -race -c -o "$work/interop.test" ./interop

args=(-test.timeout "$timeout")
if [ -n "${INTEROP_RUN:-}" ]; then args+=(-test.run "$INTEROP_RUN"); fi
# shellcheck disable=SC2206
args+=(${INTEROP_FLAGS:-})

cd "$root/interop"
export ROOMGATE_BIN="$work/roomgate"
if [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null && unshare -n true 2>/dev/null; then
	echo "interop: running in a loopback-only network namespace"
	unshare -n sh -c 'ip link set lo up && exec "$0" "$@"' "$work/interop.test" "${args[@]}"
	exit
fi
echo "interop: no network namespace available (needs root and unshare); running on the host's loopback"
"$work/interop.test" "${args[@]}"
