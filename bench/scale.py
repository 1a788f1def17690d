#!/usr/bin/env python3
"""From one shop to 10,000 on Cloudflare: which limit saturates first, and when.

Reads the per-update and per-connection costs that `make bench` measured
(bench/results/latest.json), combines them with the platform limits (docs/SCALE.md cites each)
and a few stated assumptions, and prints, for N shops x M florists x K updates per florist per
minute, the load on each shared resource as a share of its limit. Rerun it whenever the bench
numbers move:

    python3 bench/scale.py                      # the default scenarios
    python3 bench/scale.py --shops 2500 --florists 8 --per-min 0.5
    python3 bench/scale.py --d1-batch-ms 4      # a slower production write batch

Local numbers are not production numbers: the CPU figures come from `wrangler dev` on a shared
2-core machine (miniflare simulates D1 inside the same process), so they are used only where
the ratio between two of them matters or as an upper bound, and say so in the output.
"""
import argparse
import json
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# Platform limits (docs/SCALE.md links each to Cloudflare's documentation).
D1_MAX_DB_BYTES = 10 * 10**9          # 10 GB per D1 database (Workers Paid)
D1_QUERIES_PER_INVOCATION = 1000      # queries per Worker invocation (Workers Paid)
DO_SOFT_RPS = 1000                    # soft limit of one Durable Object, requests/s
DO_MAX_WEBSOCKETS = 32768             # hibernatable WebSockets per Durable Object
DO_MEMORY_BYTES = 128 * 2**20         # memory of one isolate (Workers limit)


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def median(xs):
    xs = [x for x in xs if isinstance(x, (int, float))]
    return statistics.median(xs) if xs else None


def measured(doc, side="rust"):
    """Per-update and per-connection costs of one side, medians over the bench's rounds."""
    rounds = doc.get("rounds", {}).get("rounds", [])

    def per_put(key, n, r):
        f = r.get(side, {}).get(key, {}).get(n, {})
        cpu, puts = f.get("cpu", {}).get("runtimeMs"), f.get("puts")
        return cpu / puts if cpu is not None and puts else None

    out = {}
    for key, name in (("fanout", "sse"), ("wsfanout", "ws")):
        one = median([per_put(key, "1", r) for r in rounds])
        thousand = median([per_put(key, "1000", r) for r in rounds])
        out[f"{name}_put_cpu_ms"] = one
        if one is not None and thousand is not None:
            out[f"{name}_delivery_cpu_ms"] = max(thousand - one, 0.0) / 999
    sus = [r.get(side, {}).get("sustained", {}) for r in rounds]
    out["updates_per_sec_local"] = median([s.get("updatesPerSec") for s in sus])
    out["runtime_cpu_ms_per_update"] = median(
        [s.get("cpu", {}).get("runtimeMs", 0) / s["updates"] for s in sus if s.get("updates")])
    for key, name in (("capacity", "sse"), ("wscapacity", "ws")):
        c = doc.get(side, {}).get(key, {})
        a = c.get("at1000") or {}
        out[f"{name}_runtime_bytes_per_conn"] = a.get("runtimeBytesPerSubscriber") or c.get(
            "runtimeBytesPerSubscriber")
        # The isolate's share: V8 heap + Wasm memory growth per connection (inspector readings).
        h0 = c.get("heapBefore") or {}
        last = [st for st in c.get("steps", []) if (st.get("heap") or {}).get("jsHeapUsed") is not None]
        if h0.get("jsHeapUsed") is not None and last:
            st = last[-1]
            grow = st["heap"]["jsHeapUsed"] - h0["jsHeapUsed"]
            grow += (st["heap"].get("wasmMemoryBytes") or 0) - (h0.get("wasmMemoryBytes") or 0)
            out[f"{name}_isolate_bytes_per_conn"] = grow / max(st["subscribers"], 1)
    p = doc.get("rounds", {}).get("presence", {}).get(side, {})
    out["presence_join_p50_ms"] = (p.get("latencyMs") or {}).get("p50")
    return out


def fmt_pct(x):
    if x is None:
        return "—"
    return f"{x * 100:.0f}%" if x < 10 else f"{x:.0f}×"


