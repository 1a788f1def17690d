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
mod ws;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hyper::{Method, StatusCode};
use serde::Serialize;
use serde_json::{json, Value};

use http::{Client, Res, Target};
use sse::{Group, Recorded};
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
            Some("rounds") => rounds(Args::parse(&argv[1..])).await,
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
                // Then warm requests on a kept-alive connection, for comparison: 200 first, not
                // counted (the code's first runs are still being compiled and optimised; 20
                // requests right after the first answer measured that, not a warm Worker), then
                // 300 timed.
                for _ in 0..200 {
                    c.call(Method::GET, "/api/health", None, None).await?;
                }
                let mut warm = Vec::new();
                for _ in 0..300 {
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
fn fanout_samples(outs: &Recorded, sent: &HashMap<u64, Instant>) -> (Vec<f64>, usize) {
    let mut v = Vec::new();
    for o in outs {
        for (seq, at) in &o.0 {
            if let Some(t0) = sent.get(seq) {
                v.push(ms(at.saturating_duration_since(*t0)));
            }
        }
    }
    let n = v.len();
    (v, n)
}

// ------------------------------------------------------------------------------------------------
// Subscribers of either transport

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Transport {
    Sse,
    Ws,
}

impl Transport {
    fn tag(self) -> &'static str {
        match self {
            Transport::Sse => "s",
            Transport::Ws => "w",
        }
    }
}

enum Subs {
    Sse(Group),
    Ws(ws::Group),
}

impl Subs {
    async fn open(&mut self, n: usize, batch: usize, timeout: Duration) -> usize {
        match self {
            Subs::Sse(g) => g.open(n, batch, timeout).await,
            Subs::Ws(g) => g.open(n, batch, timeout).await,
        }
    }
    fn connected(&self) -> usize {
        match self {
            Subs::Sse(g) => g.connected(),
            Subs::Ws(g) => g.connected(),
        }
    }
    fn failed(&self) -> usize {
        match self {
            Subs::Sse(g) => g.failed(),
            Subs::Ws(g) => g.failed(),
        }
    }
    fn len(&self) -> usize {
        match self {
            Subs::Sse(g) => g.len(),
            Subs::Ws(g) => g.len(),
        }
    }
    async fn wait_seen(&self, seq: u64, timeout: Duration) -> usize {
        match self {
            Subs::Sse(g) => g.wait_seen(seq, timeout).await,
            Subs::Ws(g) => g.wait_seen(seq, timeout).await,
        }
    }
    fn first_error(&self) -> Option<String> {
        match self {
            Subs::Sse(g) => g.first_error.lock().unwrap().clone(),
            Subs::Ws(g) => g.first_error.lock().unwrap().clone(),
        }
    }
    fn snapshot(&self) -> Recorded {
        match self {
            Subs::Sse(g) => g.snapshot(),
            Subs::Ws(g) => g.snapshot(),
        }
    }
    /// (arrivals, error) of every subscriber.
    async fn close(self) -> Recorded {
        match self {
            Subs::Sse(g) => g.close().await.into_iter().map(|o| (o.arrivals, o.error)).collect(),
            Subs::Ws(g) => g.close().await.into_iter().map(|o| (o.arrivals, o.error)).collect(),
        }
    }
}

/// Users the WebSocket groups spread their sockets over (per-user limits are raised in the
/// bench's config; several users so presence has more than one entry).
const WS_USERS: usize = 20;

impl Api {
    async fn ws_paths(&self, c: &mut Client, tenant: &str, users: usize) -> Res<Vec<String>> {
        let mut v = Vec::with_capacity(users);
        for u in 0..users {
            let tok = self.mint(c, tenant, &format!("bench-ws-{u}")).await?;
            v.push(format!("/api/tenants/{tenant}/realtime/ws?access_token={tok}"));
        }
        Ok(v)
    }

    async fn subs(&self, c: &mut Client, tr: Transport, tenant: &str, tok: &str, capacity: usize, record: bool) -> Res<Subs> {
        Ok(match tr {
            Transport::Sse => Subs::Sse(Group::new(&self.t, self.sse_path(tenant, tok), capacity, record)),
            Transport::Ws => {
                let paths = self.ws_paths(c, tenant, WS_USERS.min(capacity.max(1))).await?;
                Subs::Ws(ws::Group::new(&self.t, paths, capacity, record))
            }
        })
    }

