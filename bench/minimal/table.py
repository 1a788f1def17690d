#!/usr/bin/env python3
"""The table of bench/minimal/run.sh: per variant, median over rounds (min–max); then differences
computed per round (same round, so the same machine load) and summarized the same way."""
import json, statistics, sys

d = json.load(open(sys.argv[1]))
rounds = d["rounds"]
labels = [v["label"] for v in d["spec"]["variants"]]
med = statistics.median

def cell(xs, f="{:.2f}"):
    return f"{f.format(med(xs))} ({f.format(min(xs))}–{f.format(max(xs))})"

def series(label, key):
    if key in ("runtime", "proxy", "wrangler"):
        return [r[label]["cpuUsPerReq"][key] for r in rounds]
    return [r[label][key] for r in rounds]

print(f"{len(rounds)} interleaved rounds × {d['spec']['requests']} sequential keep-alive GETs per variant; "
      "median over rounds (min–max)\n")
print("| variant | p50 ms | p95 ms | runtime workerd CPU µs/req | proxy workerd CPU µs/req | wrangler (node) CPU µs/req |")
print("|---|---|---|---|---|---|")
for l in labels:
    print(f"| {l} | {cell(series(l, 'p50'))} | {cell(series(l, 'p95'))} | "
          f"{cell(series(l, 'runtime'), '{:.0f}')} | {cell(series(l, 'proxy'), '{:.0f}')} | "
          f"{cell(series(l, 'wrangler'), '{:.0f}')} |")

diffs = [
    ("workers-rs fixed cost: rust /health − js /health", "rust /health", "js /health"),
    ("one console.log, JS: js /health-log − js /health", "js /health-log", "js /health"),
    ("one console_log!, Rust: rust /health-log − rust /health", "rust /health-log", "rust /health"),
    ("ours: main /api/health − rust /health-log", "main /api/health", "rust /health-log"),
    ("[assets] on the API Worker (router in front): main-assets − main", "main-assets /api/health", "main /api/health"),
    ("[assets] router, minimal JS: js-assets /health − js /health", "js-assets /health", "js /health"),
    ("main − baseline-js", "main /api/health", "base /api/health"),
    ("a second build: main-b − main", "main-b /api/health", "main /api/health"),
    ("baseline-js − minimal js /health", "base /api/health", "js /health"),
]
print("\n| difference (per round) | p50 ms | runtime workerd CPU µs/req |")
print("|---|---|---|")
for name, a, b in diffs:
    if a not in labels or b not in labels:
        continue
    dp = [r[a]["p50"] - r[b]["p50"] for r in rounds]
    dc = [r[a]["cpuUsPerReq"]["runtime"] - r[b]["cpuUsPerReq"]["runtime"] for r in rounds]
    print(f"| {name} | {cell(dp, '{:+.2f}')} | {cell(dc, '{:+.0f}')} |")
