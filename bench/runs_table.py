#!/usr/bin/env python3
"""Run-to-run table: the Rust/JS ratio medians (min–max over rounds) of several saved `make bench`
runs side by side, to see which conclusions survive this machine's noise.

    python3 bench/runs_table.py bench/results/runs/*.json
"""
import json
import sys

runs = [(p, json.load(open(p))) for p in sys.argv[1:]]
def med(rj, k):
    v = rj.get(k)
    if isinstance(v, dict): return v.get('median'), v.get('min'), v.get('max')
    return (v, None, None)
def cell(t):
    m, lo, hi = t
    if m is None: return '—'
    return f"{m:.2f}" + (f" ({lo:.2f}–{hi:.2f})" if lo is not None and hi is not None and lo != hi else '')
rows = [("SSE fan-out p50, 1 / 100 / 1,000", ["fanout1P50","fanout100P50","fanout1000P50"]),
        ("WebSocket fan-out p50, 1 / 100 / 1,000", ["wsfanout1P50","wsfanout100P50","wsfanout1000P50"]),
        ("sustained updates/s (higher is better)", ["sustainedUpdatesPerSec"]),
        ("runtime CPU per update", ["sustainedRuntimeCpuPerUpdate"]),
        ("runtime CPU per PUT to 1,000 SSE / WS", ["fanout1000RuntimeCpuPerPut","wsfanout1000RuntimeCpuPerPut"]),
        ("presence join p50", ["presenceJoinP50"]),
        ("polling p50, 1k / 100k orders", ["polling1000P50","polling100000P50"]),
        ("warm health p50", ["warmHealthP50"]),
        ("cold start: ready / first answer", ["coldStartReady","coldStartFirstAnswer"]),
        ("WebSocket runtime RSS per connection at 1,000", ["wscapacityMemoryAt1000"]),
]
hdr = "| Rust/JS | " + " | ".join(f"{d['meta']['date'][11:16]} UTC, load {d['meta']['machine']['loadAverageAtEnd'].split()[0]}" for _, d in runs) + " |"
print(hdr); print("|---|" + "---|"*len(runs))
for name, keys in rows:
    cells = []
    for _, d in runs:
        rj = d['ratiosRustOverJs']
        cells.append(" / ".join(cell(med(rj, k)) for k in keys))
    print(f"| {name} | " + " | ".join(cells) + " |")