    async fn stats(&self, c: &mut Client, tenant: &str, tok: &str) -> Option<Value> {
        let path = format!("/api/tenants/{tenant}/realtime/stats");
        match c.call(Method::GET, &path, Some(tok), None).await {
            Ok((st, b)) if st == StatusCode::OK => parse_json(&b).ok(),
            _ => None,
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Scenario 1: fan-out latency

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Fanout {
    transport: &'static str,
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

async fn fanout(api: &Api, cpu: &Cpu, tr: Transport, n: usize, puts: usize) -> Res<Fanout> {
    let mut c = Client::new(&api.t);
    let (tenant, tok, orders) = api.setup(&mut c, &format!("fan{n}{}", tr.tag()), 1).await?;
    let order = &orders[0];
    let mut g = api.subs(&mut c, tr, &tenant, &tok, n, true).await?;
    let t_conn = Instant::now();
    g.open(n, 100, Duration::from_secs(60)).await;
    let connect_ms = ms(t_conn.elapsed());
    let connected = g.connected();
    if connected == 0 {
        return Err(format!("no subscriber connected: {:?}", g.first_error()).into());
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
    let first_error = g.first_error();
    let outs = g.close().await;
    let subscriber_errors = outs.iter().filter(|o| o.1.is_some()).count();
    let (samples, delivered) = fanout_samples(&outs, &sent);
    Ok(Fanout {
        transport: if tr == Transport::Sse { "sse" } else { "ws" },
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
    /// Events each subscriber received per second (= updates/s when all are delivered).
    events_per_subscriber_per_sec: f64,
    /// Body chunks (socket reads carrying data) per subscriber per second, from the first PUT
    /// until the last event arrived. One write per event per subscriber shows ≈ events/s, unless
    /// TCP merged writes that were queued together; coalescing on the server shows fewer.
    chunks_per_subscriber_per_sec: f64,
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
    // implementation resolves two writers racing on one order.
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
    let chunks0 = g.shared.chunks.load(Ordering::Relaxed);
    let events0 = g.shared.events.load(Ordering::Relaxed);
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
    let until_drained = start.elapsed().as_secs_f64();
    let cpu_used = cpu.since(&cpu0, start.elapsed());
    let chunks = g.shared.chunks.load(Ordering::Relaxed) - chunks0;
    let events = g.shared.events.load(Ordering::Relaxed) - events0;
    tokio::time::sleep(Duration::from_millis(300)).await;
    if first_error.is_none() {
        first_error = g.first_error.lock().unwrap().clone();
    }
    let outs: Recorded =
        g.close().await.into_iter().map(|o| (o.arrivals, o.error)).collect();
    let (samples, delivered) = fanout_samples(&outs, &sent);
    let updates = sent.len();
    let expected = updates * connected;
    let per_update = cpu_used["runtimeMs"]
        .as_f64()
        .filter(|_| updates > 0)
        .map(|c| (c / updates as f64 * 100.0).round() / 100.0);
    let per_sub_sec = |n: u64| {
        if connected == 0 || until_drained <= 0.0 {
            0.0
        } else {
            ((n as f64 / connected as f64 / until_drained) * 10.0).round() / 10.0
        }
    };
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
        events_per_subscriber_per_sec: per_sub_sec(events),
        chunks_per_subscriber_per_sec: per_sub_sec(chunks),
        drain_ms: (drain_ms * 10.0).round() / 10.0,
        event_latency_ms: summarize(samples),
        put_latency_ms: summarize(put_lat),
        first_error,
    })
}

// ------------------------------------------------------------------------------------------------
// Scenario 3: connection capacity, memory per connection, and (WebSocket) hibernation

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
    /// The Worker isolate's V8 heap and Wasm memory, read through the runtime's inspector.
    heap: Option<Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Capacity {
    transport: &'static str,
    target: usize,
    held: usize,
    failed: usize,
    stopped_because: String,
    runtime_rss_before_kb: Option<u64>,
    proxy_rss_before_kb: Option<u64>,
    heap_before: Option<Value>,
    runtime_rss_at_max_kb: Option<u64>,
    runtime_bytes_per_subscriber: Option<f64>,
    proxy_bytes_per_subscriber: Option<f64>,
    total_bytes_per_subscriber: Option<f64>,
    /// The same at the first step that held 1,000 (runtime, proxy, bytes per connection).
    at_1000: Option<Value>,
    broadcast_at_max: Option<Value>,
    server_reported_subscribers: Option<Value>,
    /// WebSocket only: idle, then a broadcast after the object was evicted.
    hibernation: Option<Value>,
    steps: Vec<Step>,
    first_error: Option<String>,
}

/// One PUT, then waits until every connection of `g` has it.
async fn broadcast_one(api: &Api, cpu: &Cpu, c: &mut Client, (tenant, tok, order): (&str, &str, &str), g: &Subs) -> Res<Value> {
    let cpu0 = cpu.snapshot();
    let t0 = Instant::now();
    let seq = api.put_note(c, tenant, tok, order).await?;
    let put_ms = ms(t0.elapsed());
    let missing = g.wait_seen(seq, Duration::from_secs(20)).await;
    let all_ms = ms(t0.elapsed());
    Ok(json!({
        "subscribers": g.len(), "missing": missing, "reached": g.len() - missing,
        "putMs": (put_ms * 10.0).round() / 10.0, "allDeliveredMs": (all_ms * 10.0).round() / 10.0,
        "cpu": cpu.since(&cpu0, t0.elapsed()),
    }))
}

#[allow(clippy::too_many_arguments)]
async fn capacity(
    api: &Api,
    cpu: &Cpu,
    tr: Transport,
    target: usize,
    step: usize,
    pids: (Option<u32>, Option<u32>),
    inspector: Option<&str>,
    idle_s: f64,
    ramp_budget_s: f64,
) -> Res<Capacity> {
    let (runtime_pid, proxy_pid) = pids;
    let mut c = Client::new(&api.t);
    let (tenant, tok, orders) = api.setup(&mut c, &format!("cap{}", tr.tag()), 1).await?;
    let mut g = api.subs(&mut c, tr, &tenant, &tok, target + 1, false).await?;
    // One connection first so the Durable Object exists before the memory baseline is read.
    g.open(1, 1, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let heap0 = match inspector {
        Some(a) => heap_probe(&api.t, a).await,
        None => None,
    };
    let rss0 = runtime_pid.and_then(rss_kb);
    let prx0 = proxy_pid.and_then(rss_kb);
    let mut steps = Vec::new();
    let mut stopped = format!("reached target {target}");
    let ramp0 = Instant::now();
    while g.len() - 1 < target {
        let used = ramp0.elapsed().as_secs_f64();
        if used > ramp_budget_s {
            stopped = format!("ramp time budget of {ramp_budget_s} s used up");
            break;
        }
        let k = step.min(target - (g.len() - 1));
        let t0 = Instant::now();
        let left = Duration::from_secs_f64((ramp_budget_s - used + 10.0).clamp(10.0, 90.0));
        let failed = g.open(k, 100, left).await;
        let step_ms = ms(t0.elapsed());
        tokio::time::sleep(Duration::from_millis(300)).await;
        let held = g.connected().saturating_sub(1);
        let heap = match inspector {
            Some(a) if held % 1000 == 0 => heap_probe(&api.t, a).await,
            _ => None,
        };
        steps.push(Step {
            subscribers: held,
            failed: g.failed(),
            step_connect_ms: (step_ms * 10.0).round() / 10.0,
            runtime_rss_kb: runtime_pid.and_then(rss_kb),
            proxy_rss_kb: proxy_pid.and_then(rss_kb),
            heap,
        });
        eprintln!("  capacity ({tr:?}): {held} held, {} failed, step {step_ms:.0} ms", g.failed());
        if failed > 0 {
            stopped = format!("{failed} connection(s) failed while opening {k} more");
            if runtime_pid.is_some() && runtime_pid.and_then(rss_kb).is_none() {
                stopped.push_str(" (the runtime workerd process exited: crash or wrangler reload)");
            }
            break;
        }
        if step_ms > 85_000.0 {
            stopped = "step took too long".into();
            break;
        }
    }
    let held = g.connected().saturating_sub(1);
    let rss_n = runtime_pid.and_then(rss_kb);
    let prx_n = proxy_pid.and_then(rss_kb);
    let per = |a: Option<u64>, b: Option<u64>, n: usize| match (a, b) {
        (Some(a), Some(b)) if n > 0 => Some(((b as f64 - a as f64) * 1024.0 / n as f64).round()),
        _ => None,
    };
    let runtime_per = per(rss0, rss_n, held);
    let proxy_per = per(prx0, prx_n, held);
    let total_per = match (runtime_per, proxy_per) {
        (Some(a), Some(b)) => Some(a + b),
        (a, None) => a,
        _ => None,
    };
    let at_1000 = steps.iter().find(|s| s.subscribers >= 1000).map(|s| {
        json!({
            "subscribers": s.subscribers,
            "runtimeBytesPerSubscriber": per(rss0, s.runtime_rss_kb, s.subscribers),
            "proxyBytesPerSubscriber": per(prx0, s.proxy_rss_kb, s.subscribers),
        })
    });
    // Does the tenant still deliver to all of them? One PUT, wait for every connection.
    let at_max = broadcast_one(api, cpu, &mut c, (&tenant, &tok, &orders[0]), &g).await;
    let server = api.stats(&mut c, &tenant, &tok).await;
    let mut hibernation = None;
    if tr == Transport::Ws && idle_s > 0.0 && held > 0 {
        // Nothing but idle sockets now: the runtime should evict the object. Then one PUT wakes
        // it (the publish), and must reach every socket.
        let before = server.clone();
        eprintln!("  hibernation: {held} idle sockets for {idle_s} s");
        tokio::time::sleep(Duration::from_secs_f64(idle_s)).await;
        let rss_idle = runtime_pid.and_then(rss_kb);
        let heap_idle = match inspector {
            Some(a) => heap_probe(&api.t, a).await,
            None => None,
        };
        let after_wake = broadcast_one(api, cpu, &mut c, (&tenant, &tok, &orders[0]), &g).await;
        let after = api.stats(&mut c, &tenant, &tok).await;
        let started = |v: &Option<Value>| v.as_ref().map(|v| v["instanceStartedAt"].clone());
        let evicted = match (started(&before), started(&after)) {
            (Some(a), Some(b)) if !a.is_null() && !b.is_null() => Some(a != b),
            _ => None,
        };
        let r = json!({
            "idleS": idle_s,
            "sockets": held,
            "evictedAndConstructedAgain": evicted,
            "statsBefore": before,
            "statsAfter": after,
            "runtimeRssIdleKb": rss_idle,
            "heapIdle": heap_idle,
            "broadcastAfterWake": after_wake.unwrap_or_else(|e| json!({"error": e.to_string()})),
        });
        eprintln!("  hibernation: evicted {:?}, reached {} of {held}", evicted, r["broadcastAfterWake"]["reached"]);
        hibernation = Some(r);
    }
    let first_error = g.first_error();
    let failed = g.failed();
    drop(g.close().await);
    Ok(Capacity {
        transport: if tr == Transport::Sse { "sse" } else { "ws" },
        target,
        held,
        failed,
        stopped_because: stopped,
        runtime_rss_before_kb: rss0,
        proxy_rss_before_kb: prx0,
        heap_before: heap0,
        runtime_rss_at_max_kb: rss_n,
        runtime_bytes_per_subscriber: runtime_per,
        proxy_bytes_per_subscriber: proxy_per,
        total_bytes_per_subscriber: total_per,
        at_1000,
        broadcast_at_max: Some(at_max.unwrap_or_else(|e| json!({"error": e.to_string()}))),
        server_reported_subscribers: server,
        hibernation,
        steps,
        first_error,
    })
}

// ------------------------------------------------------------------------------------------------
// Scenario 5: presence, join → presence_diff at the other clients

async fn presence(api: &Api, n: usize, joins: usize) -> Res<Value> {
    let mut c = Client::new(&api.t);
    let (tenant, _, _) = api.setup(&mut c, "pres", 0).await?;
    let paths = api.ws_paths(&mut c, &tenant, WS_USERS).await?;
    let mut g = ws::Group::new(&api.t, paths, n, true);
    let t_conn = Instant::now();
    g.open(n, 100, Duration::from_secs(90)).await;
    let connect_ms = ms(t_conn.elapsed());
    let connected = g.connected();
    if connected == 0 {
        return Err(format!("no socket connected: {:?}", g.first_error.lock().unwrap()).into());
    }
    // Joiner tokens first, so a join is only the upgrade.
    let mut joiner_paths = Vec::with_capacity(joins);
    for j in 0..joins {
        let tok = api.mint(&mut c, &tenant, &format!("{}{j}", ws::JOINER_PREFIX)).await?;
        joiner_paths.push(format!("/api/tenants/{tenant}/realtime/ws?access_token={tok}"));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut t_join = HashMap::new();
    let mut missing = 0;
    let mut errors = 0;
    for (j, path) in joiner_paths.iter().enumerate() {
        let t0 = Instant::now();
        match ws::connect(&api.t, path).await {
            Ok(mut sock) => {
                t_join.insert(j as u64, t0);
                missing += g.wait_join(j as u64, Duration::from_secs(10)).await;
                // A clean goodbye (1000): the leave reaches the others at once.
                use futures_util::SinkExt;
                let _ = sock
                    .send(tokio_tungstenite::tungstenite::Message::Close(None))
                    .await;
                let _ = tokio::time::timeout(Duration::from_millis(500), async {
                    use futures_util::StreamExt;
                    while let Some(Ok(m)) = sock.next().await {
                        if m.is_close() {
                            break;
                        }
                    }
                })
                .await;
            }
            Err(_) => errors += 1,
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let first_error = g.first_error.lock().unwrap().clone();
    let outs = g.close().await;
    let mut samples = Vec::new();
    for o in &outs {
        for (j, at) in &o.joins {
            if let Some(t0) = t_join.get(j) {
                samples.push(ms(at.saturating_duration_since(*t0)));
            }
        }
    }
    Ok(json!({
        "connections": n, "connected": connected, "connectMs": (connect_ms * 10.0).round() / 10.0,
        "joins": joins, "joinErrors": errors, "expected": t_join.len() * connected,
        "received": samples.len(), "missing": missing,
        "latencyMs": summarize(samples), "firstError": first_error,
    }))
}

// ------------------------------------------------------------------------------------------------
// Interleaved rounds: `loadgen rounds --side rust,URL,ADMIN,RUNTIME,PROXY,NODE --side js,… --rounds 3`
// opens the fan-out connections of both servers once, then runs round after round, side after
// side (Rust, JS, Rust, JS, …): each round the fan-out PUTs on every group and a sustained run;
// then presence and polling once per side. Every ratio of the report is computed per round, so
// a burst of load from elsewhere on the machine hits one round of one side, not a whole column.

struct Fan {
    tr: Transport,
    n: usize,
    tenant: String,
    tok: String,
    order: String,
    g: Subs,
    c: Client,
    connect_ms: f64,
}

async fn fan_open(api: &Api, tr: Transport, n: usize) -> Res<Fan> {
    let mut c = Client::new(&api.t);
    let (tenant, tok, orders) = api.setup(&mut c, &format!("fan{n}{}", tr.tag()), 1).await?;
    let mut g = api.subs(&mut c, tr, &tenant, &tok, n, true).await?;
    let t0 = Instant::now();
    g.open(n, 100, Duration::from_secs(120)).await;
    let connect_ms = (ms(t0.elapsed()) * 10.0).round() / 10.0;
    if g.connected() == 0 {
        return Err(format!("no connection: {:?}", g.first_error()).into());
    }
    Ok(Fan { tr, n, tenant, tok, order: orders[0].clone(), g, c, connect_ms })
}

async fn fan_measure(api: &Api, cpu: &Cpu, f: &mut Fan, puts: usize) -> Res<Fanout> {
    // Warm-up (not recorded): also wakes an object that hibernated while the other side ran.
    for _ in 0..3 {
        let seq = api.put_note(&mut f.c, &f.tenant, &f.tok, &f.order).await?;
        f.g.wait_seen(seq, Duration::from_secs(10)).await;
    }
    let gap = Duration::from_millis(if f.n >= 1000 { 30 } else { 10 });
    let mut sent = HashMap::new();
    let mut put_lat = Vec::new();
    let (cpu0, wall0) = (cpu.snapshot(), Instant::now());
    for _ in 0..puts {
        let t0 = Instant::now();
        let seq = api.put_note(&mut f.c, &f.tenant, &f.tok, &f.order).await?;
        put_lat.push(ms(t0.elapsed()));
        sent.insert(seq, t0);
        f.g.wait_seen(seq, Duration::from_secs(10)).await;
        tokio::time::sleep(gap).await;
    }
    let cpu_used = cpu.since(&cpu0, wall0.elapsed());
    let outs = f.g.snapshot();
    let subscriber_errors = outs.iter().filter(|o| o.1.is_some()).count();
    let (samples, delivered) = fanout_samples(&outs, &sent);
    let connected = f.g.connected();
    Ok(Fanout {
        transport: if f.tr == Transport::Sse { "sse" } else { "ws" },
        subscriber_errors,
        cpu: cpu_used,
        subscribers: f.n,
        connected,
        puts,
        expected_deliveries: puts * connected,
        delivered,
        latency_ms: summarize(samples),
        put_latency_ms: summarize(put_lat),
        connect_ms: f.connect_ms,
        first_error: f.g.first_error(),
    })
}

/// Presence on a fan-out tenant that already holds `fan.n` sockets: each joiner (a user of its
/// own) opens a socket; the time from starting its upgrade to each other socket's presence_diff
/// naming it is one sample. Then it says goodbye (1000) and the next one joins.
async fn presence_on(api: &Api, f: &mut Fan, joins: usize) -> Res<Value> {
    let Subs::Ws(g) = &f.g else {
        return Err("presence needs a WebSocket group".into());
    };
    let mut joiner_paths = Vec::with_capacity(joins);
    for j in 0..joins {
        let tok = api.mint(&mut f.c, &f.tenant, &format!("{}{j}", ws::JOINER_PREFIX)).await?;
        joiner_paths.push(format!("/api/tenants/{}/realtime/ws?access_token={tok}", f.tenant));
    }
    let mut t_join = HashMap::new();
    let mut missing = 0;
    let mut errors = 0;
    for (j, path) in joiner_paths.iter().enumerate() {
        let t0 = Instant::now();
        match ws::connect(&api.t, path).await {
            Ok(mut sock) => {
                t_join.insert(j as u64, t0);
                missing += g.wait_join(j as u64, Duration::from_secs(10)).await;
                use futures_util::{SinkExt, StreamExt};
                let _ = sock.send(tokio_tungstenite::tungstenite::Message::Close(None)).await;
                let _ = tokio::time::timeout(Duration::from_millis(500), async {
                    while let Some(Ok(m)) = sock.next().await {
                        if m.is_close() {
                            break;
                        }
                    }
                })
                .await;
            }
            Err(_) => errors += 1,
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let samples: Vec<f64> = g
        .joins()
        .iter()
        .filter_map(|(j, at)| t_join.get(j).map(|t0| ms(at.saturating_duration_since(*t0))))
        .collect();
    Ok(json!({
        "connections": f.n, "connected": g.connected(), "joins": joins, "joinErrors": errors,
        "expected": t_join.len() * g.connected(), "received": samples.len(), "missing": missing,
        "latencyMs": summarize(samples),
    }))
}

struct Side {
    label: String,
    api: Api,
    cpu: Cpu,
    fans: Vec<Result<Fan, String>>,
}

fn parse_side(spec: &str, nonce: u64) -> Res<Side> {
    // label,base-url,admin-token[,runtime-pid,proxy-pid,wrangler-pid]
    let p: Vec<&str> = spec.split(',').collect();
    if p.len() < 3 {
        return Err(format!("--side wants label,url,admin[,runtime,proxy,node]: {spec}").into());
    }
    let mut cpu = Cpu::default();
    for (i, name) in [(3, "runtime"), (4, "proxy"), (5, "wrangler")] {
        if let Some(pid) = p.get(i).and_then(|s| s.parse().ok()) {
            cpu.pids.push((name, pid));
        }
    }
    let tag: String = p[0].chars().filter(|c| c.is_ascii_alphanumeric()).take(8).collect::<String>().to_lowercase();
    Ok(Side {
        label: p[0].to_string(),
        api: Api { t: Target::parse(p[1])?, admin: p[2].to_string(), prefix: format!("bench-{tag}-{nonce}") },
        cpu,
        fans: Vec::new(),
    })
}

async fn rounds(a: Args) -> Res<()> {
    let quick = a.has("quick");
    let n_rounds: usize = a.num("rounds", 3)?;
    let out = a.req("out")?.to_string();
    let writers: usize = a.num("writers", 16)?;
    let secs: f64 = a.num("sustained-seconds", if quick { 3.0 } else { 5.0 })?;
    // --sustained-subscribers 0: the write path alone (no fan-out), for splitting the CPU per
    // update into writing and delivering.
    let sus_subs: usize = a.num("sustained-subscribers", 100)?;
    let nonce = (epoch_ns() / 1_000_000 % 100_000_000) as u64;
    let mut sides: Vec<Side> = a.all("side").iter().map(|s| parse_side(s, nonce)).collect::<Res<_>>()?;
    // --scenarios fanout: SSE fan-out only (e.g. two builds of the Worker against each other).
    let scen = a.get("scenarios").unwrap_or("fanout,wsfanout,sustained,presence,poll").to_string();
    let want = |k: &str| scen.split(',').any(|s| s.trim() == k);
    let transports: Vec<Transport> = [(Transport::Sse, "fanout"), (Transport::Ws, "wsfanout")]
        .into_iter()
        .filter(|(_, k)| want(k))
        .map(|(t, _)| t)
        .collect();
    let sizes: [(usize, usize); 3] = if quick { [(1, 30), (100, 10), (1000, 8)] } else { [(1, 100), (100, 34), (1000, 14)] };
    let started = Instant::now();
    for s in sides.iter_mut() {
        for &tr in &transports {
            for (n, _) in sizes {
                eprintln!("[{}] opening {n} {tr:?} connection(s)", s.label);
                let f = fan_open(&s.api, tr, n).await.map_err(|e| e.to_string());
                if let Ok(f) = &f {
                    eprintln!("[{}]   {} connected in {} ms", s.label, f.g.connected(), f.connect_ms);
                }
                s.fans.push(f);
            }
        }
    }
    let mut rounds_out = Vec::new();
    for r in 0..n_rounds {
        let mut this = serde_json::Map::new();
        for s in sides.iter_mut() {
            let mut res = serde_json::Map::new();
            let mut fan = serde_json::Map::new();
            let mut wsfan = serde_json::Map::new();
            for f in s.fans.iter_mut() {
                let (tr, n) = match f {
                    Ok(f) => (f.tr, f.n),
                    Err(_) => continue,
                };
                let puts = sizes.iter().find(|(k, _)| *k == n).map(|(_, p)| *p).unwrap_or(10);
                let v = match f {
                    Ok(f) => as_value(fan_measure(&s.api, &s.cpu, f, puts).await),
                    Err(e) => json!({"error": e.clone()}),
                };
                eprintln!("[{} round {}] {tr:?} {n}: {}", s.label, r + 1, brief(&v, "latencyMs"));
                match tr {
                    Transport::Sse => fan.insert(n.to_string(), v),
                    Transport::Ws => wsfan.insert(n.to_string(), v),
                };
            }
            for f in s.fans.iter() {
                if let Err(e) = f {
                    eprintln!("[{}] a fan-out group failed to open: {e}", s.label);
                }
            }
            res.insert("fanout".into(), Value::Object(fan));
            res.insert("wsfanout".into(), Value::Object(wsfan));
            if want("sustained") {
                let sus = as_value(sustained(&s.api, &s.cpu, sus_subs, writers, secs).await);
                eprintln!(
                    "[{} round {}] sustained ({sus_subs} subscribers): {} updates/s, delivery {}, {} chunks/subscriber/s, runtime CPU {} ms/update",
                    s.label, r + 1, sus["updatesPerSec"], sus["deliveryRatio"], sus["chunksPerSubscriberPerSec"],
                    sus["runtimeCpuMsPerUpdate"]
                );
                res.insert("sustained".into(), sus);
            }
            this.insert(s.label.clone(), Value::Object(res));
        }
        rounds_out.push(Value::Object(this));
    }
    let mut presence = serde_json::Map::new();
    let mut polls = serde_json::Map::new();
    let joins = if quick { 8 } else { 20 };
    for s in sides.iter_mut().filter(|_| want("presence") || want("poll")) {
        let f = s.fans.iter_mut().filter_map(|f| f.as_mut().ok()).find(|f| f.tr == Transport::Ws && f.n == 1000);
        if want("presence") {
            let v = match f {
                Some(f) => presence_on(&s.api, f, joins).await.unwrap_or_else(|e| json!({"error": e.to_string()})),
                None => json!({"error": "no WebSocket group of 1,000"}),
            };
            eprintln!("[{}] presence: {}", s.label, brief(&v, "latencyMs"));
            presence.insert(s.label.clone(), v);
        }
        if !want("poll") {
            continue;
        }
        let mut p = serde_json::Map::new();
        for spec in a.all("poll-tenant") {
            let (n, tenant) = spec.split_once(':').ok_or("--poll-tenant wants ORDERS:TENANT")?;
            let n: u64 = n.parse()?;
            let reqs = if quick { 100 } else { 300 };
            let v = as_value(polling(&s.api, tenant, n, reqs).await);
            eprintln!("[{}] polling {n}: {}", s.label, brief(&v, "latencyMs"));
            p.insert(n.to_string(), v);
        }
        polls.insert(s.label.clone(), Value::Object(p));
    }
    for s in sides {
        for f in s.fans.into_iter().flatten() {
            drop(f.g.close().await);
        }
    }
    let v = json!({
        "rounds": rounds_out, "presence": presence, "polling": polls, "quick": quick,
        "elapsedS": (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
    });
    std::fs::write(&out, serde_json::to_string_pretty(&v)?)?;
    eprintln!("wrote {out}");
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// The Worker isolate's memory, through the runtime workerd's V8 inspector: the JS heap
// (Runtime.getHeapUsage, after a full GC) and every WebAssembly.Memory's size (found with
// Runtime.queryObjects on its prototype). What RSS grows beyond these two is the runtime's own
// (sockets, buffers, streams, per-request state).

async fn heap_probe(server: &Target, addr: &str) -> Option<Value> {
    // The runtime answers its inspector from the isolate's thread, which an idle isolate does
    // not run: a trickle of /api/health requests keeps it turning while the probe waits.
    let t = server.clone();
    let nudge = tokio::spawn(async move {
        let mut c = Client::new(&t);
        loop {
            let _ = c.call(Method::GET, "/api/health", None, None).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let r = tokio::time::timeout(Duration::from_secs(10), heap_probe_inner(addr)).await;
    nudge.abort();
    match r {
        Ok(Ok(v)) => Some(v),
        Ok(Err(e)) => Some(json!({"error": e.to_string()})),
        Err(_) => Some(json!({"error": "timeout"})),
    }
}

async fn heap_probe_inner(addr: &str) -> Res<Value> {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let t = Target::parse(&format!("http://{addr}"))?;
    let mut c = Client::new(&t);
    let (_, body) = c.call(Method::GET, "/json/list", None, None).await?;
    let list: Value = serde_json::from_slice(&body)?;
    let url = list
        .as_array()
        .and_then(|a| a.iter().find_map(|t| t["webSocketDebuggerUrl"].as_str()))
        .ok_or("no inspector target")?
        .to_string();
    // ws://localhost:PORT/<id> → /<id> (the address we connect to is `addr` itself)
    let path = url
        .strip_prefix("ws://")
        .and_then(|r| r.find('/').map(|i| r[i..].to_string()))
        .ok_or("odd inspector URL")?;
    let mut sock = ws::connect(&t, &path).await?;
    let mut id = 0u64;
    let mut call = |method: &str, params: Value| {
        id += 1;
        (id, json!({"id": id, "method": method, "params": params}).to_string())
    };
    async fn rpc(
        sock: &mut tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
        (id, msg): (u64, String),
    ) -> Res<Value> {
        sock.send(Message::Text(msg.into())).await?;
        while let Some(m) = sock.next().await {
            if let Message::Text(s) = m? {
                let v: Value = serde_json::from_str(s.as_str())?;
                if v["id"].as_u64() == Some(id) {
                    if let Some(e) = v.get("error") {
                        return Err(format!("inspector: {e}").into());
                    }
                    return Ok(v["result"].clone());
                }
            }
        }
        Err("inspector closed".into())
    }
    let _ = rpc(&mut sock, call("HeapProfiler.collectGarbage", json!({}))).await;
    let usage = rpc(&mut sock, call("Runtime.getHeapUsage", json!({}))).await?;
    // Runtime.evaluate needs the Worker's execution context, announced after Runtime.enable.
    sock.send(Message::Text(call("Runtime.enable", json!({})).1.into())).await?;
    let mut ctx = None;
    let _ = tokio::time::timeout(Duration::from_secs(3), async {
        while let Some(Ok(m)) = sock.next().await {
            if let Message::Text(s) = m {
                let v: Value = serde_json::from_str(s.as_str()).unwrap_or(Value::Null);
                if v["method"] == "Runtime.executionContextCreated" {
                    ctx = v["params"]["context"]["id"].as_i64();
                    break;
                }
            }
        }
    })
    .await;
    let mut wasm = Value::Null;
    let eval = json!({"expression": "WebAssembly.Memory.prototype", "contextId": ctx});
    if let Ok(proto) = rpc(&mut sock, call("Runtime.evaluate", eval)).await {
        if let Some(pid) = proto["result"]["objectId"].as_str() {
            if let Ok(objs) = rpc(&mut sock, call("Runtime.queryObjects", json!({"prototypeObjectId": pid}))).await {
                if let Some(oid) = objs["objects"]["objectId"].as_str() {
                    if let Ok(v) = rpc(&mut sock, call("Runtime.callFunctionOn", json!({
                        "objectId": oid, "returnByValue": true,
                        "functionDeclaration": "function(){return this.map(m=>m.buffer.byteLength).reduce((a,b)=>a+b,0)}"
                    }))).await {
                        wasm = v["result"]["value"].clone();
                    }
                }
            }
        }
    }
    let _ = sock.close(None).await;
    Ok(json!({"jsHeapUsed": usage["usedSize"], "jsHeapTotal": usage["totalSize"], "wasmMemoryBytes": wasm}))
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

/// The fan-out sizes and their PUT counts: `--fanout-sizes 1000:400` (e.g. to profile one size);
/// by default 1, 100 and 1,000 connections with 300, 100 and 40 PUTs.
fn fanout_sizes(spec: Option<&str>) -> Res<Vec<(usize, usize)>> {
    let Some(spec) = spec else {
        return Ok(vec![(1, 300), (100, 100), (1000, 40)]);
    };
    spec.split(',')
        .map(|item| {
            let (n, puts) = item.split_once(':').unwrap_or((item, "100"));
            Ok((n.trim().parse()?, puts.trim().parse()?))
        })
        .collect()
}

async fn run(a: Args) -> Res<()> {
    let t = Target::parse(a.req("base-url")?)?;
    let admin = a.req("admin-token")?.to_string();
    let label = a.req("label")?.to_string();
    let out = a.req("out")?.to_string();
    let quick = a.has("quick");
    // One interleaved round of the latency and throughput rows (bench/run.sh runs several,
    // alternating the sides): a third of the samples of a single full run each.
    let round = a.has("round");
    let only: Vec<String> = a
        .get("only")
        .unwrap_or("fanout,wsfanout,sustained,poll,presence,capacity,wscapacity")
        .split(',')
        .map(|s| s.trim().to_string())
        .collect();
    let runtime_pid: Option<u32> = a.get("runtime-pid").and_then(|s| s.parse().ok());
    let proxy_pid: Option<u32> = a.get("proxy-pid").and_then(|s| s.parse().ok());
    let node_pid: Option<u32> = a.get("wrangler-pid").and_then(|s| s.parse().ok());
    let inspector: Option<String> = a.get("inspector").map(|s| s.to_string());
    let mut cpu = Cpu::default();
    for (name, pid) in [("runtime", runtime_pid), ("proxy", proxy_pid), ("wrangler", node_pid)] {
        if let Some(p) = pid {
            cpu.pids.push((name, p));
        }
    }
    let max_subs: usize = a.num("max-subscribers", if quick { 1000 } else { 5000 })?;
    let writers: usize = a.num("writers", 16)?;
    let secs: f64 = a.num(
        "sustained-seconds",
        match (quick, round) {
            (true, _) => 3.0,
            (false, true) => 5.0,
            (false, false) => 10.0,
        },
    )?;
    let idle_s: f64 = a.num("idle-seconds", 15.0)?;
    // A capacity ramp stops opening connections after this long (the bench's 10-minute bound).
    let ramp_budget_s: f64 = a.num("ramp-budget-s", if quick { 40.0 } else { 100.0 })?;
    let presence_n: usize = a.num("presence-connections", if quick { 200 } else { 1000 })?;
    let nonce = (epoch_ns() / 1_000_000 % 100_000_000) as u64;
    let tag: String = label.chars().filter(|c| c.is_ascii_alphanumeric()).take(8).collect::<String>().to_lowercase();
    let api = Api { t, admin, prefix: format!("bench-{tag}-{nonce}") };

    let mut res = serde_json::Map::new();
    res.insert("label".into(), json!(label));
    res.insert("quick".into(), json!(quick));
    res.insert("round".into(), json!(round));
    let started = Instant::now();

    for (key, tr) in [("fanout", Transport::Sse), ("wsfanout", Transport::Ws)] {
        if !only.iter().any(|s| s == key) {
            continue;
        }
        let mut f = serde_json::Map::new();
        for (n, puts) in fanout_sizes(a.get("fanout-sizes"))? {
            let puts = match (quick, round) {
                (true, _) => (puts / 10).max(8),
                (false, true) => (puts / 3).max(12),
                (false, false) => puts,
            };
            eprintln!("[{label}] {key}: {n} connection(s), {puts} PUTs");
            let r = as_value(fanout(&api, &cpu, tr, n, puts).await);
            eprintln!("[{label}]   -> {}", brief(&r, "latencyMs"));
            f.insert(n.to_string(), r);
        }
        res.insert(key.into(), Value::Object(f));
    }
    if only.iter().any(|s| s == "sustained") {
        let subs: usize = a.num("sustained-subscribers", 100)?;
        eprintln!("[{label}] sustained: {subs} subscribers, {writers} writers, {secs} s");
        let r = as_value(sustained(&api, &cpu, subs, writers, secs).await);
        eprintln!(
            "[{label}]   -> {} updates/s, delivery {}, {} chunks/subscriber/s, cpu {}",
            r["updatesPerSec"], r["deliveryRatio"], r["chunksPerSubscriberPerSec"], r["cpu"]
        );
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
    if only.iter().any(|s| s == "presence") {
        let joins = if quick { 10 } else { 20 };
        eprintln!("[{label}] presence: {presence_n} sockets, {joins} joins");
        let r = match presence(&api, presence_n, joins).await {
            Ok(v) => v,
            Err(e) => json!({"error": e.to_string()}),
        };
        eprintln!("[{label}]   -> {}", brief(&r, "latencyMs"));
        res.insert("presence".into(), r);
    }
    for (key, tr) in [("capacity", Transport::Sse), ("wscapacity", Transport::Ws)] {
        if !only.iter().any(|s| s == key) {
            continue;
        }
        let step = match (quick, tr) {
            (true, _) => 250,
            (false, Transport::Sse) => 1000,
            (false, Transport::Ws) => 500,
        };
        eprintln!("[{label}] {key}: ramp to {max_subs} in steps of {step}");
        let r = as_value(
            capacity(&api, &cpu, tr, max_subs, step, (runtime_pid, proxy_pid), inspector.as_deref(), idle_s, ramp_budget_s).await,
        );
        eprintln!("[{label}]   -> held {}, {} B/connection (runtime)", r["held"], r["runtimeBytesPerSubscriber"]);
        res.insert(key.into(), r);
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
