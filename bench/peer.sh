#!/usr/bin/env bash
# Times vakt against a minimal Node-RED alarm flow on the same mosquitto, in one run, with
# ../shared/bench/peer-latency/run.sh (DESIGN §6): sensor payload → siren command, vakt with
# its durable commit. Extra arguments go to the load generator (e.g. -n 500).
#
# FDATASYNC_DELAY_US=20000 runs vakt under strace with every fdatasync delayed by that many
# microseconds after it returns (an SD card on a bad day, DESIGN §6):
#   strace -f -e trace=fdatasync -e inject=fdatasync:delay_exit=20000 -o /dev/null vakt …
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
peer=${PEER_DIR:-$here/../../shared/bench/peer-latency}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$here/.." && go build -o "$work/vakt" .)
"$work/vakt" installation import -data "$work/data" "$here/peer-installation.yaml" >/dev/null
export HUB_LABEL=vakt
prefix=""
if [ -n "${FDATASYNC_DELAY_US:-}" ]; then
	prefix="strace -f -e trace=fdatasync -e inject=fdatasync:delay_exit=$FDATASYNC_DELAY_US -o /dev/null "
	HUB_LABEL=vakt-fdatasync+${FDATASYNC_DELAY_US}us
fi
export HUB_CMD="$prefix$work/vakt --data $work/data --mqtt \$MQTT_URL"
# Every request is a smoke detection ({"smoke":true}); before it, untimed, the detector
# clears, so that each request is a new detection. Closed loop: vakt does not echo seq.
export HUB_FLAGS='-match-field= -payload={"smoke":true} -pre-payload={"smoke":false}'
"$peer/run.sh" "$@"
