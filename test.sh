#!/usr/bin/env bash
# Runs all of vakt's tests, with the race detector, as the README says. The integration tests
# use real parts: mosquitto and rtl_433 from Debian are installed here when missing. The web
# UI's browser tests (ui/web/browsertest) use Debian's chromium and the axe-core and
# Lighthouse pinned in web-tests/package-lock.json: installed here when missing too; without
# root or sudo they are left out and those tests skip, naming the command (CI=true fails them).
set -euo pipefail
cd "$(dirname "$0")"
export PATH="$PATH:/usr/sbin:/usr/local/go/bin"

# as_root runs a command as root, itself or through sudo; it fails when neither can.
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else return 1
  fi
}
can_root() { [ "$(id -u)" = 0 ] || command -v sudo >/dev/null; }

need=() # without these the tests cannot run
command -v mosquitto >/dev/null || need+=(mosquitto)
command -v rtl_433 >/dev/null || need+=(rtl-433)
# tools/package: systemd-analyze verifies the unit, shellcheck the maintainer scripts;
# dpkg-deb and dpkg (Debian's own) read and install the .deb into a throwaway root, whose
# postinst runs useradd (passwd).
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v shellcheck >/dev/null || need+=(shellcheck)
command -v useradd >/dev/null || need+=(passwd)
browser=() # without these the browser tests skip (outside CI)
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || browser+=(chromium)
command -v node >/dev/null || browser+=(nodejs)
command -v npm >/dev/null || browser+=(npm)
command -v certutil >/dev/null || browser+=(libnss3-tools) # trusts vakt's CA in the browser
command -v wg >/dev/null || browser+=(wireguard-tools)      # checks a phone's WireGuard keys
command -v zbarimg >/dev/null || browser+=(zbar-tools)      # scans the QR codes the pages draw
command -v ip >/dev/null || browser+=(iproute2) # the HomeKit mDNS test's private network

apt=("${need[@]}" "${browser[@]}")
if [ ${#apt[@]} -gt 0 ]; then
  if can_root; then
    echo "== installing ${apt[*]} (Debian)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${apt[@]}" >/dev/null
  elif [ ${#need[@]} -gt 0 ]; then
    echo "the tests need: apt-get install ${apt[*]}" >&2
    exit 1
  else
    echo "== the browser tests will skip: apt-get install ${browser[*]}" >&2
  fi
fi

# npm ci only when the lockfile changed since the last install: the copy in node_modules
# says which one is there.
if command -v npm >/dev/null && ! cmp -s web-tests/package-lock.json web-tests/node_modules/.vakt-package-lock.json; then
  echo "== npm ci in web-tests (axe-core, lighthouse, hap-controller)"
  npm ci --prefix web-tests --no-audit --no-fund --loglevel=error
  cp web-tests/package-lock.json web-tests/node_modules/.vakt-package-lock.json
fi

go test -race -count=1 -timeout 30m ./...  # tools/package cross-compiles vakt three times
# HomeKit over HAP with the real controller (pairing, 200 fresh connections): dnssd races
# inside the library under -race when a pairing rewrites the mDNS TXT record.
go test -count=1 -run HomeKitController ./ui/homekit/