def scenario(a, m, shops, florists, per_min):
    """Load on each shared resource for one scenario, as fractions of its limit."""
    conns_per_shop = florists * a.tabs
    updates_s = shops * florists * per_min / 60.0             # writes to the one D1 database
    shop_updates_s = florists * per_min / 60.0
    poll_s = shops * florists * a.poll_share / a.poll_interval  # polling clients' reads
    d1_busy = (updates_s * a.d1_batch_ms + poll_s * a.d1_read_ms) / 1000.0
    # Stored bytes: events kept EVENT_RETENTION_DAYS, activity ACTIVITY_RETENTION_DAYS, orders.
    per_day = shops * florists * a.avg_per_min * 60 * a.busy_hours  # an average day, not the peak
    stored = per_day * (a.event_days * a.event_bytes + a.activity_days * a.activity_bytes)
    stored += shops * a.orders_per_shop * a.order_bytes
    # One shop's hub: a publish per update, (re)connects, and the fan-out work on its thread.
    do_rps = shop_updates_s + conns_per_shop / a.reconnect_every_s
    delivery_ms = m.get("ws_delivery_cpu_ms") or 0.0
    fanout_share = shop_updates_s * conns_per_shop * delivery_ms / 1000.0
    # A reconnect storm (a deploy closes every socket): each connect announces presence to all
    # open sockets today, so n sockets cost n²/2 sends.
    storm_sends = conns_per_shop * conns_per_shop / 2
    return {
        "shops": shops, "florists": florists, "perMin": per_min,
        "updatesPerSec": updates_s, "pollsPerSec": poll_s,
        "d1Busy": d1_busy, "d1Bytes": stored, "d1SizeShare": stored / D1_MAX_DB_BYTES,
        "doRps": do_rps, "doRpsShare": do_rps / DO_SOFT_RPS,
        "socketsShare": conns_per_shop / DO_MAX_WEBSOCKETS,
        "fanoutCpuShare": fanout_share, "stormSends": storm_sends,
    }


def first_limit(s):
    limits = [("one D1 writer (busy time)", s["d1Busy"]), ("D1 10 GB", s["d1SizeShare"]),
              ("DO 1,000 req/s", s["doRpsShare"]), ("DO 32,768 sockets", s["socketsShare"]),
              ("DO thread (fan-out CPU)", s["fanoutCpuShare"])]
    name, share = max(limits, key=lambda x: x[1])
    return name, share


