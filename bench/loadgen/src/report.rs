//! `loadgen report`: merges the interleaved rounds (`rounds.json`), the capacity runs of each
//! side (`rust.json`, `js.json`) and the harness's meta data (sizes, cold starts, machine), prints
//! a Markdown table and writes the combined JSON.
//!
//! Every Rust/JS ratio of a measured-in-rounds row is computed per round (round i of Rust over
//! round i of JS, run back to back) and reported as the median with its min–max over the rounds;
//! the side columns show the median over the rounds of each percentile.

use serde_json::{json, Map, Value};

use crate::http::Res;
use crate::Args;

fn load(path: Option<&str>) -> Value {
    path.and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(Value::Null)
}

fn at<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    let mut cur = v;
    for k in path {
        cur = match cur {
            Value::Array(a) => k.parse::<usize>().ok().and_then(|i| a.get(i)).unwrap_or(&Value::Null),
            _ => cur.get(*k).unwrap_or(&Value::Null),
        };
    }
    cur
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

/// Median, min and max of a series.
#[derive(Clone, Copy)]
struct Spread {
    med: f64,
    min: f64,
    max: f64,
    n: usize,
}

fn spread(v: &[f64]) -> Option<Spread> {
    let med = median(v.to_vec())?;
    Some(Spread {
        med,
        min: v.iter().cloned().fold(f64::INFINITY, f64::min),
        max: v.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
        n: v.len(),
    })
}

fn fmt_spread(s: Option<Spread>) -> String {
    match s {
        Some(s) if s.n > 1 => format!("{:.2} ({:.2}–{:.2})", s.med, s.min, s.max),
        Some(s) => format!("{:.2}", s.med),
        None => "—".into(),
    }
}

fn spread_json(s: Option<Spread>) -> Value {
    match s {
        Some(s) => json!({"median": r3(s.med), "min": r3(s.min), "max": r3(s.max), "rounds": s.n}),
        None => Value::Null,
    }
}

fn r3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn num(v: &Value, digits: usize) -> String {
    match v.as_f64() {
        Some(x) => format!("{x:.digits$}"),
        None => "—".into(),
    }
}

fn mark(ok: Option<bool>) -> &'static str {
    match ok {
        Some(true) => "met",
        Some(false) => "missed",
        None => "—",
    }
}

fn err_text(v: &Value) -> Option<String> {
    v.get("error").map(|e| {
        let s = e.as_str().map(|s| s.to_string()).unwrap_or_else(|| e.to_string());
        format!("error: {}", s.chars().take(70).collect::<String>())
    })
}

/// The rounds' values of one side at `path` (rounds where it is missing are skipped).
fn series(rounds: &[Value], side: &str, path: &[&str]) -> Vec<f64> {
    rounds.iter().filter_map(|r| at(&r[side], path).as_f64()).collect()
}

/// Per-round ratios rust/js at `path` (both present in that round).
fn ratios(rounds: &[Value], path: &[&str]) -> Vec<f64> {
    rounds
        .iter()
        .filter_map(|r| match (at(&r["rust"], path).as_f64(), at(&r["js"], path).as_f64()) {
            (Some(a), Some(b)) if b > 0.0 => Some(a / b),
            _ => None,
        })
        .collect()
}

/// "p50 / p95 / p99 / max" with each the median over the rounds.
fn lat_cell(rounds: &[Value], side: &str, path: &[&str]) -> String {
    let first_err = rounds.iter().find_map(|r| err_text(at(&r[side], &path[..path.len() - 1])));
    let q = |k: &str| {
        let mut p = path.to_vec();
        p.push(k);
        median(series(rounds, side, &p))
    };
    match (q("p50"), q("p95"), q("p99"), q("max")) {
        (Some(a), Some(b), Some(c), Some(d)) => format!("{a:.2} / {b:.2} / {c:.2} / {d:.2}"),
        _ => first_err.unwrap_or_else(|| "—".into()),
    }
}

