#!/bin/sh
# burn_io.sh DURATION [DIRECTORY]: write and sync a scratch file in DIRECTORY (default /tmp)
# over and over for DURATION seconds, then remove it.
set -u
duration="${1:?usage: burn_io.sh DURATION [DIRECTORY]}"
directory="${2:-/tmp}"
scratch="$directory/chaosmonkey-burn-io.$$"
worker=""
cleanup() {
    [ -n "$worker" ] && kill "$worker" 2>/dev/null
    wait 2>/dev/null
    rm -f "$scratch"
    echo "burn_io: removed $scratch"
}
trap cleanup EXIT
trap 'exit 143' INT TERM HUP
(while :; do dd if=/dev/zero of="$scratch" bs=1M count=64 conv=fsync 2>/dev/null; done) &
worker=$!
echo "burn_io: writing $scratch for ${duration}s"
sleep "$duration"
