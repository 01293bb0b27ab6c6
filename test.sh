#!/usr/bin/env bash
# Runs all of vakt's tests, with the race detector, as the README says. The integration tests
# use real parts: mosquitto and rtl_433 from Debian are installed here when missing.
set -euo pipefail
cd "$(dirname "$0")"
export PATH="$PATH:/usr/sbin:/usr/local/go/bin"

need=()
command -v mosquitto >/dev/null || need+=(mosquitto)
command -v rtl_433 >/dev/null || need+=(rtl-433)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "== installing ${need[*]} (Debian)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  elif command -v sudo >/dev/null; then
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "the tests need: apt-get install ${need[*]}" >&2
    exit 1
  fi
fi

go test -race -count=1 ./...
