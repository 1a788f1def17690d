// Sequential keep-alive GETs against several variants, interleaved over rounds, with the CPU
// (utime+stime from /proc/<pid>/stat) each process of the variant's server spent meanwhile.
//
//   node measure.mjs <spec.json> <out.json>
// spec: { rounds, requests, warmup, variants: [{ label, url, pids: { runtime, proxy, wrangler } }] }
// out: per variant per round: p50/p95/p99/mean ms, and CPU µs per request per process.
import http from "node:http";
import { readFileSync, writeFileSync } from "node:fs";

const [specPath, outPath] = process.argv.slice(2);
const spec = JSON.parse(readFileSync(specPath, "utf8"));
const TICK_US = 1e6 / Number(process.env.CLK_TCK || 100);

function cpuTicks(pid) {
  if (!pid) return NaN;
  const s = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15)
}

const agents = new Map();
function get(url) {
  const u = new URL(url);
  let agent = agents.get(u.host);
  if (!agent) agents.set(u.host, (agent = new http.Agent({ keepAlive: true, maxSockets: 1 })));
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.get({ host: u.hostname, port: u.port, path: u.pathname + u.search, agent }, (res) => {
      let n = 0;
      res.on("data", (c) => (n += c.length));
      res.on("end", () => {
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        if (res.statusCode !== 200) reject(new Error(`${url}: ${res.statusCode}`));
        else resolve(ms);
      });
    });
    req.on("error", reject);
  });
}

const q = (xs, p) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))];

async function run(v, n) {
  const before = Object.fromEntries(Object.entries(v.pids).map(([k, pid]) => [k, cpuTicks(pid)]));
  const t0 = process.hrtime.bigint();
  const lat = [];
  for (let i = 0; i < n; i++) lat.push(await get(v.url));
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpuUsPerReq = Object.fromEntries(Object.entries(v.pids).map(([k, pid]) =>
    [k, ((cpuTicks(pid) - before[k]) * TICK_US) / n]));
  lat.sort((a, b) => a - b);
  return {
    n, wallMs, p50: q(lat, 0.5), p95: q(lat, 0.95), p99: q(lat, 0.99),
    mean: lat.reduce((a, b) => a + b, 0) / n, cpuUsPerReq,
  };
}

for (const v of spec.variants) await run(v, spec.warmup); // warm every isolate and connection
const rounds = [];
for (let r = 0; r < spec.rounds; r++) {
  const round = {};
  for (const v of spec.variants) {
    await run(v, 50); // re-warm this connection after the others ran
    round[v.label] = await run(v, spec.requests);
    const x = round[v.label];
    console.error(`round ${r + 1} ${v.label.padEnd(22)} p50 ${x.p50.toFixed(3)} p95 ${x.p95.toFixed(3)} ms` +
      `  runtime CPU ${x.cpuUsPerReq.runtime.toFixed(0)} µs/req`);
  }
  rounds.push(round);
}
writeFileSync(outPath, JSON.stringify({ spec, rounds }, null, 1));
for (const a of agents.values()) a.destroy();