STEPS = {
    "one D1 writer (busy time)": "shard D1: tenant → database map (e.g. 64 shards), then per-shop hot log in the DO's SQLite",
    "D1 10 GB": "shorter retention or the event log in each DO's own SQLite (10 GB per object); D1 shards",
    "DO 1,000 req/s": "publish over RPC in batches; split a giant shop's hub by board/location",
    "DO 32,768 sockets": "several hub objects per shop (fan-out tree) or SSE/polling for viewers",
    "DO thread (fan-out CPU)": "burst coalescing (one frame per socket per tick), fewer presence sends",
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", default=os.path.join(HERE, "results", "latest.json"))
    ap.add_argument("--shops", type=int, nargs="*", default=[1, 100, 1000, 3000, 10000])
    ap.add_argument("--florists", type=float, default=10, help="florists per shop (M)")
    ap.add_argument("--per-min", type=float, default=1.0,
                    help="updates per florist per minute at the busy hour (K)")
    ap.add_argument("--tabs", type=float, default=1.5, help="open connections per florist")
    ap.add_argument("--d1-batch-ms", type=float, default=2.0,
                    help="assumed time D1 spends on one change batch (≈8 statements); D1 runs one at a time")
    ap.add_argument("--d1-read-ms", type=float, default=0.5, help="assumed time of one polling read batch")
    ap.add_argument("--poll-share", type=float, default=0.1, help="share of clients on polling")
    ap.add_argument("--poll-interval", type=float, default=10.0, help="seconds between polls")
    ap.add_argument("--event-bytes", type=float, default=1500, help="event row with its order_json")
    ap.add_argument("--activity-bytes", type=float, default=400)
    ap.add_argument("--event-days", type=float, default=7, help="EVENT_RETENTION_DAYS")
    ap.add_argument("--activity-days", type=float, default=90, help="ACTIVITY_RETENTION_DAYS")
    ap.add_argument("--busy-hours", type=float, default=8, help="working hours a day (storage)")
    ap.add_argument("--avg-per-min", type=float, default=0.25,
                    help="updates per florist per minute on an average working day (storage)")
    ap.add_argument("--orders-per-shop", type=float, default=15000, help="orders kept (≈ a year of a busy shop)")
    ap.add_argument("--order-bytes", type=float, default=1200)
    ap.add_argument("--reconnect-every-s", type=float, default=600,
                    help="mean seconds between reconnects of one connection")
    a = ap.parse_args()

    doc = load(a.results)
    m = measured(doc)
    meta = doc.get("meta", {})
    print(f"# Scale table from {os.path.relpath(a.results)} "
          f"({meta.get('date', 'no date')}, {meta.get('command', '?')}, "
          f"load average at the end {meta.get('machine', {}).get('loadAverageAtEnd', '?')})\n")
    print("Measured by make bench (local wrangler dev, Rust side; medians over rounds):")
    for k in ("runtime_cpu_ms_per_update", "sse_put_cpu_ms", "ws_put_cpu_ms", "sse_delivery_cpu_ms",
              "ws_delivery_cpu_ms", "sse_runtime_bytes_per_conn", "ws_runtime_bytes_per_conn",
              "sse_isolate_bytes_per_conn", "ws_isolate_bytes_per_conn",
              "presence_join_p50_ms", "updates_per_sec_local"):
        v = m.get(k)
        print(f"  {k:30s} {v:.4g}" if isinstance(v, (int, float)) else f"  {k:30s} —")
    print()
    print(f"Scenario: M = {a.florists:g} florists per shop, K = {a.per_min:g} updates per florist "
          f"per minute (busy hour), {a.tabs:g} connections per florist; D1 batch {a.d1_batch_ms:g} ms "
          f"(assumed), {a.poll_share:.0%} of clients polling every {a.poll_interval:g} s.\n")
    hdr = ["shops", "updates/s", "one D1 writer busy", "D1 size / 10 GB", "hub req/s / 1,000",
           "sockets / 32,768", "hub fan-out CPU", "storm sends", "first to saturate → next step"]
    print("| " + " | ".join(hdr) + " |")
    print("|" + "---|" * len(hdr))
    for n in a.shops:
        s = scenario(a, m, n, a.florists, a.per_min)
        name, share = first_limit(s)
        step = STEPS[name] if share >= 0.5 else "nothing near a limit (one D1, one hub per shop)"
        print(f"| {n:,} | {s['updatesPerSec']:.1f} | {fmt_pct(s['d1Busy'])} | "
              f"{s['d1Bytes'] / 1e9:.1f} GB ({fmt_pct(s['d1SizeShare'])}) | "
              f"{fmt_pct(s['doRpsShare'])} | {fmt_pct(s['socketsShare'])} | "
              f"{fmt_pct(s['fanoutCpuShare'])} | {s['stormSends']:,.0f} | "
              f"{name} {fmt_pct(share)} → {step} |")
    print()
    # Every load above grows linearly with the number of shops (the per-shop ones do not grow at
    # all), so the shop count at which each reaches its limit is one division.
    one = scenario(a, m, 1, a.florists, a.per_min)
    print("Shops at which each shared limit is reached (same M, K):")
    for label, key in (("one D1 database, 10 GB", "d1SizeShare"), ("one D1 writer, busy 100%", "d1Busy")):
        share = one[key]
        print(f"  {label:28s} {1 / share:,.0f} shops" if share > 0 else f"  {label:28s} —")
    print(f"  {'one hub (per shop)':28s} never with more shops; a single shop reaches 32,768 sockets at "
          f"{DO_MAX_WEBSOCKETS / a.tabs:,.0f} florists")
    print()
    print("Per-invocation limit: a hub catch-up reads ≤ 500 events per query, so one invocation "
          f"can replay {D1_QUERIES_PER_INVOCATION * 500:,} events before the "
          f"{D1_QUERIES_PER_INVOCATION}-queries-per-invocation limit; a shop's 7-day log at K·M/min "
          f"is {a.florists * a.avg_per_min * 60 * a.busy_hours * a.event_days:,.0f} events.")
    mem, iso = m.get("ws_runtime_bytes_per_conn"), m.get("ws_isolate_bytes_per_conn")
    if mem and iso:
        print(f"Memory: {mem / 1024:.0f} KB of local runtime RSS per WebSocket, of which {iso:.0f} B in the "
              f"isolate (V8 heap + Wasm memory): the 128 MB isolate limit would allow "
              f"{DO_MEMORY_BYTES / iso:,.0f} sockets' worth of hub state; the rest is the runtime's own "
              "per-connection memory (BENCHMARKS.md).")


if __name__ == "__main__":
    sys.exit(main())
