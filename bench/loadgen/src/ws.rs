//! WebSocket subscribers (GET /api/tenants/{t}/realtime/ws): one task and one TCP connection
//! each, the same bookkeeping as the SSE group (`sse.rs`) so the driver waits the same way.
//! A subscriber counts as connected at the `hello` frame, records when each `event` frame
//! arrived (by its `event.id`), and, for the presence measurement, when a `presence_diff` that
//! joins a user named `bench-joiner-<n>` arrived.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;

use crate::http::{Res, Target};
use crate::sse::Recorded;

pub struct Shared {
    /// Highest event id seen by subscriber i.
    pub last_seen: Vec<AtomicU64>,
    /// Highest `bench-joiner-<n>` (+1) whose join subscriber i has seen.
    pub last_join: Vec<AtomicU64>,
    pub dead: Vec<AtomicBool>,
    pub connected: AtomicUsize,
    pub failed: AtomicUsize,
    pub events: AtomicU64,
    /// (event id, arrival) per subscriber, when recording: read at any time with `arrivals()`.
    pub arrivals: Vec<std::sync::Mutex<Vec<(u64, Instant)>>>,
    /// (joiner number, arrival) of presence_diffs joining a bench joiner, per subscriber.
    pub joins: Vec<std::sync::Mutex<Vec<(u64, Instant)>>>,
}

pub struct SubOut {
    pub arrivals: Vec<(u64, Instant)>,
    /// (joiner number, arrival) of every presence_diff that joined a bench joiner.
    pub joins: Vec<(u64, Instant)>,
    pub error: Option<String>,
}

pub struct Group {
    pub shared: Arc<Shared>,
    handles: Vec<JoinHandle<SubOut>>,
    stop_tx: watch::Sender<bool>,
    stop_rx: watch::Receiver<bool>,
    t: Target,
    /// Paths (one per token); subscriber i uses paths[i % len].
    paths: Vec<Arc<str>>,
    record: bool,
    pub first_error: Arc<std::sync::Mutex<Option<String>>>,
}

impl Group {
    pub fn new(t: &Target, paths: Vec<String>, capacity: usize, record: bool) -> Group {
        let (stop_tx, stop_rx) = watch::channel(false);
        Group {
            shared: Arc::new(Shared {
                last_seen: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
                last_join: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
                dead: (0..capacity).map(|_| AtomicBool::new(false)).collect(),
                connected: AtomicUsize::new(0),
                failed: AtomicUsize::new(0),
                events: AtomicU64::new(0),
                arrivals: (0..capacity).map(|_| std::sync::Mutex::new(Vec::new())).collect(),
                joins: (0..capacity).map(|_| std::sync::Mutex::new(Vec::new())).collect(),
            }),
            handles: Vec::new(),
            stop_tx,
            stop_rx,
            t: t.clone(),
            paths: paths.into_iter().map(Arc::from).collect(),
            record,
            first_error: Arc::new(std::sync::Mutex::new(None)),
        }
    }

    pub fn len(&self) -> usize {
        self.handles.len()
    }

    pub fn connected(&self) -> usize {
        self.shared.connected.load(Ordering::Acquire)
    }

    pub fn failed(&self) -> usize {
        self.shared.failed.load(Ordering::Acquire)
    }

    /// Opens `n` more sockets, at most `batch` handshakes in flight; returns how many failed.
    pub async fn open(&mut self, n: usize, batch: usize, timeout: Duration) -> usize {
        let failed_before = self.failed();
        let deadline = Instant::now() + timeout;
        let target_total = self.len() + n;
        while self.len() < target_total {
            let k = batch.min(target_total - self.len());
            for _ in 0..k {
                let idx = self.handles.len();
                let path = self.paths[idx % self.paths.len()].clone();
                self.handles.push(tokio::spawn(run(
                    self.t.clone(),
                    path,
                    idx,
                    self.shared.clone(),
                    self.stop_rx.clone(),
                    self.record,
                    self.first_error.clone(),
                )));
            }
            while self.connected() + self.failed() < self.len() && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        self.failed() - failed_before
    }

    /// Waits until every live socket has seen an event id >= `seq`; returns how many had not.
    pub async fn wait_seen(&self, seq: u64, timeout: Duration) -> usize {
        self.wait(&self.shared.last_seen, seq, timeout).await
    }

    /// Waits until every live socket has seen the join of joiner `n`; returns how many had not.
    pub async fn wait_join(&self, n: u64, timeout: Duration) -> usize {
        self.wait(&self.shared.last_join, n + 1, timeout).await
    }

    async fn wait(&self, v: &[AtomicU64], at_least: u64, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        let n = self.len();
        let sh = &self.shared;
        let done = |i: usize| v[i].load(Ordering::Acquire) >= at_least || sh.dead[i].load(Ordering::Acquire);
        let mut from = 0;
        loop {
            while from < n && done(from) {
                from += 1;
            }
            if from == n || Instant::now() >= deadline {
                return (0..n).filter(|&i| v[i].load(Ordering::Acquire) < at_least).count();
            }
            tokio::time::sleep(Duration::from_micros(250)).await;
        }
    }

    /// What every socket recorded so far (arrivals, and whether it failed), without closing.
    pub fn snapshot(&self) -> Recorded {
        (0..self.len())
            .map(|i| {
                let dead = self.shared.dead[i].load(Ordering::Acquire);
                (self.shared.arrivals[i].lock().unwrap().clone(), dead.then(|| "failed".to_string()))
            })
            .collect()
    }

    /// Every (joiner number, arrival) recorded so far.
    pub fn joins(&self) -> Vec<(u64, Instant)> {
        self.shared.joins.iter().flat_map(|m| m.lock().unwrap().clone()).collect()
    }

    /// Closes every socket (code 1000) and collects what they recorded.
    pub async fn close(self) -> Vec<SubOut> {
        let _ = self.stop_tx.send(true);
        let mut out = Vec::with_capacity(self.handles.len());
        for h in self.handles {
            match h.await {
                Ok(o) => out.push(o),
                Err(e) => out.push(SubOut { arrivals: Vec::new(), joins: Vec::new(), error: Some(format!("task: {e}")) }),
            }
        }
        out
    }
}

#[derive(Deserialize)]
struct Frame {
    #[serde(rename = "type")]
    ty: String,
    event: Option<EventId>,
    joins: Option<Vec<UserRef>>,
}

#[derive(Deserialize)]
struct EventId {
    id: serde_json::Value,
}

#[derive(Deserialize)]
struct UserRef {
    #[serde(rename = "userId")]
    user_id: String,
}

pub const JOINER_PREFIX: &str = "bench-joiner-";

/// Opens one WebSocket (TCP_NODELAY, like the SSE clients) and returns it after the handshake.
pub async fn connect(
    t: &Target,
    path: &str,
) -> Res<tokio_tungstenite::WebSocketStream<TcpStream>> {
    let s = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(t.addr)).await??;
    s.set_nodelay(true)?;
    let url = format!("ws://{}{}", t.host, path);
    let cfg = WebSocketConfig::default();
    let (ws, _) = tokio::time::timeout(
        Duration::from_secs(30),
        tokio_tungstenite::client_async_with_config(url, s, Some(cfg)),
    )
    .await??;
    Ok(ws)
}

