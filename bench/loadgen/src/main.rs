//! `loadgen`: the load generator of `make bench`.
//!
//! Modes:
//!   loadgen --base-url URL --admin-token T --label rust|js --out FILE [--quick] [options]
//!       runs the scenarios against one server and writes their results as JSON;
//!   loadgen wait-ready --base-url URL --start-ns NS [--timeout-s S]
//!       polls GET /api/health until it answers 200 and prints {"readyMs": ...} measured from NS
//!       (a `date +%s%N` taken just before the server was spawned);
//!   loadgen report --rust FILE --js FILE [--meta FILE] --out FILE
//!       merges both runs, prints the side-by-side table and writes the combined JSON.

mod http;
mod report;
mod sse;
mod stats;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hyper::{Method, StatusCode};
use serde::Serialize;
use serde_json::{json, Value};

use http::{Client, Res, Target};
use sse::Group;
use stats::{summarize, Summary};

static NOTE: AtomicU64 = AtomicU64::new(0);

struct Args {
    flags: HashMap<String, Vec<String>>,
    switches: Vec<String>,
}

impl Args {
    fn parse(v: &[String]) -> Args {
        let mut flags: HashMap<String, Vec<String>> = HashMap::new();
        let mut switches = Vec::new();
        let mut i = 0;
        while i < v.len() {
            let a = &v[i];
            if let Some(name) = a.strip_prefix("--") {
                if name == "quick" {
                    switches.push(name.to_string());
                } else if i + 1 < v.len() {
                    flags.entry(name.to_string()).or_default().push(v[i + 1].clone());
                    i += 1;
                } else {
                    switches.push(name.to_string());
                }
            }
            i += 1;
        }
        Args { flags, switches }
    }
    fn get(&self, k: &str) -> Option<&str> {
        self.flags.get(k).and_then(|v| v.last()).map(|s| s.as_str())
    }
    fn all(&self, k: &str) -> Vec<String> {
        self.flags.get(k).cloned().unwrap_or_default()
    }
    fn req(&self, k: &str) -> Res<&str> {
        self.get(k).ok_or_else(|| format!("missing --{k}").into())
    }
    fn num<T: std::str::FromStr>(&self, k: &str, default: T) -> Res<T> {
        match self.get(k) {
            None => Ok(default),
            Some(s) => s.parse().map_err(|_| format!("bad --{k} {s}").into()),
        }
    }
    fn has(&self, k: &str) -> bool {
        self.switches.iter().any(|s| s == k)
    }
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let r = rt.block_on(async move {
        match argv.first().map(|s| s.as_str()) {
            Some("wait-ready") => wait_ready(Args::parse(&argv[1..])).await,
            Some("report") => report::run(Args::parse(&argv[1..])),
            _ => run(Args::parse(&argv)).await,
        }
    });
    if let Err(e) = r {
        eprintln!("loadgen: {e}");
        std::process::exit(1);
    }
}

fn epoch_ns() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

