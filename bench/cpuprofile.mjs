// CPU profile of the Worker runtime under `wrangler dev`, through workerd's V8 inspector.
//
//   node bench/cpuprofile.mjs <inspector host:port> <seconds> <out.cpuprofile> [worker-name-substring]
//
// Connects to the runtime workerd's inspector (not wrangler's proxy), runs the V8 sampling profiler
// for <seconds> while you drive load, writes the profile (open it in Chrome DevTools or
// speedscope) and prints the functions with the most self time, grouped into Wasm (Rust), D1
// (miniflare's local simulation) and the rest. Used by `bench/run.sh` when BENCH_PROFILE=1.
import { createRequire } from "node:module";
import { writeFileSync } from "node:fs";

const require = createRequire(import.meta.url);
const WebSocket = require("../node_modules/ws");

const [addr, secondsArg, out, nameFilter = ""] = process.argv.slice(2);
if (!addr || !secondsArg || !out) {
  console.error("usage: cpuprofile.mjs <host:port> <seconds> <out.cpuprofile> [worker-name]");
  process.exit(2);
}
const seconds = Number(secondsArg);

const list = await (await fetch(`http://${addr}/json/list`)).json();
const target = list.find((t) => t.webSocketDebuggerUrl && (t.title || t.url || "").includes(nameFilter))
  ?? list.find((t) => t.webSocketDebuggerUrl);
if (!target) throw new Error(`no inspector target at ${addr}: ${JSON.stringify(list)}`);
const ws = new WebSocket(target.webSocketDebuggerUrl.replace("localhost", "127.0.0.1"));
await new Promise((res, rej) => { ws.once("open", res); ws.once("error", rej); });

let nextId = 1;
const pending = new Map();
ws.on("message", (data) => {
  const msg = JSON.parse(data.toString());
  if (msg.id && pending.has(msg.id)) {
    const { resolve, reject } = pending.get(msg.id);
    pending.delete(msg.id);
    if (msg.error) reject(new Error(JSON.stringify(msg.error)));
    else resolve(msg.result);
  }
});
const send = (method, params = {}) => new Promise((resolve, reject) => {
  const id = nextId++;
  pending.set(id, { resolve, reject });
  ws.send(JSON.stringify({ id, method, params }));
});

await send("Profiler.enable");
await send("Profiler.setSamplingInterval", { interval: 200 });
await send("Profiler.start");
console.error(`profiling ${target.title || target.url} for ${seconds} s`);
await new Promise((r) => setTimeout(r, seconds * 1000));
const { profile } = await send("Profiler.stop");
ws.close();
writeFileSync(out, JSON.stringify(profile));

// Self time per function, then per group.
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
for (const id of profile.samples) self.set(id, (self.get(id) ?? 0) + 1);
const total = profile.samples.length;
const perFn = new Map();
const groups = new Map();
for (const [id, count] of self) {
  const cf = byId.get(id).callFrame;
  const file = (cf.url || "").split("/").pop();
  const name = cf.functionName || "(anonymous)";
  const key = `${name}  ${file}${cf.lineNumber >= 0 ? ":" + (cf.lineNumber + 1) : ""}`;
  perFn.set(key, (perFn.get(key) ?? 0) + count);
  let group;
  if (name === "(idle)") group = "idle";
  else if (name === "(garbage collector)") group = "GC";
  else if (name === "(program)") group = "runtime (C++, I/O)";
  else if (cf.url.startsWith("wasm://") || /\.wasm/.test(cf.url)) group = "Wasm (Rust)";
  else if (/d1|D1/.test(cf.url) || /d1/i.test(file)) group = "D1 simulation (JS)";
  else group = `JS: ${file || "(builtin)"}`;
  groups.set(group, (groups.get(group) ?? 0) + count);
}
const pct = (c) => `${((100 * c) / total).toFixed(1).padStart(5)}%`;
console.log(`samples: ${total}`);
console.log("\nby group:");
for (const [g, c] of [...groups].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${pct(c)}  ${g}`);
console.log("\ntop self time:");
for (const [k, c] of [...perFn].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`${pct(c)}  ${k}`);