async fn run(
    t: Target,
    path: Arc<str>,
    idx: usize,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    record: bool,
    first_error: Arc<std::sync::Mutex<Option<String>>>,
) -> SubOut {
    let mut connected = false;
    let r = session(&t, &path, idx, &shared, &mut stop, record, &mut connected).await;
    let error = match r {
        Ok(()) => None,
        Err(e) => {
            let msg = e.to_string();
            let mut fe = first_error.lock().unwrap();
            if fe.is_none() {
                *fe = Some(format!("socket {idx}: {msg}"));
            }
            Some(msg)
        }
    };
    if error.is_some() {
        shared.dead[idx].store(true, Ordering::Release);
        shared.failed.fetch_add(1, Ordering::AcqRel);
        if connected {
            shared.connected.fetch_sub(1, Ordering::AcqRel);
        }
    }
    let arrivals = std::mem::take(&mut *shared.arrivals[idx].lock().unwrap());
    let joins = std::mem::take(&mut *shared.joins[idx].lock().unwrap());
    SubOut { arrivals, joins, error }
}

#[allow(clippy::too_many_arguments)]
async fn session(
    t: &Target,
    path: &str,
    idx: usize,
    shared: &Shared,
    stop: &mut watch::Receiver<bool>,
    record: bool,
    connected: &mut bool,
) -> Res<()> {
    let mut ws = connect(t, path).await?;
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => {
                let _ = ws.send(Message::Close(Some(CloseFrame { code: CloseCode::Normal, reason: "bye".into() }))).await;
                // Read until the server's close (or a short timeout) so the close is clean.
                let _ = tokio::time::timeout(Duration::from_millis(500), async {
                    while let Some(Ok(m)) = ws.next().await {
                        if m.is_close() { break; }
                    }
                }).await;
                return Ok(());
            }
            m = ws.next() => {
                let now = Instant::now();
                let text = match m {
                    None => return Err("socket ended".into()),
                    Some(Err(e)) => return Err(format!("socket error: {e}").into()),
                    Some(Ok(Message::Text(s))) => s,
                    Some(Ok(Message::Close(c))) => return Err(format!("closed by server: {c:?}").into()),
                    Some(Ok(_)) => continue,
                };
                let Ok(f) = serde_json::from_str::<Frame>(text.as_str()) else { continue };
                match f.ty.as_str() {
                    "hello" if !*connected => {
                        *connected = true;
                        shared.connected.fetch_add(1, Ordering::AcqRel);
                    }
                    "event" => {
                        let id = f.event.and_then(|e| match e.id {
                            serde_json::Value::String(s) => s.parse::<u64>().ok(),
                            serde_json::Value::Number(n) => n.as_u64(),
                            _ => None,
                        });
                        if let Some(id) = id {
                            if record {
                                shared.arrivals[idx].lock().unwrap().push((id, now));
                            }
                            shared.events.fetch_add(1, Ordering::Relaxed);
                            shared.last_seen[idx].fetch_max(id, Ordering::AcqRel);
                        }
                    }
                    "presence_diff" => {
                        for u in f.joins.unwrap_or_default() {
                            if let Some(n) = u.user_id.strip_prefix(JOINER_PREFIX).and_then(|s| s.parse::<u64>().ok()) {
                                if record {
                                    shared.joins[idx].lock().unwrap().push((n, now));
                                }
                                shared.last_join[idx].fetch_max(n + 1, Ordering::AcqRel);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}
