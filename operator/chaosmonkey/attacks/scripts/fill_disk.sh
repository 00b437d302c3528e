#!/bin/sh
# fill_disk.sh DURATION [DIRECTORY] [SIZE_MB]: fill the file system of DIRECTORY (default /tmp)
# with a file of SIZE_MB MiB (default: as much as fits) for DURATION seconds, then remove it.
set -u
duration="${1:?usage: fill_disk.sh DURATION [DIRECTORY] [SIZE_MB]}"
directory="${2:-/tmp}"
size_mb="${3:-}"
filler="$directory/chaosmonkey-fill-disk.$$"
cleanup() {
    rm -f "$filler"
    echo "fill_disk: removed $filler"
}
trap cleanup EXIT
trap 'exit 143' INT TERM HUP
if [ -n "$size_mb" ]; then
    dd if=/dev/zero of="$filler" bs=1M count="$size_mb" 2>/dev/null
else
    # Writing until the disk is full ends with "No space left on device": that is the point.
    dd if=/dev/zero of="$filler" bs=1M 2>/dev/null || true
fi
echo "fill_disk: wrote $(du -k "$filler" | cut -f1) KiB to $filler for ${duration}s"
sleep "$duration"
