#!/bin/sh
# SPDX-License-Identifier: MIT
#
# hotpath-compare.sh: iotlb-hotpath against earlier revisions of the library,
# in one sitting, runs interleaved (docs/performance.md, "The hot path").
#
#   bench/hotpath-compare.sh [--runs N] REV... [-- iotlb-hotpath options]
#
# Each REV is checked out in a temporary worktree and built (library only),
# and this tree's bench/hotpath.c, which uses the public API only, is compiled
# against it. The current build (build/, or $BUILD) is measured as "HEAD+".
# Then, N times (default 3), every variant runs once, in turn, so that the
# machine's drift touches them all alike. Output: one block per run and
# variant, as iotlb-hotpath prints it.
set -eu

runs=3
revs=""
while [ $# -gt 0 ]; do
	case "$1" in
	--runs) runs=$2; shift 2 ;;
	--) shift; break ;;
	*) revs="$revs $1"; shift ;;
	esac
done
top=$(git rev-parse --show-toplevel)
build=${BUILD:-$top/build}
work=$(mktemp -d "${TMPDIR:-/tmp}/iotlb-compare.XXXXXX")
trap 'for r in $revs; do git -C "$top" worktree remove --force "$work/$r" 2>/dev/null || true; done; rm -rf "$work"' EXIT

if [ ! -x "$build/bench/iotlb-hotpath" ]; then
	echo "hotpath-compare: $build/bench/iotlb-hotpath is not built (make build)" >&2
	exit 1
fi
for r in $revs; do
	echo "# building $r" >&2
	git -C "$top" worktree add -q --detach "$work/$r" "$r"
	cmake -S "$work/$r" -B "$work/$r/b" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DIOTLB_BUILD_TESTS=OFF -DIOTLB_BUILD_BENCH=OFF >/dev/null
	cmake --build "$work/$r/b" --target iotlb -j "$(nproc)" >/dev/null
	${CC:-cc} -O2 -I"$work/$r/include" -I"$work/$r/b/include" "$top/bench/hotpath.c" \
		-o "$work/$r/iotlb-hotpath" -L"$work/$r/b" -liotlb -Wl,-rpath,"$work/$r/b"
done
for i in $(seq 1 "$runs"); do
	for r in $revs; do
		echo "## run $i: $r ($(git -C "$top" rev-parse --short "$r"))"
		"$work/$r/iotlb-hotpath" "$@"
	done
	echo "## run $i: HEAD+ (this tree's build)"
	"$build/bench/iotlb-hotpath" "$@"
done