fn lat1(v: &Value) -> String {
    if let Some(e) = err_text(v) {
        return e;
    }
    if v.is_null() || v["p50"].is_null() {
        return "—".into();
    }
    format!("{} / {} / {} / {}", num(&v["p50"], 2), num(&v["p95"], 2), num(&v["p99"], 2), num(&v["max"], 2))
}

fn ratio1(a: &Value, b: &Value) -> Option<f64> {
    match (a.as_f64(), b.as_f64()) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

fn r2(x: Option<f64>) -> String {
    x.map(|x| format!("{x:.2}")).unwrap_or_else(|| "—".into())
}

fn kb(v: &Value) -> String {
    v.as_f64().map(|x| format!("{:.1} KB", x / 1024.0)).unwrap_or_else(|| "—".into())
}

pub fn run(a: Args) -> Res<()> {
    let rounds_doc = load(a.get("rounds"));
    let rust = load(a.get("rust"));
    let js = load(a.get("js"));
    let meta = load(a.get("meta"));
    let out = a.req("out")?;
    let rounds: Vec<Value> = rounds_doc["rounds"].as_array().cloned().unwrap_or_default();

    let mut rows: Vec<[String; 5]> = Vec::new();
    let mut rj = Map::new();
    let row = |rows: &mut Vec<[String; 5]>, a: String, b: String, c: String, d: String, e: String| {
        rows.push([a, b, c, d, e]);
    };

    // 1. Fan-out, SSE and WebSocket.
    for (key, name) in [("fanout", "SSE"), ("wsfanout", "WebSocket")] {
        for n in ["1", "100", "1000"] {
            let p50 = spread(&ratios(&rounds, &[key, n, "latencyMs", "p50"]));
            let p99 = spread(&ratios(&rounds, &[key, n, "latencyMs", "p99"]));
            rj.insert(format!("{key}{n}P50"), spread_json(p50));
            rj.insert(format!("{key}{n}P99"), spread_json(p99));
            let deliv = |side: &str| {
                let d: f64 = series(&rounds, side, &[key, n, "delivered"]).iter().sum();
                let e: f64 = series(&rounds, side, &[key, n, "expectedDeliveries"]).iter().sum();
                if e > 0.0 {
                    format!(" ({d}/{e} delivered)")
                } else {
                    String::new()
                }
            };
            let mut target = format!("p50 ≤ 0.9× JS: {}", mark(p50.map(|s| s.med <= 0.9)));
            if n == "1000" && key == "fanout" {
                let p99ms = median(series(&rounds, "rust", &[key, n, "latencyMs", "p99"]));
                target.push_str(&format!("; p99 ≤ 20 ms: {}", mark(p99ms.map(|x| x <= 20.0))));
            }
            row(
                &mut rows,
                format!("1. {name} fan-out, {n} connection(s), ms p50/p95/p99/max"),
                format!("{}{}", lat_cell(&rounds, "rust", &[key, n, "latencyMs"]), deliv("rust")),
                format!("{}{}", lat_cell(&rounds, "js", &[key, n, "latencyMs"]), deliv("js")),
                format!("p50 {} · p99 {}", fmt_spread(p50), fmt_spread(p99)),
                target,
            );
            let q50 = spread(&ratios(&rounds, &[key, n, "putLatencyMs", "p50"]));
            let q99 = spread(&ratios(&rounds, &[key, n, "putLatencyMs", "p99"]));
            rj.insert(format!("{key}{n}PutP50"), spread_json(q50));
            row(
                &mut rows,
                format!("   PUT round trip with {n} {name} connection(s), ms"),
                lat_cell(&rounds, "rust", &[key, n, "putLatencyMs"]),
                lat_cell(&rounds, "js", &[key, n, "putLatencyMs"]),
                format!("p50 {} · p99 {}", fmt_spread(q50), fmt_spread(q99)),
                String::new(),
            );
        }
        // CPU per PUT to 1,000 connections.
        let per_put = |r: &Value, side: &str, k: &str| -> Option<f64> {
            let f = at(&r[side], &[key, "1000"]);
            match (f["cpu"][k].as_f64(), f["puts"].as_f64()) {
                (Some(c), Some(p)) if p > 0.0 => Some(c / p),
                _ => None,
            }
        };
        let cell = |side: &str| {
            let m = |k: &str| median(rounds.iter().filter_map(|r| per_put(r, side, k)).collect());
            format!("{} / {} / {}", r2(m("runtimeMs")), r2(m("proxyMs")), r2(m("wranglerMs")))
        };
        let rr: Vec<f64> = rounds
            .iter()
            .filter_map(|r| match (per_put(r, "rust", "runtimeMs"), per_put(r, "js", "runtimeMs")) {
                (Some(a), Some(b)) if b > 0.0 => Some(a / b),
                _ => None,
            })
            .collect();
        rj.insert(format!("{key}1000RuntimeCpuPerPut"), spread_json(spread(&rr)));
        row(
            &mut rows,
            format!("   server CPU ms per PUT to 1,000 {name} connections (runtime / proxy / node)"),
            cell("rust"),
            cell("js"),
            format!("{} (runtime)", fmt_spread(spread(&rr))),
            format!("≤ 1×: {}", mark(spread(&rr).map(|s| s.med <= 1.0))),
        );
    }

    // 2. Sustained updates.
    let ups = spread(&ratios(&rounds, &["sustained", "updatesPerSec"]));
    rj.insert("sustainedUpdatesPerSec".into(), spread_json(ups));
    let sus_cell = |side: &str| {
        let s = spread(&series(&rounds, side, &["sustained", "updatesPerSec"]));
        let d = median(series(&rounds, side, &["sustained", "deliveryRatio"]));
        let e: f64 = series(&rounds, side, &["sustained", "errors"]).iter().sum();
        match s {
            Some(s) => format!(
                "{:.1} /s ({:.1}–{:.1}; {:.2}% delivered, {e} errors)",
                s.med,
                s.min,
                s.max,
                d.unwrap_or(0.0) * 100.0
            ),
            None => rounds
                .iter()
                .find_map(|r| err_text(&r[side]["sustained"]))
                .unwrap_or_else(|| "—".into()),
        }
    };
    row(
        &mut rows,
        "2. sustained updates/s, 100 SSE subscribers, 16 writers".into(),
        sus_cell("rust"),
        sus_cell("js"),
        format!("{} (higher is better)", fmt_spread(ups)),
        format!("≥ 2× JS: {}", mark(ups.map(|s| s.med >= 2.0))),
    );
    let wps = |side: &str| {
        format!(
            "{} events · {} chunks",
            r2(median(series(&rounds, side, &["sustained", "eventsPerSubscriberPerSec"]))),
            r2(median(series(&rounds, side, &["sustained", "chunksPerSubscriberPerSec"])))
        )
    };
    let chunk_ratio = spread(&ratios(&rounds, &["sustained", "chunksPerSubscriberPerSec"]));
    rj.insert("sustainedChunksPerSubscriberPerSec".into(), spread_json(chunk_ratio));
    row(
        &mut rows,
        "   writes per subscriber per second (events received · body chunks received)".into(),
        wps("rust"),
        wps("js"),
        format!("{} (chunks)", fmt_spread(chunk_ratio)),
        "coalescing: chunks < events".into(),
    );
    let cpu_per = |r: &Value, side: &str, k: &str| -> Option<f64> {
        let s = &r[side]["sustained"];
        match (s["cpu"][k].as_f64(), s["updates"].as_f64()) {
            (Some(c), Some(u)) if u > 0.0 => Some(c / u),
            _ => None,
        }
    };
    let cpu_cell = |side: &str| {
        let m = |k: &str| median(rounds.iter().filter_map(|r| cpu_per(r, side, k)).collect());
        format!("{} / {} / {}", r2(m("runtimeMs")), r2(m("proxyMs")), r2(m("wranglerMs")))
    };
    let cr: Vec<f64> = rounds
        .iter()
        .filter_map(|r| match (cpu_per(r, "rust", "runtimeMs"), cpu_per(r, "js", "runtimeMs")) {
            (Some(a), Some(b)) if b > 0.0 => Some(a / b),
            _ => None,
        })
        .collect();
    rj.insert("sustainedRuntimeCpuPerUpdate".into(), spread_json(spread(&cr)));
    row(
        &mut rows,
        "   server CPU ms per update: runtime / proxy / node".into(),
        cpu_cell("rust"),
        cpu_cell("js"),
        format!("{} (runtime)", fmt_spread(spread(&cr))),
        format!("≤ 1×: {}", mark(spread(&cr).map(|s| s.med <= 1.0))),
    );
    let el50 = spread(&ratios(&rounds, &["sustained", "eventLatencyMs", "p50"]));
    let el99 = spread(&ratios(&rounds, &["sustained", "eventLatencyMs", "p99"]));
    rj.insert("sustainedEventLatencyP50".into(), spread_json(el50));
    rj.insert("sustainedEventLatencyP99".into(), spread_json(el99));
    row(
        &mut rows,
        "   event latency under that load, ms".into(),
        lat_cell(&rounds, "rust", &["sustained", "eventLatencyMs"]),
        lat_cell(&rounds, "js", &["sustained", "eventLatencyMs"]),
        format!("p50 {} · p99 {}", fmt_spread(el50), fmt_spread(el99)),
        String::new(),
    );

    // 3. Capacity and memory, SSE and WebSocket.
    for (key, name) in [("capacity", "SSE"), ("wscapacity", "WebSocket")] {
        let rc = &rust[key];
        let jc = &js[key];
        let cap = |v: &Value| match err_text(v) {
            Some(e) => e,
            None if v.is_null() => "—".into(),
            None => format!("{} of {} ({})", v["held"], v["target"], v["stoppedBecause"].as_str().unwrap_or("")),
        };
        let ramp = |v: &Value| {
            let t: f64 = v["steps"].as_array().map(|s| s.iter().filter_map(|x| x["stepConnectMs"].as_f64()).sum()).unwrap_or(0.0);
            if t > 0.0 {
                format!(", ramp {:.1} s", t / 1000.0)
            } else {
                String::new()
            }
        };
        row(
            &mut rows,
            format!("3. {name} connections held on one tenant"),
            format!("{}{}", cap(rc), ramp(rc)),
            format!("{}{}", cap(jc), ramp(jc)),
            r2(ratio1(&rc["held"], &jc["held"])),
            format!("≥ 5,000: {}", mark(rc["held"].as_f64().map(|x| x >= 5000.0))),
        );
        let mem = |v: &Value, k: &str| {
            if v.is_null() || v.get("error").is_some() {
                return "—".into();
            }
            let b = if k.is_empty() { v } else { &v[k] };
            if b.is_null() {
                return "—".into();
            }
            // The WebSocket ramp talks to the runtime's entry socket: the proxy is not in the path.
            let proxy = if key == "wscapacity" && b["proxyBytesPerSubscriber"].as_f64() == Some(0.0) {
                "proxy not in the path".to_string()
            } else {
                format!("{} B proxy", num(&b["proxyBytesPerSubscriber"], 0))
            };
            format!(
                "{} B runtime + {} (at {})",
                num(&b["runtimeBytesPerSubscriber"], 0),
                proxy,
                if k.is_empty() { v["held"].to_string() } else { b["subscribers"].to_string() }
            )
        };
        let m1 = ratio1(&rc["at1000"]["runtimeBytesPerSubscriber"], &jc["at1000"]["runtimeBytesPerSubscriber"]);
        let mm = ratio1(&rc["runtimeBytesPerSubscriber"], &jc["runtimeBytesPerSubscriber"]);
        rj.insert(format!("{key}MemoryAt1000"), json!(m1.map(r3)));
        rj.insert(format!("{key}MemoryAtMax"), json!(mm.map(r3)));
        row(
            &mut rows,
            format!("   workerd RSS per {name} connection, at 1,000"),
            mem(rc, "at1000"),
            mem(jc, "at1000"),
            format!("{} (runtime)", r2(m1)),
            String::new(),
        );
        row(
            &mut rows,
            format!("   workerd RSS per {name} connection, at the most held"),
            mem(rc, ""),
            mem(jc, ""),
            format!("{} (runtime)", r2(mm)),
            String::new(),
        );
        // Of which the isolate: V8 heap and Wasm memory growth per connection, at the most held
        // step the inspector was read at.
        let heap = |v: &Value| {
            let h0 = &v["heapBefore"];
            let last = v["steps"]
                .as_array()
                .and_then(|s| s.iter().rev().find(|x| x["heap"]["jsHeapUsed"].is_number()).cloned());
            match (h0["jsHeapUsed"].as_f64(), last) {
                (Some(j0), Some(s)) => {
                    let n = s["subscribers"].as_f64().unwrap_or(1.0).max(1.0);
                    let j = (s["heap"]["jsHeapUsed"].as_f64().unwrap_or(j0) - j0) / n;
                    let w = match (h0["wasmMemoryBytes"].as_f64(), s["heap"]["wasmMemoryBytes"].as_f64()) {
                        (Some(a), Some(b)) => format!("{:.0} B", (b - a) / n),
                        _ => "—".into(),
                    };
                    format!("JS heap {j:.0} B, Wasm memory {w} (at {n})")
                }
                _ => "—".into(),
            }
        };
        row(
            &mut rows,
            format!("   of which the Worker isolate per {name} connection"),
            heap(rc),
            heap(jc),
            String::new(),
            String::new(),
        );
        let bc = |v: &Value| {
            let b = &v["broadcastAtMax"];
            if let Some(e) = err_text(b) {
                return e;
            }
            if b.is_null() {
                return "—".into();
            }
            format!("{} ms, {} of {} reached", num(&b["allDeliveredMs"], 1), b["reached"], b["subscribers"])
        };
        row(
            &mut rows,
            format!("   one PUT delivered to all {name} connections"),
            bc(rc),
            bc(jc),
            r2(ratio1(&rc["broadcastAtMax"]["allDeliveredMs"], &jc["broadcastAtMax"]["allDeliveredMs"])),
            String::new(),
        );
        if key == "wscapacity" {
            let hib = |v: &Value| {
                let h = &v["hibernation"];
                if h.is_null() {
                    return "—".into();
                }
                let b = &h["broadcastAfterWake"];
                let ev = match h["evictedAndConstructedAgain"].as_bool() {
                    Some(true) => "evicted and constructed again",
                    Some(false) => "NOT evicted",
                    None => "eviction unknown",
                };
                let adopted = &h["statsAfter"]["adoptedSockets"];
                match err_text(b) {
                    Some(e) => format!("{ev}; {e}"),
                    None => format!(
                        "{ev} after {} s idle ({} adopted); the next PUT reached {} of {} in {} ms",
                        h["idleS"], adopted, b["reached"], b["subscribers"], num(&b["allDeliveredMs"], 0)
                    ),
                }
            };
            let all = |v: &Value| {
                let b = &v["hibernation"]["broadcastAfterWake"];
                match (b["reached"].as_f64(), b["subscribers"].as_f64()) {
                    (Some(r), Some(s)) => Some(r >= s && s >= 5000.0),
                    _ => None,
                }
            };
            row(
                &mut rows,
                "   hibernation: idle sockets only, then one PUT".into(),
                hib(rc),
                hib(jc),
                String::new(),
                format!("wakes and reaches every socket at 5,000: {}", mark(all(rc))),
            );
        }
    }

    // Presence.
    let rp = &rounds_doc["presence"]["rust"];
    let jp = &rounds_doc["presence"]["js"];
    let pcell = |v: &Value| match err_text(v) {
        Some(e) => e,
        None if v.is_null() => "—".into(),
        None => format!("{} ({} of {} diffs, {} sockets)", lat1(&v["latencyMs"]), v["received"], v["expected"], v["connections"]),
    };
    let pr50 = ratio1(&rp["latencyMs"]["p50"], &jp["latencyMs"]["p50"]);
    rj.insert("presenceJoinP50".into(), json!(pr50.map(r3)));
    row(
        &mut rows,
        "3. presence: join → presence_diff at the other sockets, ms".into(),
        pcell(rp),
        pcell(jp),
        format!(
            "p50 {} · p99 {}",
            r2(pr50),
            r2(ratio1(&rp["latencyMs"]["p99"], &jp["latencyMs"]["p99"]))
        ),
        String::new(),
    );

    // 4. Polling (once per side, after the rounds).
    let mut poll_ratio = Map::new();
    for side in ["rust", "js"] {
        let a = &rounds_doc["polling"][side]["1000"]["latencyMs"];
        let b = &rounds_doc["polling"][side]["100000"]["latencyMs"];
        poll_ratio.insert(
            side.into(),
            json!({"p50": ratio1(&b["p50"], &a["p50"]).map(r3), "p99": ratio1(&b["p99"], &a["p99"]).map(r3)}),
        );
    }
    for n in ["1000", "100000"] {
        let rpv = &rounds_doc["polling"]["rust"][n];
        let jpv = &rounds_doc["polling"]["js"][n];
        let p = |v: &Value| err_text(v).unwrap_or_else(|| lat1(&v["latencyMs"]));
        let r50 = ratio1(&rpv["latencyMs"]["p50"], &jpv["latencyMs"]["p50"]);
        rj.insert(format!("polling{n}P50"), json!(r50.map(r3)));
        row(
            &mut rows,
            format!("4. realtime-status?since=head−10, {n} orders, ms"),
            p(rpv),
            p(jpv),
            format!("p50 {} · p99 {}", r2(r50), r2(ratio1(&rpv["latencyMs"]["p99"], &jpv["latencyMs"]["p99"]))),
            format!("≤ 1×: {}", mark(r50.map(|x| x <= 1.0))),
        );
    }
    for n in ["1000", "100000"] {
        row(
            &mut rows,
            format!("   realtime-status?since=0 (first page), {n} orders, ms"),
            lat1(&rounds_doc["polling"]["rust"][n]["sinceZeroLatencyMs"]),
            lat1(&rounds_doc["polling"]["js"][n]["sinceZeroLatencyMs"]),
            String::new(),
            String::new(),
        );
    }
    let pr = &poll_ratio["rust"];
    let pj = &poll_ratio["js"];
    row(
        &mut rows,
        "   polling cost ratio 100k / 1k (p50 · p99)".into(),
        format!("{} · {}", num(&pr["p50"], 2), num(&pr["p99"], 2)),
        format!("{} · {}", num(&pj["p50"], 2), num(&pj["p99"], 2)),
        String::new(),
        format!("≤ 1.5: {}", mark(pr["p50"].as_f64().map(|x| x <= 1.5))),
    );

    // 5. Size and cold start.
    let rm = &meta["rust"];
    let jm = &meta["js"];
    row(
        &mut rows,
        "5. Wasm size raw / gzip".into(),
        format!("{} / {}", kb(&rm["wasmBytes"]), kb(&rm["wasmGzipBytes"])),
        format!("JS bundle {} / {}", kb(&jm["scriptBytes"]), kb(&jm["scriptGzipBytes"])),
        String::new(),
        format!("≤ 200 KB gzip: {}", mark(rm["wasmGzipBytes"].as_f64().map(|x| x <= 200.0 * 1024.0))),
    );
    let colds = |v: &Value, k: &str| -> Vec<f64> {
        v["coldStarts"].as_array().map(|a| a.iter().filter_map(|c| c[k].as_f64()).collect()).unwrap_or_default()
    };
    let pair = |k: &str| -> Vec<f64> {
        colds(rm, k).iter().zip(colds(jm, k)).filter(|(_, b)| *b > 0.0).map(|(a, b)| a / b).collect()
    };
    let cs = |v: &Value| {
        let r = spread(&colds(v, "readyMs"));
        let f = spread(&colds(v, "firstAnswerMs"));
        match (r, f) {
            (Some(r), Some(f)) => format!(
                "{:.0} ms ready ({:.0}–{:.0}), first answer {:.1} ms ({:.1}–{:.1}), {} starts",
                r.med, r.min, r.max, f.med, f.min, f.max, r.n
            ),
            _ => "—".into(),
        }
    };
    let cr_ready = spread(&pair("readyMs"));
    let cr_first = spread(&pair("firstAnswerMs"));
    rj.insert("coldStartReady".into(), spread_json(cr_ready));
    rj.insert("coldStartFirstAnswer".into(), spread_json(cr_first));
    row(
        &mut rows,
        "   cold start: spawn of `wrangler dev` → first 200".into(),
        cs(rm),
        cs(jm),
        format!("ready {} · first answer {}", fmt_spread(cr_ready), fmt_spread(cr_first)),
        format!("≤ 1.5×: {}", mark(cr_ready.map(|s| s.med <= 1.5))),
    );
    let warm = |v: &Value| {
        let m = |k: &str| {
            median(
                v["coldStarts"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|c| c["warmHealth"][k].as_f64()).collect())
                    .unwrap_or_default(),
            )
        };
        format!("{} / {} / {} / {}", r2(m("p50")), r2(m("p95")), r2(m("p99")), r2(m("max")))
    };
    let wr: Vec<f64> = rm["coldStarts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .zip(jm["coldStarts"].as_array().cloned().unwrap_or_default().iter())
        .filter_map(|(a, b)| ratio1(&a["warmHealth"]["p50"], &b["warmHealth"]["p50"]))
        .collect();
    rj.insert("warmHealthP50".into(), spread_json(spread(&wr)));
    row(
        &mut rows,
        "   warm GET /api/health, ms (after 200 untimed requests; 300 timed)".into(),
        warm(rm),
        warm(jm),
        format!("p50 {}", fmt_spread(spread(&wr))),
        format!("≤ 1×: {}", mark(spread(&wr).map(|s| s.med <= 1.0))),
    );

    let header = ["measure", "Rust Worker", "JS baseline", "Rust/JS: median (min–max) over rounds", "target"];
    let mut table = String::new();
    table.push_str(&format!("| {} |\n", header.join(" | ")));
    table.push_str("|---|---|---|---|---|\n");
    for r in &rows {
        table.push_str(&format!("| {} |\n", r.join(" | ")));
    }
    println!("{table}");
    println!(
        "{} interleaved round(s); load average at the end: {}",
        rounds.len(),
        meta["machine"]["loadAverageAtEnd"].as_str().unwrap_or("?")
    );

    let combined = json!({
        "meta": meta,
        "rounds": rounds_doc,
        "rust": rust,
        "js": js,
        "ratiosRustOverJs": Value::Object(rj),
        "pollingCostRatio100kOver1k": Value::Object(poll_ratio),
        "table": table,
    });
    std::fs::write(out, serde_json::to_string_pretty(&combined)?)?;
    eprintln!("wrote {out}");
    Ok(())
}
