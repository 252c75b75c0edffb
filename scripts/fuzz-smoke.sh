#!/usr/bin/env bash
# Runs every Go fuzz target of the module for a short time (FUZZTIME, default
# 3s each), one at a time, as go test -fuzz requires. Targets are discovered
# with `go test -list`, so a new Fuzz function is picked up without editing
# this file. Any crash fails the run (the failing input is written under the
# package's testdata/fuzz, ready to become a regression seed).
set -euo pipefail

GO=${GO:-go}
FUZZTIME=${FUZZTIME:-3s}
pkgs=${*:-./...}

# `go test -list` prints the matching names of a package, then "ok <pkg>".
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
done < <($GO test -list '^Fuzz' $pkgs)

if [ ${#targets[@]} -eq 0 ]; then
	echo "no fuzz targets found"
	exit 0
fi
echo "fuzzing ${#targets[@]} targets for $FUZZTIME each"
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	echo "== $pkg $name"
	$GO test -run='^$' -fuzz="^${name}\$" -fuzztime="$FUZZTIME" "$pkg"
done
