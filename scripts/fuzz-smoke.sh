#!/usr/bin/env bash
# Runs every Go fuzz target of the module for a short time (FUZZTIME, default
# 3s each), one at a time, as go test -fuzz requires. Targets are discovered
# with `go test -list`, so a new Fuzz function is picked up without editing
# this file. Every target runs even after a failure; the run fails at the end
# listing the failed targets (each failing input is written under its
# package's testdata/fuzz, ready to become a regression seed).
set -euo pipefail

GO=${GO:-go}
FUZZTIME=${FUZZTIME:-3s}
pkgs=${*:-./...}

# `go test -list` prints the matching names of a package, then "ok <pkg>".
# It runs first, on its own, so a package that does not compile fails the run.
list=$($GO test -list '^Fuzz' $pkgs)
targets=()
names=()
while read -r first second _; do
	case "$first" in
	Fuzz*) names+=("$first") ;;
	ok)
		for n in "${names[@]}"; do targets+=("$second $n"); done
		names=()
		;;
	*) names=() ;;
	esac
done <<<"$list"

if [ ${#targets[@]} -eq 0 ]; then
	echo "no fuzz targets found"
	exit 0
fi
echo "fuzzing ${#targets[@]} targets for $FUZZTIME each"
failed=()
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	echo "== $pkg $name"
	if ! $GO test -run='^$' -fuzz="^${name}\$" -fuzztime="$FUZZTIME" "$pkg"; then
		failed+=("$pkg $name")
	fi
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz smoke failed for ${#failed[@]} of ${#targets[@]} targets:" >&2
	printf '  %s\n' "${failed[@]}" >&2
	exit 1
fi
echo "fuzz smoke passed: ${#targets[@]} targets"