async fn wait_ready(a: Args) -> Res<()> {
    let t = Target::parse(a.req("base-url")?)?;
    let start_ns: u128 = a.req("start-ns")?.parse()?;
    let timeout = Duration::from_secs(a.num("timeout-s", 60u64)?);
    let deadline = Instant::now() + timeout;
    loop {
        let mut c = Client::new(&t);
        let t0 = Instant::now();
        if let Ok((st, _)) = c.call(Method::GET, "/api/health", None, None).await {
            if st == StatusCode::OK {
                let req_ms = t0.elapsed().as_secs_f64() * 1e3;
                let ready_ms = (epoch_ns().saturating_sub(start_ns)) as f64 / 1e6;
                // Then a few warm requests on a kept-alive connection, for comparison.
                let mut warm = Vec::new();
                for _ in 0..20 {
                    let t1 = Instant::now();
                    c.call(Method::GET, "/api/health", None, None).await?;
                    warm.push(t1.elapsed().as_secs_f64() * 1e3);
                }
                println!(
                    "{}",
                    json!({"readyMs": (ready_ms * 10.0).round() / 10.0,
                           "firstAnswerMs": (req_ms * 1000.0).round() / 1000.0,
                           "warmHealth": summarize(warm)})
                );
                return Ok(());
            }
        }
        if Instant::now() >= deadline {
            return Err("server did not answer /api/health in time".into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

// ------------------------------------------------------------------------------------------------
// CPU accounting of the server processes (utime + stime from /proc, clock ticks of 10 ms)

#[derive(Clone, Default)]
struct Cpu {
    pids: Vec<(&'static str, u32)>,
}

fn cpu_ticks(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the ")" that closes the command name: state is field 3, utime 14, stime 15.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

impl Cpu {
    fn snapshot(&self) -> Vec<Option<u64>> {
        self.pids.iter().map(|(_, p)| cpu_ticks(*p)).collect()
    }
    /// CPU milliseconds used by each process since `before`, plus the wall time.
    fn since(&self, before: &[Option<u64>], wall: Duration) -> Value {
        let mut m = serde_json::Map::new();
        for ((name, pid), b) in self.pids.iter().zip(before) {
            if let (Some(b), Some(a)) = (b, cpu_ticks(*pid)) {
                m.insert(format!("{name}Ms"), json!((a - b) * 10));
            }
        }
        m.insert("wallMs".into(), json!(ms(wall).round()));
        Value::Object(m)
    }
}

// ------------------------------------------------------------------------------------------------
// API helpers

struct Api {
    t: Target,
    admin: String,
    prefix: String,
}

fn parse_json(b: &[u8]) -> Res<Value> {
    Ok(serde_json::from_slice(b)?)
}

fn err_of(what: &str, st: StatusCode, body: &[u8]) -> Box<dyn std::error::Error + Send + Sync> {
    let s = String::from_utf8_lossy(body);
    let s: String = s.chars().take(300).collect();
    format!("{what}: HTTP {st}: {s}").into()
}

impl Api {
    fn tenant_id(&self, suffix: &str) -> String {
        format!("{}-{}", self.prefix, suffix)
    }

    async fn create_tenant(&self, c: &mut Client, id: &str) -> Res<()> {
        let body = json!({"id": id, "name": format!("Bench {id}")});
        let (st, b) = c
            .call(Method::POST, "/api/admin/tenants", Some(&self.admin), Some(body.to_string().into_bytes()))
            .await?;
        if st == StatusCode::CREATED || st == StatusCode::CONFLICT {
            Ok(())
        } else {
            Err(err_of("create tenant", st, &b))
        }
    }

    async fn mint(&self, c: &mut Client, tenant: &str, user: &str) -> Res<String> {
        let body = json!({"userId": user, "role": "manager"});
        let path = format!("/api/admin/tenants/{tenant}/tokens");
        let (st, b) = c
            .call(Method::POST, &path, Some(&self.admin), Some(body.to_string().into_bytes()))
            .await?;
        if st != StatusCode::CREATED && st != StatusCode::OK {
            return Err(err_of("mint token", st, &b));
        }
        let v = parse_json(&b)?;
        Ok(v["token"].as_str().ok_or("token missing in mint response")?.to_string())
    }

    async fn create_order(&self, c: &mut Client, tenant: &str, tok: &str, i: usize) -> Res<String> {
        let body = json!({
            "customerName": format!("Bench customer {i}"),
            "items": [{"title": "Pink roses", "quantity": 12}],
            "notes": "bench seed",
        });
        let path = format!("/api/tenants/{tenant}/orders");
        let (st, b) = c
            .call(Method::POST, &path, Some(tok), Some(body.to_string().into_bytes()))
            .await?;
        if st != StatusCode::CREATED {
            return Err(err_of("create order", st, &b));
        }
        let v = parse_json(&b)?;
        Ok(v["id"].as_str().ok_or("id missing in created order")?.to_string())
    }

    /// PUT {"notes":"bench <n>"}: returns the event's sequence number.
    async fn put_note(&self, c: &mut Client, tenant: &str, tok: &str, order: &str) -> Res<u64> {
        let n = NOTE.fetch_add(1, Ordering::Relaxed);
        let body = json!({"notes": format!("bench {n}")});
        let path = format!("/api/tenants/{tenant}/orders/{order}");
        let (st, b) = c
            .call(Method::PUT, &path, Some(tok), Some(body.to_string().into_bytes()))
            .await?;
        if st != StatusCode::OK {
            return Err(err_of("update order", st, &b));
        }
        let v = parse_json(&b)?;
        let id = &v["event"]["id"];
        let seq = match id {
            Value::String(s) => s.parse::<u64>().ok(),
            Value::Number(n) => n.as_u64(),
            _ => None,
        };
        seq.ok_or_else(|| format!("no event id in PUT response: {}", String::from_utf8_lossy(&b)).into())
    }

    fn sse_path(&self, tenant: &str, tok: &str) -> String {
        format!("/api/tenants/{tenant}/realtime/orders?access_token={tok}")
    }

    /// A fresh tenant with a manager token and `orders` orders.
    async fn setup(&self, c: &mut Client, suffix: &str, orders: usize) -> Res<(String, String, Vec<String>)> {
        let tenant = self.tenant_id(suffix);
        self.create_tenant(c, &tenant).await?;
        let tok = self.mint(c, &tenant, "bench-manager").await?;
        let mut ids = Vec::with_capacity(orders);
        for i in 0..orders {
            ids.push(self.create_order(c, &tenant, &tok, i).await?);
        }
        Ok((tenant, tok, ids))
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Latency samples (arrival − PUT send time) of every recorded event whose id is in `sent`.
fn fanout_samples(outs: &[sse::SubOut], sent: &HashMap<u64, Instant>) -> (Vec<f64>, usize) {
    let mut v = Vec::new();
    for o in outs {
        for (seq, at) in &o.arrivals {
            if let Some(t0) = sent.get(seq) {
                v.push(ms(at.saturating_duration_since(*t0)));
            }
        }
    }
    let n = v.len();
    (v, n)
}

// ------------------------------------------------------------------------------------------------
// Scenario 1: fan-out latency

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Fanout {
    subscribers: usize,
    connected: usize,
    puts: usize,
    expected_deliveries: usize,
    delivered: usize,
    latency_ms: Summary,
    put_latency_ms: Summary,
    connect_ms: f64,
    subscriber_errors: usize,
    /// CPU used by the server processes during the measured PUTs.
    cpu: Value,
    first_error: Option<String>,
}

async fn fanout(api: &Api, cpu: &Cpu, n: usize, puts: usize) -> Res<Fanout> {
    let mut c = Client::new(&api.t);
    let (tenant, tok, orders) = api.setup(&mut c, &format!("fan{n}"), 1).await?;
    let order = &orders[0];
    let mut g = Group::new(&api.t, api.sse_path(&tenant, &tok), n, true);
    let t_conn = Instant::now();
    g.open(n, 100, Duration::from_secs(60)).await;
    let connect_ms = ms(t_conn.elapsed());
    let connected = g.connected();
    if connected == 0 {
        let fe = g.first_error.lock().unwrap().clone();
        return Err(format!("no subscriber connected: {fe:?}").into());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Warm-up: not recorded.
    for _ in 0..3 {
        let seq = api.put_note(&mut c, &tenant, &tok, order).await?;
        g.wait_seen(seq, Duration::from_secs(10)).await;
    }
    let gap = Duration::from_millis(if n >= 1000 { 30 } else { 10 });
    let mut sent = HashMap::new();
    let mut put_lat = Vec::new();
    let (cpu0, wall0) = (cpu.snapshot(), Instant::now());
    for _ in 0..puts {
        let t0 = Instant::now();
        let seq = api.put_note(&mut c, &tenant, &tok, order).await?;
        put_lat.push(ms(t0.elapsed()));
        sent.insert(seq, t0);
        g.wait_seen(seq, Duration::from_secs(10)).await;
        tokio::time::sleep(gap).await;
    }
    let cpu_used = cpu.since(&cpu0, wall0.elapsed());
    let first_error = g.first_error.lock().unwrap().clone();
    let outs = g.close().await;
    let subscriber_errors = outs.iter().filter(|o| o.error.is_some()).count();
    let (samples, delivered) = fanout_samples(&outs, &sent);
    Ok(Fanout {
        subscriber_errors,
        cpu: cpu_used,
        subscribers: n,
        connected,
        puts,
        expected_deliveries: puts * connected,
        delivered,
        latency_ms: summarize(samples),
        put_latency_ms: summarize(put_lat),
        connect_ms: (connect_ms * 10.0).round() / 10.0,
        first_error,
    })
}

// ------------------------------------------------------------------------------------------------
// Scenario 2: sustained updates/s with 100 subscribers

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Sustained {
    subscribers: usize,
    connected: usize,
    writers: usize,
    orders: usize,
    duration_s: f64,
    updates: usize,
    errors: usize,
    updates_per_sec: f64,
    expected_deliveries: usize,
    delivered: usize,
    delivery_ratio: f64,
    drain_ms: f64,
    event_latency_ms: Summary,
    put_latency_ms: Summary,
    /// CPU used by the server processes from the first PUT until every event was delivered.
    cpu: Value,
    runtime_cpu_ms_per_update: Option<f64>,
    first_error: Option<String>,
}

async fn sustained(api: &Api, cpu: &Cpu, subs: usize, writers: usize, secs: f64) -> Res<Sustained> {
    // Two orders per writer, never shared: the rate measured is the write path's, not how an
    // implementation resolves two writers racing on one order (Rust retries, JS overwrites).
    let n_orders = writers * 2;
    let mut c = Client::new(&api.t);
    let (tenant, tok, orders) = api.setup(&mut c, "sus", n_orders).await?;
    let mut g = Group::new(&api.t, api.sse_path(&tenant, &tok), subs, true);
    g.open(subs, 100, Duration::from_secs(60)).await;
    let connected = g.connected();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let orders = Arc::new(orders);
    let tenant = Arc::new(tenant);
    let tok = Arc::new(tok);
    let cpu0 = cpu.snapshot();
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(secs);
    let mut hs = Vec::new();
    for w in 0..writers {
        let (orders, tenant, tok) = (orders.clone(), tenant.clone(), tok.clone());
        let api_t = api.t.clone();
        let api2 = Api { t: api.t.clone(), admin: api.admin.clone(), prefix: api.prefix.clone() };
        hs.push(tokio::spawn(async move {
            let mut c = Client::new(&api_t);
            let mut sent: Vec<(u64, Instant, f64)> = Vec::new();
            let mut errors = 0usize;
            let mut first_err = None;
            let mut i = 0usize;
            while Instant::now() < deadline {
                let order = &orders[w * 2 + (i % 2)];
                i += 1;
                let t0 = Instant::now();
                match api2.put_note(&mut c, &tenant, &tok, order).await {
                    Ok(seq) => sent.push((seq, t0, ms(t0.elapsed()))),
                    Err(e) => {
                        errors += 1;
                        if first_err.is_none() {
                            first_err = Some(e.to_string());
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
            }
            (sent, errors, first_err)
        }));
    }
    let mut sent = HashMap::new();
    let mut put_lat = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    let mut max_seq = 0;
    for h in hs {
        let (s, e, fe) = h.await?;
        errors += e;
        if first_error.is_none() {
            first_error = fe;
        }
        for (seq, t0, l) in s {
            sent.insert(seq, t0);
            put_lat.push(l);
            max_seq = max_seq.max(seq);
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let t_drain = Instant::now();
    g.wait_seen(max_seq, Duration::from_secs(20)).await;
    let drain_ms = ms(t_drain.elapsed());
    let cpu_used = cpu.since(&cpu0, start.elapsed());
    tokio::time::sleep(Duration::from_millis(300)).await;
    if first_error.is_none() {
        first_error = g.first_error.lock().unwrap().clone();
    }
    let outs = g.close().await;
    let (samples, delivered) = fanout_samples(&outs, &sent);
    let updates = sent.len();
    let expected = updates * connected;
    let per_update = cpu_used["runtimeMs"]
        .as_f64()
        .filter(|_| updates > 0)
        .map(|c| (c / updates as f64 * 100.0).round() / 100.0);
    Ok(Sustained {
        cpu: cpu_used,
        runtime_cpu_ms_per_update: per_update,
        subscribers: subs,
        connected,
        writers,
        orders: n_orders,
        duration_s: (elapsed * 100.0).round() / 100.0,
        updates,
        errors,
        updates_per_sec: ((updates as f64 / elapsed) * 10.0).round() / 10.0,
        expected_deliveries: expected,
        delivered,
        delivery_ratio: if expected == 0 { 0.0 } else { delivered as f64 / expected as f64 },
        drain_ms: (drain_ms * 10.0).round() / 10.0,
        event_latency_ms: summarize(samples),
        put_latency_ms: summarize(put_lat),
        first_error,
    })
}

// ------------------------------------------------------------------------------------------------
// Scenario 3: subscriber capacity and memory per subscriber

fn rss_kb(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Step {
    subscribers: usize,
    failed: usize,
    step_connect_ms: f64,
    runtime_rss_kb: Option<u64>,
    proxy_rss_kb: Option<u64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Capacity {
    target: usize,
    held: usize,
    failed: usize,
    stopped_because: String,
    runtime_rss_before_kb: Option<u64>,
    runtime_rss_at_max_kb: Option<u64>,
    runtime_bytes_per_subscriber: Option<f64>,
    proxy_bytes_per_subscriber: Option<f64>,
    total_bytes_per_subscriber: Option<f64>,
    broadcast_at_max: Option<Value>,
    server_reported_subscribers: Option<Value>,
    steps: Vec<Step>,
    first_error: Option<String>,
}

async fn capacity(api: &Api, cpu: &Cpu, target: usize, step: usize, runtime_pid: Option<u32>, proxy_pid: Option<u32>) -> Res<Capacity> {
    let mut c = Client::new(&api.t);
    let (tenant, tok, orders) = api.setup(&mut c, "cap", 1).await?;
    let mut g = Group::new(&api.t, api.sse_path(&tenant, &tok), target + 1, false);
    // One subscriber first so the Durable Object exists before the memory baseline is read.
    g.open(1, 1, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss0 = runtime_pid.and_then(rss_kb);
    let prx0 = proxy_pid.and_then(rss_kb);
    let mut steps = Vec::new();
    let mut stopped = format!("reached target {target}");
    while g.len() - 1 < target {
        let k = step.min(target - (g.len() - 1));
        let t0 = Instant::now();
        let failed = g.open(k, 100, Duration::from_secs(60)).await;
        let step_ms = ms(t0.elapsed());
        tokio::time::sleep(Duration::from_millis(300)).await;
        let held = g.connected().saturating_sub(1);
        steps.push(Step {
            subscribers: held,
            failed: g.failed(),
            step_connect_ms: (step_ms * 10.0).round() / 10.0,
            runtime_rss_kb: runtime_pid.and_then(rss_kb),
            proxy_rss_kb: proxy_pid.and_then(rss_kb),
        });
        eprintln!("  capacity: {held} subscribers held, {} failed, step {step_ms:.0} ms", g.failed());
        if failed > 0 {
            stopped = format!("{failed} subscriber(s) failed while opening {k} more");
            if runtime_pid.is_some() && runtime_pid.and_then(rss_kb).is_none() {
                stopped.push_str(" (the runtime workerd process exited: crash or wrangler reload)");
            }
            break;
        }
        if step_ms > 55_000.0 {
            stopped = "step took too long".into();
            break;
        }
    }
    let held = g.connected().saturating_sub(1);
    let rss_n = runtime_pid.and_then(rss_kb);
    let prx_n = proxy_pid.and_then(rss_kb);
    let per = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) if held > 0 => Some(((b as f64 - a as f64) * 1024.0 / held as f64).round()),
        _ => None,
    };
    let runtime_per = per(rss0, rss_n);
    let proxy_per = per(prx0, prx_n);
    let total_per = match (runtime_per, proxy_per) {
        (Some(a), Some(b)) => Some(a + b),
        (a, None) => a,
        _ => None,
    };
    // Does the tenant still deliver to all of them? One PUT, wait for every subscriber.
    let broadcast = async {
        let cpu0 = cpu.snapshot();
        let t0 = Instant::now();
        let seq = api.put_note(&mut c, &tenant, &tok, &orders[0]).await?;
        let put_ms = ms(t0.elapsed());
        let missing = g.wait_seen(seq, Duration::from_secs(30)).await;
        let all_ms = ms(t0.elapsed());
        Ok::<Value, Box<dyn std::error::Error + Send + Sync>>(json!({
            "subscribers": g.len(), "missing": missing,
            "putMs": (put_ms * 10.0).round() / 10.0, "allDeliveredMs": (all_ms * 10.0).round() / 10.0,
            "cpu": cpu.since(&cpu0, t0.elapsed()),
        }))
    }
    .await;
    let stats_path = format!("/api/tenants/{tenant}/realtime/stats");
    let server = match c.call(Method::GET, &stats_path, Some(&tok), None).await {
        Ok((st, b)) if st == StatusCode::OK => parse_json(&b).ok(),
        _ => None,
    };
    let first_error = g.first_error.lock().unwrap().clone();
    let failed = g.failed();
    drop(g.close().await);
    Ok(Capacity {
        target,
        held,
        failed,
        stopped_because: stopped,
        runtime_rss_before_kb: rss0,
        runtime_rss_at_max_kb: rss_n,
        runtime_bytes_per_subscriber: runtime_per,
        proxy_bytes_per_subscriber: proxy_per,
        total_bytes_per_subscriber: total_per,
        broadcast_at_max: Some(broadcast.unwrap_or_else(|e| json!({"error": e.to_string()}))),
        server_reported_subscribers: server,
        steps,
        first_error,
    })
}

// ------------------------------------------------------------------------------------------------
// Scenario 4: polling latency vs tenant size

async fn polling(api: &Api, tenant: &str, orders: u64, reqs: usize) -> Res<Value> {
    let mut c = Client::new(&api.t);
    let tok = api.mint(&mut c, tenant, "bench-poller").await?;
    let since = orders.saturating_sub(10);
    let path = format!("/api/tenants/{tenant}/orders/realtime-status?since={since}");
    let mut check = None;
    for _ in 0..10 {
        let (st, b) = c.call(Method::GET, &path, Some(&tok), None).await?;
        if st != StatusCode::OK {
            return Err(err_of("realtime-status", st, &b));
        }
        check = Some(parse_json(&b)?);
    }
    let check = check.unwrap_or(Value::Null);
    let mut lat = Vec::with_capacity(reqs);
    for _ in 0..reqs {
        let t0 = Instant::now();
        let (st, b) = c.call(Method::GET, &path, Some(&tok), None).await?;
        lat.push(ms(t0.elapsed()));
        if st != StatusCode::OK {
            return Err(err_of("realtime-status", st, &b));
        }
    }
    // A full first page as well (since=0): what a client that lost its cursor pays.
    let mut lat0 = Vec::new();
    let path0 = format!("/api/tenants/{tenant}/orders/realtime-status?since=0");
    for _ in 0..(reqs / 10).max(5) {
        let t0 = Instant::now();
        let (st, b) = c.call(Method::GET, &path0, Some(&tok), None).await?;
        lat0.push(ms(t0.elapsed()));
        if st != StatusCode::OK {
            return Err(err_of("realtime-status since=0", st, &b));
        }
    }
    Ok(json!({
        "tenant": tenant, "orders": orders, "since": since,
        "cursor": check["cursor"], "ordersReturned": check["orders"].as_array().map(|a| a.len()),
        "hasMore": check["hasMore"],
        "latencyMs": summarize(lat),
        "sinceZeroLatencyMs": summarize(lat0),
    }))
}

// ------------------------------------------------------------------------------------------------

fn as_value<T: Serialize>(r: Res<T>) -> Value {
    match r {
        Ok(v) => serde_json::to_value(v).unwrap_or(Value::Null),
        Err(e) => json!({"error": e.to_string()}),
    }
}

async fn run(a: Args) -> Res<()> {
    let t = Target::parse(a.req("base-url")?)?;
    let admin = a.req("admin-token")?.to_string();
    let label = a.req("label")?.to_string();
    let out = a.req("out")?.to_string();
    let quick = a.has("quick");
    let only: Vec<String> = a
        .get("only")
        .unwrap_or("fanout,sustained,poll,capacity")
        .split(',')
        .map(|s| s.trim().to_string())
        .collect();
    let runtime_pid: Option<u32> = a.get("runtime-pid").and_then(|s| s.parse().ok());
    let proxy_pid: Option<u32> = a.get("proxy-pid").and_then(|s| s.parse().ok());
    let node_pid: Option<u32> = a.get("wrangler-pid").and_then(|s| s.parse().ok());
    let mut cpu = Cpu::default();
    for (name, pid) in [("runtime", runtime_pid), ("proxy", proxy_pid), ("wrangler", node_pid)] {
        if let Some(p) = pid {
            cpu.pids.push((name, p));
        }
    }
    let max_subs: usize = a.num("max-subscribers", if quick { 1000 } else { 5000 })?;
    let writers: usize = a.num("writers", 16)?;
    let secs: f64 = a.num("sustained-seconds", if quick { 3.0 } else { 10.0 })?;
    let nonce = (epoch_ns() / 1_000_000 % 100_000_000) as u64;
    let tag: String = label.chars().filter(|c| c.is_ascii_alphanumeric()).take(8).collect::<String>().to_lowercase();
    let api = Api { t, admin, prefix: format!("bench-{tag}-{nonce}") };

    let mut res = serde_json::Map::new();
    res.insert("label".into(), json!(label));
    res.insert("quick".into(), json!(quick));
    let started = Instant::now();

    if only.iter().any(|s| s == "fanout") {
        let mut f = serde_json::Map::new();
        for (n, puts) in [(1usize, 300usize), (100, 100), (1000, 40)] {
            let puts = if quick { (puts / 5).max(10) } else { puts };
            eprintln!("[{label}] fan-out: {n} subscriber(s), {puts} PUTs");
            let r = as_value(fanout(&api, &cpu, n, puts).await);
            eprintln!("[{label}]   -> {}", brief(&r, "latencyMs"));
            f.insert(n.to_string(), r);
        }
        res.insert("fanout".into(), Value::Object(f));
    }
    if only.iter().any(|s| s == "sustained") {
        eprintln!("[{label}] sustained: 100 subscribers, {writers} writers, {secs} s");
        let r = as_value(sustained(&api, &cpu, 100, writers, secs).await);
        eprintln!("[{label}]   -> {} updates/s, delivery {}, cpu {}", r["updatesPerSec"], r["deliveryRatio"], r["cpu"]);
        res.insert("sustained".into(), r);
    }
    if only.iter().any(|s| s == "poll") {
        let mut p = serde_json::Map::new();
        for spec in a.all("poll-tenant") {
            let (n, tenant) = spec.split_once(':').ok_or("--poll-tenant wants ORDERS:TENANT")?;
            let n: u64 = n.parse()?;
            let reqs = if quick { 100 } else { 300 };
            eprintln!("[{label}] polling: tenant {tenant} with {n} orders, {reqs} requests");
            let r = as_value(polling(&api, tenant, n, reqs).await);
            eprintln!("[{label}]   -> {}", brief(&r, "latencyMs"));
            p.insert(n.to_string(), r);
        }
        res.insert("polling".into(), Value::Object(p));
    }
    if only.iter().any(|s| s == "capacity") {
        let step = if quick { 250 } else { 500 };
        eprintln!("[{label}] capacity: ramp to {max_subs} in steps of {step}");
        let r = as_value(capacity(&api, &cpu, max_subs, step, runtime_pid, proxy_pid).await);
        eprintln!("[{label}]   -> held {}, {} B/subscriber (runtime)", r["held"], r["runtimeBytesPerSubscriber"]);
        res.insert("capacity".into(), r);
    }
    res.insert("elapsedS".into(), json!((started.elapsed().as_secs_f64() * 10.0).round() / 10.0));
    std::fs::write(&out, serde_json::to_string_pretty(&Value::Object(res))?)?;
    eprintln!("[{label}] wrote {out}");
    Ok(())
}

fn brief(v: &Value, key: &str) -> String {
    if let Some(e) = v.get("error") {
        return format!("ERROR {e}");
    }
    let s = &v[key];
    format!("p50 {} p95 {} p99 {} max {} ms (n={})", s["p50"], s["p95"], s["p99"], s["max"], s["samples"])
}
