# SPDX-License-Identifier: GPL-2.0-only
# What the benchmark scripts (bench/NAME.sh) share, sourced first thing:
#   . "$(dirname "$0")/lib.bash"
# (not a bench/*.sh itself, so bench/run does not take it for a benchmark).
# Sourcing it sets strict mode and root (the source tree).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

# bench_init USAGE "$@": a shell benchmark's paths and options.
#   VMM, GUEST  default root/build's mini-vmm and guest-stub/guest.elf
#   BUILD       default root/build
#   --quick     calls bench_quick, which the script defines (smaller sizes)
#   --json F    json=F; default bench/results/NAME.json; its folder is made
#   --OPT V     OPT=V for each OPT named in BENCH_VALUE_OPTS ("cycles label")
# Anything else: "usage: $0 USAGE" on stderr, exit 2.
bench_init() {
	local usage=$1 opt
	shift
	VMM=${VMM:-$root/build/mini-vmm}
	GUEST=${GUEST:-$root/build/guest-stub/guest.elf}
	BUILD=${BUILD:-$root/build}
	json=$root/bench/results/$(basename "$0" .sh).json
	while [ $# -gt 0 ]; do
		opt=${1#--}
		case $1 in
		--quick) bench_quick ;;
		--json)
			json=$2
			shift
			;;
		*)
			if [ "$opt" = "$1" ] || [ -z "$opt" ] ||
				[[ " ${BENCH_VALUE_OPTS:-} " != *" $opt "* ]]; then
				echo "usage: $0 $usage" >&2
				exit 2
			fi
			printf -v "$opt" '%s' "$2"
			shift
			;;
		esac
		shift
	done
	mkdir -p "$(dirname "$json")"
}

# bench_tmp: tmp, a folder removed when the script exits.
bench_tmp() {
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
}

# bench_python "$@" <<'PY' ... PY: run the script's Python body (its
# standard input) with its arguments, SRC (root), BUILD (default
# root/build), VMM, GUEST (default BUILD's) and QEMU (default
# qemu-system-x86_64) exported, and bench/benchlib.py importable.
bench_python() {
	export SRC=$root
	export BUILD=${BUILD:-$SRC/build}
	export VMM=${VMM:-$BUILD/mini-vmm}
	export GUEST=${GUEST:-$BUILD/guest-stub/guest.elf}
	export QEMU=${QEMU:-qemu-system-x86_64}
	PYTHONPATH=$root/bench${PYTHONPATH:+:$PYTHONPATH} PYTHONDONTWRITEBYTECODE=1 exec python3 - "$@"
}
