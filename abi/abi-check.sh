#!/bin/sh
# ABI check of libiotlb.so.0 against the committed baseline (abi/libiotlb.abi).
#
#   abi-check.sh check <libiotlb.so.0> <baseline.abi> <header dir>...
#   abi-check.sh dump  <libiotlb.so.0> <baseline.abi> <header dir>...
#
# check: abidiff (Debian: abigail-tools) compares the exported functions and
# the public types reachable from them. Additions (new functions, members
# appended to a versioned struct, see additions.abignore) are reported and
# pass; anything removed or changed fails with abidiff's report. After a
# deliberate API addition, regenerate the baseline with `make abi-baseline`.
# dump: writes the baseline from the library and the public headers.
set -u

mode=$1 lib=$2 baseline=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)

hd=""
for d in "$@"; do
	hd="$hd --headers-dir $d"
done

for tool in abidw abidiff; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "abi-check: $tool not found (Debian: abigail-tools; make deps installs it)"
		exit 1
	fi
done
if [ ! -f "$lib" ]; then
	echo "abi-check: $lib not found (build the library first)"
	exit 1
fi

case "$mode" in
dump)
	# Short, path-free locations and hashed type ids keep the committed file
	# stable across build directories and checkouts.
	# shellcheck disable=SC2086
	abidw $hd --drop-private-types --drop-undefined-syms --no-corpus-path \
		--no-comp-dir-path --short-locs --type-id-style hash \
		--out-file "$baseline" "$lib" || exit 1
	echo "abi-check: wrote $baseline from $lib"
	exit 0
	;;
check) ;;
*)
	echo "abi-check: unknown mode '$mode' (check or dump)"
	exit 1
	;;
esac

if [ ! -f "$baseline" ]; then
	echo "abi-check: no baseline $baseline (make abi-baseline writes it)"
	exit 1
fi
# abidiff needs debug information to see types; without it every check would
# pass on symbols alone.
if ! readelf -S "$lib" 2>/dev/null | grep -q '\.debug_info'; then
	echo "abi-check: $lib has no debug information (build with -g, e.g. RelWithDebInfo)"
	exit 1
fi

report=$(mktemp)
trap 'rm -f "$report"' EXIT
# shellcheck disable=SC2086
abidiff --suppressions "$here/additions.abignore" --drop-private-types \
	$(for d in "$@"; do printf -- '--hd2 %s ' "$d"; done) \
	"$baseline" "$lib" >"$report" 2>&1
rc=$?

# abidiff's exit status is a bit set: 1 error, 2 usage error, 4 ABI change,
# 8 incompatible change. Bit 4 alone also covers type changes libabigail does
# not call incompatible, so the summary decides: only "Added" may be non-zero.
removed_or_changed=$(grep -E 'changes summary:' "$report" |
	grep -oE '[0-9]+ (Removed|Changed)' | awk '$1 > 0' | head -1)

if [ $((rc & 3)) -ne 0 ]; then
	echo "abi-check: FAILED: abidiff could not compare (exit status $rc):"
	cat "$report"
	exit 1
fi
if [ $((rc & 8)) -ne 0 ] || [ -n "$removed_or_changed" ]; then
	echo "abi-check: FAILED: the ABI of $lib differs from $baseline"
	echo "abi-check: something was removed or changed; this breaks callers of libiotlb.so.0."
	echo "abi-check: abidiff report (exit status $rc):"
	echo "----------------------------------------------------------------------"
	cat "$report"
	echo "----------------------------------------------------------------------"
	echo "abi-check: undo the change, or (for a deliberate break) bump the SOVERSION."
	exit 1
fi
if [ $((rc & 4)) -ne 0 ] || grep -q 'filtered out' "$report"; then
	# Show the additions in full, appended struct members included (the
	# suppressions hide those from the decision above, not from the reader).
	echo "abi-check: ok, additions only (run 'make abi-baseline' to record them):"
	# shellcheck disable=SC2086
	abidiff --drop-private-types $(for d in "$@"; do printf -- '--hd2 %s ' "$d"; done) \
		"$baseline" "$lib"
	exit 0
fi
echo "abi-check: ok, $lib matches $baseline"
exit 0
