//! SSE subscribers: one task and one TCP connection each. A subscriber parses `id:` lines, notes
//! when each event's blank-line terminator arrived, and publishes the highest id it has seen so the
//! driver can wait for "every subscriber has event N" without locks.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use hyper::Method;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::http::{connect, Res, Target};

/// State shared by the subscribers of one group and the driver.
pub struct Shared {
    /// Highest event id seen by subscriber i.
    pub last_seen: Vec<AtomicU64>,
    /// Subscriber i has failed: waits for deliveries skip it.
    pub dead: Vec<AtomicBool>,
    /// Subscribers that got a 200 and their first body bytes.
    pub connected: AtomicUsize,
    /// Subscribers that failed (connect error, non-200, stream ended or errored).
    pub failed: AtomicUsize,
    /// Total events received by the group.
    pub events: AtomicU64,
    /// (event id, arrival) per subscriber, when recording: read at any time with `arrivals()`.
    pub arrivals: Vec<std::sync::Mutex<Vec<(u64, Instant)>>>,
    /// Body chunks (reads that carried data) received by the group: with one write per event per
    /// subscriber this is close to `events`; a server that coalesces a burst into one write per
    /// subscriber shows fewer chunks than events.
    pub chunks: AtomicU64,
}

/// What every subscriber of a group recorded: (event id, arrival) pairs, and its error if it failed.
pub type Recorded = Vec<(Vec<(u64, Instant)>, Option<String>)>;

pub struct SubOut {
    /// (event id, arrival instant) of every event received, when recording.
    pub arrivals: Vec<(u64, Instant)>,
    pub error: Option<String>,
}

pub struct Group {
    pub shared: Arc<Shared>,
    handles: Vec<JoinHandle<SubOut>>,
    stop_tx: watch::Sender<bool>,
    stop_rx: watch::Receiver<bool>,
    t: Target,
    path: Arc<str>,
    record: bool,
    pub first_error: Arc<std::sync::Mutex<Option<String>>>,
}

