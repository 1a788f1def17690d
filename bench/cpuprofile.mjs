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

// Where the samples went, by the stack they were taken in, then self time per function.
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const total = profile.samples.length;
const groups = new Map();
const perFn = new Map();
const bump = (m, k) => m.set(k, (m.get(k) ?? 0) + 1);
for (const id of profile.samples) {
  const chain = [];
  for (let x = id; x !== undefined; x = parent.get(x)) chain.push(byId.get(x).callFrame);
  const top = chain[0];
  const names = chain.map((c) => c.functionName);
  const inWorkerJs = (c) => /worker\.js$/.test(c.url);
  let group;
  if (top.functionName === "(idle)") group = "idle";
  else if (top.functionName === "(garbage collector)") group = "GC";
  else if (top.functionName === "(program)") group = "(program): native, unattributed";
  else if (!top.functionName && !top.url && chain.length <= 2) group = "native at top level (streams, I/O)";
  else if (names.some((n) => n.includes("intounderlyingsource_pull"))) {
    group = "SSE: Rust stream -> ReadableStream pull adapter";
  } else if (chain.some((c) => inWorkerJs(c) && (c.functionName === "send" || c.functionName === "broadcast"))) {
    group = "SSE: writes to subscribers (JS)";
  } else if (names.some((n) => n.startsWith("florist_board::hub"))) group = "hub (Rust)";
  else if (names.some((n) => n.startsWith("florist_board::"))) group = "request handling (Rust)";
  else if (chain.some(inWorkerJs)) group = "request handling (JS)";
  else if (chain.some((c) => c.url.startsWith("wasm"))) group = "other Wasm (futures executor, channels, allocator)";
  else group = `other JS: ${(top.url || "").split("/").pop() || top.functionName || "?"}`;
  bump(groups, group);
  const file = (top.url || "").split("/").pop();
  bump(perFn, `${top.functionName || "(anonymous)"}  ${file}${top.lineNumber >= 0 && file ? ":" + (top.lineNumber + 1) : ""}`);
}
const pct = (c) => `${((100 * c) / total).toFixed(1).padStart(5)}%`;
console.log(`samples: ${total} (one per 200 us of the Worker isolate's thread)`);
console.log("\nby stack:");
for (const [g, c] of [...groups].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${pct(c)}  ${g}`);
console.log("\ntop self time:");
for (const [k, c] of [...perFn].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`${pct(c)}  ${k}`);
