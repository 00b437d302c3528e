#!/bin/sh
# kill_process.sh NAME [DURATION] [SIGNAL]: send SIGNAL (default KILL) to every process named
# exactly NAME, then keep doing so every second for DURATION seconds (default 0: once), so a
# supervisor restarting it does not undo the attack. Nothing to clean up: processes stay dead
# only until their supervisor restarts them after DURATION.
set -u
name="${1:?usage: kill_process.sh NAME [DURATION] [SIGNAL]}"
duration="${2:-0}"
signal="${3:-KILL}"
trap 'exit 143' INT TERM HUP
killed=0
if pkill "-$signal" -x "$name"; then killed=1; fi
elapsed=0
while [ "$elapsed" -lt "$duration" ]; do
    sleep 1
    elapsed=$((elapsed + 1))
    if pkill "-$signal" -x "$name"; then killed=1; fi
done
if [ "$killed" -eq 0 ]; then
    echo "kill_process: no process named $name" >&2
    exit 1
fi
echo "kill_process: sent SIG$signal to processes named $name for ${duration}s"
