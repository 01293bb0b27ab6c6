#!/usr/bin/env bash
# Lighthouse on a page of the web UI, as a phone sees it (Lighthouse's default: mobile
# emulation and simulated slow 4G), in Debian's Chromium, with the lighthouse pinned in
# web-tests/package-lock.json. Prints the performance, accessibility and best-practices
# scores and what the page weighs (DESIGN §6: the panel page ≥ 95 on mobile, < 100 KB).
#
#   bench/lighthouse.sh URL [lighthouse flags]
#
# MIN_SCORE=95 makes it exit 1 when a score is below that. LIGHTHOUSE_REPORT=DIR keeps the
# JSON and HTML reports there. Extra flags go to lighthouse (e.g. --extra-headers=FILE for a
# session cookie).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
url=${1:?usage: bench/lighthouse.sh URL [lighthouse flags]}
shift

chrome=${CHROME_PATH:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$chrome" ]; then
  echo "no Chromium: apt-get install chromium" >&2
  exit 1
fi
if [ ! -x "$root/web-tests/node_modules/.bin/lighthouse" ]; then
  echo "no lighthouse: npm ci --prefix web-tests" >&2
  exit 1
fi

out=${LIGHTHOUSE_REPORT:-}
if [ -z "$out" ]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out"

# Root in a container: Chromium's sandbox needs user namespaces it does not get.
(cd "$root/web-tests" && CHROME_PATH="$chrome" npx --no-install lighthouse "$url" \
  --chrome-flags="--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage" \
  --only-categories=performance,accessibility,best-practices \
  --output=json --output=html --output-path="$out/lighthouse" --quiet "$@")

MIN_SCORE=${MIN_SCORE:-0} node - "$out/lighthouse.report.json" <<'EOF'
const r = require(process.argv[2]);
const min = Number(process.env.MIN_SCORE);
let low = false;
console.log(`${r.finalDisplayedUrl} (Lighthouse ${r.lighthouseVersion}, ${r.configSettings.formFactor}, ${r.environment.hostUserAgent.match(/Chrome\/[\d.]+/)})`);
for (const id of ["performance", "accessibility", "best-practices"]) {
  const c = r.categories[id];
  const score = c.score === null ? NaN : Math.round(c.score * 100);
  if (!(score >= min)) low = true;
  console.log(`${c.title.padEnd(16)} ${score}`);
}
const a = r.audits;
const ms = (id) => `${Math.round(a[id].numericValue)} ms`;
console.log(`FCP ${ms("first-contentful-paint")}, LCP ${ms("largest-contentful-paint")}, TBT ${ms("total-blocking-time")}, CLS ${a["cumulative-layout-shift"].numericValue.toFixed(3)}`);
console.log(`transferred ${(a["total-byte-weight"].numericValue / 1024).toFixed(1)} KB in ${a["network-requests"].details.items.length} requests`);
for (const id of ["accessibility", "best-practices"]) {
  for (const ref of r.categories[id].auditRefs) {
    const au = a[ref.id];
    if (ref.weight > 0 && au.score !== null && au.score < 1) console.log(`  ${id}: ${au.id}: ${au.title}`);
  }
}
if (low) {
  console.error(`a score is below MIN_SCORE=${min}`);
  process.exit(1);
}
EOF
