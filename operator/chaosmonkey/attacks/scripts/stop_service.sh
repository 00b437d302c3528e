#!/bin/sh
# stop_service.sh UNIT DURATION: stop the systemd unit UNIT for DURATION seconds, then start it
# again (also when the session is killed early).
set -u
unit="${1:?usage: stop_service.sh UNIT DURATION}"
duration="${2:?usage: stop_service.sh UNIT DURATION}"
stopped=0
cleanup() {
    if [ "$stopped" -eq 1 ]; then
        systemctl start "$unit" && echo "stop_service: started $unit again"
    fi
}
trap cleanup EXIT
trap 'exit 143' INT TERM HUP
systemctl stop "$unit" || exit 1
stopped=1
echo "stop_service: stopped $unit for ${duration}s"
sleep "$duration"
