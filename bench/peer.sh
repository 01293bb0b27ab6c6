#!/usr/bin/env bash
# Times vakt against a minimal Node-RED alarm flow on the same mosquitto, in one run, with
# ../shared/bench/peer-latency/run.sh (DESIGN §6): sensor payload → siren command, vakt with
# its durable commit. Extra arguments go to the load generator (e.g. -n 500).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
peer=${PEER_DIR:-$here/../../shared/bench/peer-latency}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$here/.." && go build -o "$work/vakt" .)
"$work/vakt" installation import -data "$work/data" "$here/peer-installation.yaml" >/dev/null
export HUB_LABEL=vakt
export HUB_CMD="$work/vakt --data $work/data --mqtt \$MQTT_URL"
# Every request is a smoke detection ({"smoke":true}); before it, untimed, the detector
# clears, so that each request is a new detection. Closed loop: vakt does not echo seq.
export HUB_FLAGS='-match-field= -payload={"smoke":true} -pre-payload={"smoke":false}'
"$peer/run.sh" "$@"
