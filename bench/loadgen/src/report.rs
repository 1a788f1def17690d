//! `loadgen report`: merges the Rust and JS runs (and the harness's meta data: sizes, cold start,
//! machine), prints a Markdown table with Rust/JS ratios and the targets, writes the combined JSON.

use serde_json::{json, Map, Value};

use crate::http::Res;
use crate::Args;

fn load(path: Option<&str>) -> Value {
    path.and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(Value::Null)
}

fn f(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn num(v: &Value, digits: usize) -> String {
    match f(v) {
        Some(x) => format!("{x:.digits$}"),
        None => "—".into(),
    }
}

/// "p50 / p95 / p99 / max" of a Summary, or the error.
fn lat(v: &Value) -> String {
    if v.is_null() {
        return "—".into();
    }
    if let Some(e) = v.get("error") {
        return format!("error: {}", e.as_str().unwrap_or("?").chars().take(60).collect::<String>());
    }
    format!("{} / {} / {} / {}", num(&v["p50"], 2), num(&v["p95"], 2), num(&v["p99"], 2), num(&v["max"], 2))
}

fn ratio(a: &Value, b: &Value) -> Option<f64> {
    match (f(a), f(b)) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

fn r2(x: Option<f64>) -> String {
    x.map(|x| format!("{x:.2}")).unwrap_or_else(|| "—".into())
}

fn round(x: Option<f64>) -> Value {
    x.map(|x| json!((x * 1000.0).round() / 1000.0)).unwrap_or(Value::Null)
}

fn mark(ok: Option<bool>) -> &'static str {
    match ok {
        Some(true) => "met",
        Some(false) => "missed",
        None => "—",
    }
}

pub fn run(a: Args) -> Res<()> {
    let rust = load(a.get("rust"));
    let js = load(a.get("js"));
    let meta = load(a.get("meta"));
    let out = a.req("out")?;

    let mut rows: Vec<[String; 5]> = Vec::new();
    let mut ratios = Map::new();

    for n in ["1", "100", "1000"] {
        let rl = &rust["fanout"][n]["latencyMs"];
        let jl = &js["fanout"][n]["latencyMs"];
        let rr = &rust["fanout"][n];
        let jr = &js["fanout"][n];
        let p50 = ratio(&rl["p50"], &jl["p50"]);
        let p99 = ratio(&rl["p99"], &jl["p99"]);
        ratios.insert(format!("fanout{n}P50"), round(p50));
        ratios.insert(format!("fanout{n}P99"), round(p99));
        let target = if n == "1000" {
            format!("p99 ≤ 20 ms: {}; Rust ≤ JS: {}", mark(f(&rl["p99"]).map(|x| x <= 20.0)),
                mark(p99.map(|x| x <= 1.0)))
        } else {
            format!("Rust ≤ JS: {}", mark(p99.map(|x| x <= 1.0)))
        };
        let deliv = |v: &Value| {
            if v.get("error").is_some() || v.is_null() {
                String::new()
            } else {
                format!(" ({}/{} delivered)", v["delivered"], v["expectedDeliveries"])
            }
        };
        let err_or = |v: &Value, l: &Value| match v.get("error") {
            Some(e) => format!("error: {}", e.as_str().unwrap_or("?").chars().take(60).collect::<String>()),
            None => lat(l),
        };
        rows.push([
            format!("1. fan-out latency, {n} subscriber(s), ms p50/p95/p99/max"),
            format!("{}{}", err_or(rr, rl), deliv(rr)),
            format!("{}{}", err_or(jr, jl), deliv(jr)),
            format!("p50 {} · p99 {}", r2(p50), r2(p99)),
            target,
        ]);
        rows.push([
            format!("   PUT round trip with {n} subscriber(s), ms"),
            lat(&rr["putLatencyMs"]),
            lat(&jr["putLatencyMs"]),
            format!("p50 {} · p99 {}",
                r2(ratio(&rr["putLatencyMs"]["p50"], &jr["putLatencyMs"]["p50"])),
                r2(ratio(&rr["putLatencyMs"]["p99"], &jr["putLatencyMs"]["p99"]))),
            String::new(),
        ]);
    }

    let rs = &rust["sustained"];
    let jsu = &js["sustained"];
    let sus = |v: &Value| match v.get("error") {
        Some(e) => format!("error: {}", e.as_str().unwrap_or("?").chars().take(60).collect::<String>()),
        None if v.is_null() => "—".into(),
        None => format!("{} /s ({:.2}% delivered, {} errors)", num(&v["updatesPerSec"], 1),
            f(&v["deliveryRatio"]).unwrap_or(0.0) * 100.0, v["errors"]),
    };
    let ups = ratio(&rs["updatesPerSec"], &jsu["updatesPerSec"]);
    ratios.insert("sustainedUpdatesPerSec".into(), round(ups));
    let full = f(&rs["deliveryRatio"]).map(|d| d >= 0.9999);
    rows.push([
        "2. sustained updates/s, 100 subscribers".into(),
        sus(rs),
        sus(jsu),
        format!("{} (higher is better)", r2(ups)),
        format!("≥ 500/s, all delivered: {}", mark(match (f(&rs["updatesPerSec"]), full) {
            (Some(u), Some(fl)) => Some(u >= 500.0 && fl),
            _ => None,
        })),
    ]);
    let per = |v: &Value, key: &str, n: &Value| -> Option<f64> {
        match (f(&v["cpu"][key]), f(n)) {
            (Some(c), Some(n)) if n > 0.0 => Some(c / n),
            _ => None,
        }
    };
    let cpu_row = |v: &Value, n: &Value| {
        if v.is_null() || v.get("error").is_some() {
            return "—".into();
        }
        format!("{} / {} / {}", r2(per(v, "runtimeMs", n)), r2(per(v, "proxyMs", n)),
            r2(per(v, "wranglerMs", n)))
    };
    let cpu_ratio = ratio(
        &json!(per(rs, "runtimeMs", &rs["updates"])),
        &json!(per(jsu, "runtimeMs", &jsu["updates"])),
    );
    ratios.insert("sustainedRuntimeCpuPerUpdate".into(), round(cpu_ratio));
    rows.push([
        "   server CPU ms per update: Worker runtime / wrangler proxy / wrangler node".into(),
        cpu_row(rs, &rs["updates"]),
        cpu_row(jsu, &jsu["updates"]),
        format!("{} (runtime)", r2(cpu_ratio)),
        String::new(),
    ]);
    let rf = &rust["fanout"]["1000"];
    let jf = &js["fanout"]["1000"];
    let fcpu = ratio(
        &json!(per(rf, "runtimeMs", &rf["puts"])),
        &json!(per(jf, "runtimeMs", &jf["puts"])),
    );
    ratios.insert("fanout1000RuntimeCpuPerPut".into(), round(fcpu));
    rows.push([
        "   server CPU ms per PUT to 1,000 subscribers (runtime / proxy / node)".into(),
        cpu_row(rf, &rf["puts"]),
        cpu_row(jf, &jf["puts"]),
        format!("{} (runtime)", r2(fcpu)),
        String::new(),
    ]);
    let el50 = ratio(&rs["eventLatencyMs"]["p50"], &jsu["eventLatencyMs"]["p50"]);
    let el99 = ratio(&rs["eventLatencyMs"]["p99"], &jsu["eventLatencyMs"]["p99"]);
    ratios.insert("sustainedEventLatencyP50".into(), round(el50));
    ratios.insert("sustainedEventLatencyP99".into(), round(el99));
    rows.push([
        "   event latency under that load, ms".into(),
        lat(&rs["eventLatencyMs"]),
        lat(&jsu["eventLatencyMs"]),
        format!("p50 {} · p99 {}", r2(el50), r2(el99)),
        format!("Rust ≤ JS: {}", mark(el99.map(|x| x <= 1.0))),
    ]);

    let rc = &rust["capacity"];
    let jc = &js["capacity"];
    let cap = |v: &Value| match v.get("error") {
        Some(e) => format!("error: {}", e.as_str().unwrap_or("?").chars().take(60).collect::<String>()),
        None if v.is_null() => "—".into(),
        None => format!("{} of {} ({})", v["held"], v["target"], v["stoppedBecause"].as_str().unwrap_or("")),
    };
    let held = ratio(&rc["held"], &jc["held"]);
    ratios.insert("capacityHeld".into(), round(held));
    rows.push([
        "3. SSE subscribers held on one tenant".into(),
        cap(rc),
        cap(jc),
        format!("{} (higher is better)", r2(held)),
        format!("≥ 5,000: {}", mark(f(&rc["held"]).map(|x| x >= 5000.0))),
    ]);
    let mem = |v: &Value| {
        if v.is_null() || v.get("error").is_some() {
            return "—".into();
        }
        format!("{} B runtime + {} B proxy", num(&v["runtimeBytesPerSubscriber"], 0),
            num(&v["proxyBytesPerSubscriber"], 0))
    };
    let memr = ratio(&rc["runtimeBytesPerSubscriber"], &jc["runtimeBytesPerSubscriber"]);
    ratios.insert("memoryPerSubscriber".into(), round(memr));
    rows.push([
        "   workerd RSS per subscriber".into(),
        mem(rc),
        mem(jc),
        format!("{} (runtime)", r2(memr)),
        format!("≤ 2 KB (runtime): {}", mark(f(&rc["runtimeBytesPerSubscriber"]).map(|x| x <= 2048.0))),
    ]);
    let bc = |v: &Value| {
        let b = &v["broadcastAtMax"];
        if b.is_null() || b.get("error").is_some() {
            return "—".into();
        }
        format!("{} ms, {} missing", num(&b["allDeliveredMs"], 1), b["missing"])
    };
    rows.push([
        "   one PUT delivered to all of them".into(),
        bc(rc),
        bc(jc),
        r2(ratio(&rc["broadcastAtMax"]["allDeliveredMs"], &jc["broadcastAtMax"]["allDeliveredMs"])),
        String::new(),
    ]);

    let mut poll_ratio = Map::new();
    for (label, v) in [("rust", &rust), ("js", &js)] {
        let a = &v["polling"]["1000"]["latencyMs"];
        let b = &v["polling"]["100000"]["latencyMs"];
        poll_ratio.insert(label.into(), json!({
            "p50": round(ratio(&b["p50"], &a["p50"])),
            "p99": round(ratio(&b["p99"], &a["p99"])),
        }));
    }
    for n in ["1000", "100000"] {
        let rp = &rust["polling"][n];
        let jp = &js["polling"][n];
        let p = |v: &Value| match v.get("error") {
            Some(e) => format!("error: {}", e.as_str().unwrap_or("?").chars().take(60).collect::<String>()),
            None => lat(&v["latencyMs"]),
        };
        rows.push([
            format!("4. realtime-status?since=head−10, {n} orders, ms"),
            p(rp),
            p(jp),
            format!("p50 {} · p99 {}",
                r2(ratio(&rp["latencyMs"]["p50"], &jp["latencyMs"]["p50"])),
                r2(ratio(&rp["latencyMs"]["p99"], &jp["latencyMs"]["p99"]))),
            String::new(),
        ]);
    }
    for n in ["1000", "100000"] {
        rows.push([
            format!("   realtime-status?since=0 (first page), {n} orders, ms"),
            lat(&rust["polling"][n]["sinceZeroLatencyMs"]),
            lat(&js["polling"][n]["sinceZeroLatencyMs"]),
            String::new(),
            String::new(),
        ]);
    }
    let pr = &poll_ratio["rust"];
    let pj = &poll_ratio["js"];
    rows.push([
        "   polling cost ratio 100k / 1k (p50 · p99)".into(),
        format!("{} · {}", num(&pr["p50"], 2), num(&pr["p99"], 2)),
        format!("{} · {}", num(&pj["p50"], 2), num(&pj["p99"], 2)),
        String::new(),
        format!("≤ 1.5: {}", mark(f(&pr["p50"]).map(|x| x <= 1.5))),
    ]);

    let rm = &meta["rust"];
    let jm = &meta["js"];
    let kb = |v: &Value| f(v).map(|x| format!("{:.1} KB", x / 1024.0)).unwrap_or_else(|| "—".into());
    rows.push([
        "5. Wasm size raw / gzip".into(),
        format!("{} / {}", kb(&rm["wasmBytes"]), kb(&rm["wasmGzipBytes"])),
        format!("JS bundle {} / {}", kb(&jm["scriptBytes"]), kb(&jm["scriptGzipBytes"])),
        String::new(),
        String::new(),
    ]);
    let cs = |v: &Value| {
        if v["coldStart"].is_null() {
            return "—".into();
        }
        format!("{} ms ready, first answer {} ms", num(&v["coldStart"]["readyMs"], 0),
            num(&v["coldStart"]["firstAnswerMs"], 1))
    };
    rows.push([
        "   cold start: spawn of `wrangler dev` → first 200".into(),
        cs(rm),
        cs(jm),
        r2(ratio(&rm["coldStart"]["readyMs"], &jm["coldStart"]["readyMs"])),
        String::new(),
    ]);
    rows.push([
        "   warm GET /api/health, ms".into(),
        lat(&rm["coldStart"]["warmHealth"]),
        lat(&jm["coldStart"]["warmHealth"]),
        String::new(),
        String::new(),
    ]);

    // Print as Markdown.
    let header = ["measure", "Rust Worker", "JS baseline", "Rust/JS", "target"];
    let mut table = String::new();
    table.push_str(&format!("| {} |\n", header.join(" | ")));
    table.push_str("|---|---|---|---|---|\n");
    for r in &rows {
        table.push_str(&format!("| {} |\n", r.join(" | ")));
    }
    println!("{table}");

    let combined = json!({
        "meta": meta,
        "rust": rust,
        "js": js,
        "ratiosRustOverJs": Value::Object(ratios),
        "pollingCostRatio100kOver1k": Value::Object(poll_ratio),
        "table": table,
    });
    std::fs::write(out, serde_json::to_string_pretty(&combined)?)?;
    eprintln!("wrote {out}");
    Ok(())
}
