#!/usr/bin/env bash
# How many calls from Wasm into JavaScript (wasm-bindgen imports) one write makes: a copy of
# build/ whose import functions are wrapped in counters, served with `wrangler dev`, written to
# for a few seconds with no subscribers; prints the calls per request of each import, busiest
# first. (The Worker's request and the hub's publish run in one isolate, so both are counted.)
#
# Usage: bench/import-counts.sh [SECONDS=4]   (after `make build`)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
secs=${1:-4}
[ -f "$ROOT/build/index.js" ] || { echo "import-counts: run 'make build' first" >&2; exit 1; }
LOADGEN="$ROOT/bench/loadgen/target/release/loadgen"
cargo build --release --quiet --manifest-path "$ROOT/bench/loadgen/Cargo.toml" --target-dir "$ROOT/bench/loadgen/target"

WORK=$(mktemp -d /tmp/florist-imports.XXXXXX)
trap cleanup_servers EXIT
cp -r "$ROOT/build" "$WORK/build"
web_snapshot "$WORK/web"
# Wrap every import function; every 200th request log line prints the totals so far.
node - "$WORK/build/index.js" <<'JS'
const fs = require("fs");
const file = process.argv[2];
let src = fs.readFileSync(file, "utf8");
const re = /new WebAssembly\.Instance\((\w+),(\w+)\(\)\)/g;
if (!re.test(src)) throw new Error("no `new WebAssembly.Instance(module, imports())` in index.js");
src = src.replace(re, "new WebAssembly.Instance($1,globalThis.__countImports($2()))");
const counter = `globalThis.__countImports = (imports) => {
  const counts = (globalThis.__importCounts ??= {});
  let requests = 0;
  for (const ns of Object.values(imports)) {
    for (const [key, f] of Object.entries(ns)) {
      if (typeof f !== "function") continue;
      const name = key.replace(/_[0-9a-f]{16}$/, "");
      ns[key] = function (...args) {
        counts[name] = (counts[name] ?? 0) + 1;
        if (name === "__wbg_log" && ++requests % 200 === 0) {
          console.log("IMPORT-COUNTS " + JSON.stringify({ requests, counts }));
        }
        return f.apply(this, args);
      };
    }
  }
  return imports;
};
`;
fs.writeFileSync(file, counter + src);
JS
sed -E -e "s#^(main[[:space:]]*=[[:space:]]*\")(\./)?build/#\1$WORK/build/#" \
  -e "s#^(migrations_dir[[:space:]]*=[[:space:]]*\")(\./)?([^/\"][^\"]*)\"#\1$ROOT/\3\"#" \
  "$ROOT/wrangler.toml" > "$WORK/wrangler.toml"
admin="imports-admin-$RANDOM$RANDOM"
printf '%s\n' "ADMIN_TOKEN=$admin" "AUTH_SECRET=imports-secret-$RANDOM$RANDOM$RANDOM" \
  "SHOPIFY_WEBHOOK_SECRET=unused" "HEARTBEAT_SECONDS=600" > "$WORK/env"
(cd "$WORK" && "$ROOT/node_modules/.bin/wrangler" d1 migrations apply DB --local --config wrangler.toml \
   --persist-to "$WORK/state" </dev/null >"$WORK/migrate.log" 2>&1) || { cat "$WORK/migrate.log" >&2; exit 1; }
port=$(free_port)
# Not spawn_wrangler: its `--log-level warn` would hide the Worker's console.log.
(cd "$WORK" && exec node --no-warnings "$WRANGLER_JS" dev --config wrangler.toml --config web/web.toml --local --ip 127.0.0.1 \
   --port "$port" --show-interactive-dev-session=false --persist-to "$WORK/state" \
   --env-file "$WORK/env" </dev/null >"$WORK/dev.log" 2>&1) &
PIDS+=("$!")
for _ in $(seq 120); do
  curl -sf -m 2 "http://127.0.0.1:$port/api/health" >/dev/null 2>&1 && break
  sleep 0.5
done
"$LOADGEN" --base-url "http://127.0.0.1:$port" --admin-token "$admin" --label imports \
  --out "$WORK/run.json" --only sustained --sustained-seconds "$secs" --sustained-subscribers 0 \
  2>&1 | grep -- '->' || true
sleep 1
line=$(grep -o 'IMPORT-COUNTS .*' "$WORK/dev.log" | tail -1 | cut -d' ' -f2-)
[ -n "$line" ] || { echo "import-counts: no totals were logged" >&2; tail -20 "$WORK/dev.log" >&2; exit 1; }
node -e '
  const { requests, counts } = JSON.parse(process.argv[1]);
  const rows = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  const total = rows.reduce((s, [, n]) => s + n, 0);
  console.log(`${requests} requests (their log lines), ${(total / requests).toFixed(0)} import calls per request:`);
  for (const [name, n] of rows.slice(0, 40)) {
    if (n / requests >= 0.5) console.log(`${(n / requests).toFixed(1).padStart(7)}  ${name}`);
  }' "$line"
