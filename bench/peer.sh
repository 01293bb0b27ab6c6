#!/usr/bin/env bash
# Times vakt against a minimal Node-RED alarm flow on the same mosquitto, in one run, with
# ../shared/bench/peer-latency/run.sh (DESIGN §6): sensor payload → siren command, vakt with
# its durable commit. Extra arguments go to the load generator (e.g. -n 500).
#
# FDATASYNC_DELAY_US=20000 runs vakt under strace with every fdatasync delayed by that many
# microseconds when it returns (an SD card on a bad day, DESIGN §6):
#   strace -f -e trace=fdatasync -e inject=fdatasync:delay_exit=20000 -o /dev/null vakt …
# Plain strace stops vakt at every system call, not only fdatasync, which costs a lot under
# load; STRACE_SECCOMP=1 adds --seccomp-bpf so that only fdatasync stops it. FDATASYNC_DELAY_US=0
# measures strace's own cost.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
peer=${PEER_DIR:-$here/../../shared/bench/peer-latency}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$here/.." && go build -o "$work/vakt" .)
"$work/vakt" installation import -data "$work/data" "$here/peer-installation.yaml" >/dev/null
export HUB_LABEL=vakt
vakt=$work/vakt
if [ -n "${FDATASYNC_DELAY_US:-}" ]; then
	seccomp=""
	HUB_LABEL=vakt-strace-fdatasync+${FDATASYNC_DELAY_US}us
	if [ "${STRACE_SECCOMP:-0}" = 1 ]; then
		seccomp="--seccomp-bpf"
		HUB_LABEL=$HUB_LABEL-seccomp
	fi
	# run.sh stops the hub with TERM by PID, but strace detaches on TERM and leaves vakt
	# running: this wrapper hands TERM on to vakt itself and waits for strace to end.
	cat >"$work/traced" <<-WRAP
		#!/usr/bin/env bash
		strace -f $seccomp -e trace=fdatasync -e inject=fdatasync:delay_exit=$FDATASYNC_DELAY_US -o /dev/null \\
			-- sh -c 'echo \$\$ >"\$0"; exec "\$@"' "$work/vakt.pid" "$work/vakt" "\$@" &
		st=\$!
		trap 'kill -TERM "\$(cat "$work/vakt.pid")" 2>/dev/null' TERM INT
		wait \$st || wait \$st
	WRAP
	chmod +x "$work/traced"
	vakt=$work/traced
fi
export HUB_CMD="$vakt --data $work/data --mqtt \$MQTT_URL"
# Every request is a smoke detection ({"smoke":true}); before it, untimed, the detector
# clears, so that each request is a new detection. Closed loop: vakt does not echo seq.
export HUB_FLAGS='-match-field= -payload={"smoke":true} -pre-payload={"smoke":false}'
"$peer/run.sh" "$@"