impl Group {
    /// `capacity` is the most subscribers this group will ever hold.
    pub fn new(t: &Target, path: String, capacity: usize, record: bool) -> Group {
        let (stop_tx, stop_rx) = watch::channel(false);
        Group {
            shared: Arc::new(Shared {
                last_seen: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
                dead: (0..capacity).map(|_| AtomicBool::new(false)).collect(),
                connected: AtomicUsize::new(0),
                failed: AtomicUsize::new(0),
                events: AtomicU64::new(0),
                arrivals: (0..capacity).map(|_| std::sync::Mutex::new(Vec::new())).collect(),
                chunks: AtomicU64::new(0),
            }),
            handles: Vec::new(),
            stop_tx,
            stop_rx,
            t: t.clone(),
            path: path.into(),
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

    /// Opens `n` more subscribers, at most `batch` connection attempts in flight, and waits until
    /// each has connected or failed (or `timeout`). Returns how many of the new ones failed.
    pub async fn open(&mut self, n: usize, batch: usize, timeout: Duration) -> usize {
        let failed_before = self.failed();
        let deadline = Instant::now() + timeout;
        let target_total = self.len() + n;
        while self.len() < target_total {
            let k = batch.min(target_total - self.len());
            for _ in 0..k {
                let idx = self.handles.len();
                let h = tokio::spawn(run_subscriber(
                    self.t.clone(),
                    self.path.clone(),
                    idx,
                    self.shared.clone(),
                    self.stop_rx.clone(),
                    self.record,
                    self.first_error.clone(),
                ));
                self.handles.push(h);
            }
            // Wait for this batch to settle before starting the next one.
            while self.connected() + self.failed() < self.len() && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        self.failed() - failed_before
    }

    /// Waits until every live subscriber has seen an id >= `seq`. Returns how many had not (live
    /// or dead) when it stopped waiting.
    pub async fn wait_seen(&self, seq: u64, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        let n = self.len();
        let sh = &self.shared;
        let done = |i: usize| sh.last_seen[i].load(Ordering::Acquire) >= seq || sh.dead[i].load(Ordering::Acquire);
        let mut from = 0;
        loop {
            while from < n && done(from) {
                from += 1;
            }
            if from == n || Instant::now() >= deadline {
                return (0..n)
                    .filter(|&i| self.shared.last_seen[i].load(Ordering::Acquire) < seq)
                    .count();
            }
            tokio::time::sleep(Duration::from_micros(250)).await;
        }
    }

    /// What every subscriber recorded so far (arrivals, and whether it failed), without closing.
    pub fn snapshot(&self) -> Recorded {
        (0..self.len())
            .map(|i| {
                let dead = self.shared.dead[i].load(Ordering::Acquire);
                (self.shared.arrivals[i].lock().unwrap().clone(), dead.then(|| "failed".to_string()))
            })
            .collect()
    }

    /// Stops every subscriber (dropping its connection) and collects what they recorded.
    pub async fn close(self) -> Vec<SubOut> {
        let _ = self.stop_tx.send(true);
        let mut out = Vec::with_capacity(self.handles.len());
        for h in self.handles {
            match h.await {
                Ok(o) => out.push(o),
                Err(e) => out.push(SubOut {
                    arrivals: Vec::new(),
                    error: Some(format!("task: {e}")),
                }),
            }
        }
        out
    }
}

async fn run_subscriber(
    t: Target,
    path: Arc<str>,
    idx: usize,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    record: bool,
    first_error: Arc<std::sync::Mutex<Option<String>>>,
) -> SubOut {
    let mut connected = false;
    let r = stream(&t, &path, idx, &shared, &mut stop, record, &mut connected).await;
    let error = match r {
        Ok(()) => None,
        Err(e) => {
            let msg = e.to_string();
            let mut fe = first_error.lock().unwrap();
            if fe.is_none() {
                *fe = Some(format!("subscriber {idx}: {msg}"));
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
    SubOut { arrivals, error }
}

#[allow(clippy::too_many_arguments)]
async fn stream(
    t: &Target,
    path: &str,
    idx: usize,
    shared: &Shared,
    stop: &mut watch::Receiver<bool>,
    record: bool,
    connected: &mut bool,
) -> Res<()> {
    let mut conn = connect(t).await?;
    let resp = conn
        .send(Method::GET, path, None, None, "text/event-stream")
        .await?;
    if resp.status() != 200 {
        let status = resp.status();
        let body = resp.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        return Err(format!("SSE status {status}: {}", String::from_utf8_lossy(&body)).into());
    }
    let mut body = resp.into_body();
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let mut cur_id: Option<u64> = None;
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => return Ok(()),
            f = body.frame() => {
                let frame = match f {
                    None => return Err("SSE stream ended".into()),
                    Some(Err(e)) => return Err(format!("SSE stream error: {e}").into()),
                    Some(Ok(frame)) => frame,
                };
                let Ok(data) = frame.into_data() else { continue };
                let now = Instant::now();
                shared.chunks.fetch_add(1, Ordering::Relaxed);
                if !*connected {
                    *connected = true;
                    shared.connected.fetch_add(1, Ordering::AcqRel);
                }
                buf.extend_from_slice(&data);
                let mut start = 0;
                while let Some(pos) = buf[start..].iter().position(|&b| b == b'\n') {
                    let mut line = &buf[start..start + pos];
                    start += pos + 1;
                    if line.last() == Some(&b'\r') {
                        line = &line[..line.len() - 1];
                    }
                    if line.is_empty() {
                        // End of an event: dispatch it if it had an id.
                        if let Some(id) = cur_id.take() {
                            if record {
                                shared.arrivals[idx].lock().unwrap().push((id, now));
                            }
                            shared.events.fetch_add(1, Ordering::Relaxed);
                            shared.last_seen[idx].fetch_max(id, Ordering::AcqRel);
                        }
                    } else if let Some(v) = line.strip_prefix(b"id:") {
                        let s = std::str::from_utf8(v).unwrap_or("").trim();
                        cur_id = s.parse().ok();
                    }
                }
                buf.drain(..start);
            }
        }
    }
}
