#!/bin/sh
# burn_cpu.sh DURATION [WORKERS]: keep WORKERS CPUs (default: all online CPUs) busy for DURATION
# seconds, then stop every worker. Workers are also stopped if the session is killed early.
set -u
duration="${1:?usage: burn_cpu.sh DURATION [WORKERS]}"
workers="${2:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)}"
pids=""
cleanup() {
    # shellcheck disable=SC2086 # word splitting of the pid list is intended
    [ -n "$pids" ] && kill $pids 2>/dev/null
    wait 2>/dev/null
    echo "burn_cpu: stopped $workers worker(s)"
}
trap cleanup EXIT
trap 'exit 143' INT TERM HUP
i=0
while [ "$i" -lt "$workers" ]; do
    (while :; do :; done) &
    pids="$pids $!"
    i=$((i + 1))
done
echo "burn_cpu: $workers worker(s) busy for ${duration}s"
sleep "$duration"
