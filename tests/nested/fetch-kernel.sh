#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Fetch and unpack the Debian kernel that linux-image-amd64 depends on, for
# the nested kvm_amd harness. Nothing is installed on the host.
#
#   fetch-kernel.sh [CACHE_DIR]
#
# CACHE_DIR defaults to $MINIVMM_NESTED_CACHE, else
# $HOME/.cache/mini-vmm/nested. The .deb is checked against the SHA256 that
# `apt-cache show` gives for the candidate version and unpacked with
# `dpkg-deb -x` into CACHE_DIR/<package>_<version>/root. A tree whose stamp
# records that same SHA256 is reused without downloading anything.
#
# On success prints to stdout (everything else goes to stderr):
#   KVER=<kernel release>
#   VMLINUZ=<path to vmlinuz>
#   MODULES=<path to lib/modules/KVER>
# Exit status: 0 ok, 1 the kernel could not be resolved, fetched or verified.
set -euo pipefail

log() { echo "fetch-kernel: $*" >&2; }
die() { log "$*"; exit 1; }

CACHE=${1:-${MINIVMM_NESTED_CACHE:-${HOME:-/root}/.cache/mini-vmm/nested}}
META=${MINIVMM_NESTED_KERNEL_META:-linux-image-amd64}

for tool in apt-cache apt-get dpkg-deb sha256sum flock; do
  command -v "$tool" >/dev/null || die "missing $tool (Debian host needed)"
done
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)

# One fetch at a time per cache (parallel ctest runs, several build dirs).
exec 9>"$CACHE/.lock"
flock 9

emit() { # $1 = unpacked tree root
  local root=$1 kver vmlinuz mods
  vmlinuz=$(find "$root/boot" -maxdepth 1 -name 'vmlinuz-*' -print -quit 2>/dev/null || true)
  [[ -n $vmlinuz && -f $vmlinuz ]] || return 1
  kver=${vmlinuz##*/vmlinuz-}
  for mods in "$root/lib/modules/$kver" "$root/usr/lib/modules/$kver"; do
    if [[ -d $mods ]]; then
      echo "KVER=$kver"
      echo "VMLINUZ=$vmlinuz"
      echo "MODULES=$mods"
      return 0
    fi
  done
  return 1
}

# Fall back to the newest verified tree in the cache when the package lists
# cannot tell us what to fetch (no lists, no registry).
fallback() {
  local why=$1 stamp
  stamp=$(find "$CACHE" -mindepth 2 -maxdepth 2 -name .verified -printf '%T@ %p\n' 2>/dev/null |
          sort -rn | head -n1 | cut -d' ' -f2-)
  if [[ -n $stamp ]] && emit "$(dirname "$stamp")/root"; then
    log "$why; using cached $(dirname "$stamp")"
    exit 0
  fi
  die "$why and no verified kernel in $CACHE"
}

resolve() {
  PKG=$(apt-cache depends "$META" 2>/dev/null |
        awk '$1 == "Depends:" && $2 ~ /^linux-image-/ {print $2; exit}')
  [[ -n $PKG ]] || return 1
  VER=$(apt-cache policy "$PKG" 2>/dev/null | awk '$1 == "Candidate:" {print $2; exit}')
  [[ -n $VER && $VER != "(none)" ]] || return 1
  SHA=$(apt-cache show "$PKG=$VER" 2>/dev/null | awk '$1 == "SHA256:" {print $2; exit}')
  [[ $SHA =~ ^[0-9a-f]{64}$ ]] || return 1
}

if ! resolve; then
  if [[ $(id -u) -eq 0 ]]; then
    log "cannot resolve $META from the package lists; running apt-get update"
    apt-get update -q >&2 || true
  fi
  resolve || fallback "cannot resolve the kernel package behind $META"
fi
log "$META -> $PKG $VER"

DIR="$CACHE/${PKG}_${VER}"
ROOT="$DIR/root"
if [[ -f $DIR/.verified ]] && [[ $(cat "$DIR/.verified") == "$SHA" ]] && emit "$ROOT"; then
  log "reusing verified tree $DIR"
  touch "$DIR/.verified"
  exit 0
fi

rm -rf "$DIR"
mkdir -p "$DIR/dl"
download() {
  local opts=()
  # As root, apt hands the download to user _apt, which cannot write into
  # e.g. /root/.cache: download as root directly instead of warning.
  [[ $(id -u) -eq 0 ]] && opts=(-o APT::Sandbox::User=root)
  (cd "$DIR/dl" && apt-get download -q "${opts[@]}" "$PKG=$VER") >&2
}
t0=$(date +%s)
if ! download; then
  if [[ $(id -u) -eq 0 ]]; then
    # Stale lists name a version the mirror no longer has: refresh, re-resolve.
    log "download failed; refreshing package lists"
    apt-get update -q >&2 || true
    rm -rf "$DIR"
    resolve || fallback "cannot resolve the kernel package after apt-get update"
    DIR="$CACHE/${PKG}_${VER}"; ROOT="$DIR/root"
    mkdir -p "$DIR/dl"
    download || fallback "apt-get download $PKG=$VER failed"
  else
    fallback "apt-get download $PKG=$VER failed"
  fi
fi
DEB=$(find "$DIR/dl" -maxdepth 1 -name '*.deb' -print -quit)
[[ -n $DEB ]] || die "apt-get download left no .deb in $DIR/dl"
got=$(sha256sum "$DEB" | cut -d' ' -f1)
if [[ $got != "$SHA" ]]; then
  rm -rf "$DIR"
  die "SHA256 mismatch for $DEB: got $got, apt-cache show says $SHA"
fi
log "downloaded and verified $(basename "$DEB") in $(( $(date +%s) - t0 )) s"

mkdir -p "$ROOT"
dpkg-deb -x "$DEB" "$ROOT"
emit "$ROOT" >/dev/null || { rm -rf "$DIR"; die "no vmlinuz/modules in $DEB"; }
rm -f "$DEB"
echo "$SHA" >"$DIR/.verified"

# Drop trees of older kernel versions: each one is several hundred MiB.
for old in "$CACHE"/linux-image-*; do
  [[ -d $old && $old != "$DIR" ]] || continue
  log "removing old tree $old"
  rm -rf "$old"
done
emit "$ROOT"
