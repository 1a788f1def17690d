//! The tenant hub: one Durable Object per shop (`id_from_name(tenant)`), holding that shop's
//! open SSE streams. The Worker forwards `subscribe` and `stats` to it and `publish`es every
//! committed event; the ordering and bookkeeping live in [`crate::hub::Hub`].
//!
//! Platform facts this relies on:
//! - A client that disconnects is only noticed when a write to its stream fails, so the
//!   heartbeat (a Durable Object alarm every `HEARTBEAT_SECONDS`) is what prunes the dead.
//! - An open SSE response keeps the object in memory (it cannot hibernate). If it is evicted or
//!   restarted anyway, subscribers reconnect and resume from the D1 log by event id.
//!   <https://developers.cloudflare.com/durable-objects/reference/in-memory-state/>

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use js_sys::{Promise, Uint8Array};
use serde_json::json;
use wasm_bindgen::prelude::Closure;
use wasm_bindgen::JsValue;
use web_sys::{TransformStream, WritableStreamDefaultWriter};
use worker::{
    durable_object, Env, Headers, Method, Request, RequestInit, Response, ResponseBuilder, Result,
    State,
};

use crate::app::App;
use crate::db;
use crate::domain::{format_timestamp, TenantId};
use crate::error::{ApiError, ApiResult};
use crate::events::{sse_frame, Event};
use crate::hub::{Hub, Step, SubscriberId};

/// Events read from the log per query while catching a subscriber up or filling a gap.
const REPLAY_PAGE: u32 = 500;
/// How often (in heartbeats, at least hourly) the hub prunes its tenant's old events.
const PRUNE_EVERY_MS: i64 = 3_600_000;

/// Frames a subscriber may leave unread before the heartbeat drops it (a stalled client).
const MAX_QUEUED_FRAMES: f64 = 10_000.0;

/// A subscriber's stream: the writable half of a `TransformStream` whose readable half is the
/// body of its SSE response. Writing goes straight to the runtime's stream (no Rust executor or
/// pull adapter in between), and one `Uint8Array` per event is shared by every subscriber.
pub struct StreamSink {
    writer: WritableStreamDefaultWriter,
    /// One shared no-op rejection handler, so a write to a departed client is not reported as
    /// an unhandled rejection (its failure is seen through `desiredSize` instead).
    ignore: Rc<Closure<dyn FnMut(JsValue)>>,
}

impl StreamSink {
    fn quiet(&self, promise: Promise) {
        let _ = promise.catch(&self.ignore);
    }
}

impl crate::hub::Sink for StreamSink {
    type Frame = Uint8Array;

    fn frame(text: &str) -> Uint8Array {
        Uint8Array::from(text.as_bytes())
    }

    fn send(&self, frame: &Uint8Array) -> bool {
        // An errored stream (the client went away and its body was cancelled) has no size.
        match self.writer.desired_size() {
            Ok(Some(_)) => {
                self.quiet(self.writer.write_with_chunk(frame));
                true
            }
            _ => false,
        }
    }

    fn stalled(&self) -> bool {
        matches!(self.writer.desired_size(), Ok(Some(size)) if size < -MAX_QUEUED_FRAMES)
    }
}

impl Drop for StreamSink {
    fn drop(&mut self) {
        // Ends the client's stream when the hub lets go of it (pruned, stalled).
        self.quiet(self.writer.close());
    }
}

fn frame_of(event: &Event) -> Uint8Array {
    <StreamSink as crate::hub::Sink>::frame(&sse_frame(event))
}

#[durable_object]
pub struct TenantHub {
    state: State,
    env: Env,
    hub: RefCell<Hub<StreamSink>>,
    ignore: Rc<Closure<dyn FnMut(JsValue)>>,
    tenant: RefCell<Option<String>>,
    pumping: Cell<bool>,
    alarm_armed: Cell<bool>,
    last_prune_ms: Cell<i64>,
}

impl worker::DurableObject for TenantHub {
    fn new(state: State, env: Env) -> Self {
        Self {
            state,
            env,
            hub: RefCell::new(Hub::default()),
            ignore: Rc::new(Closure::new(|_: JsValue| {})),
            tenant: RefCell::new(None),
            pumping: Cell::new(false),
            alarm_armed: Cell::new(false),
            last_prune_ms: Cell::new(0),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let url = req.url()?;
        let params: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let param = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        if let Some(t) = param("tenant") {
            self.tenant.replace(Some(t));
        }
        let result = match url.path() {
            "/publish" => {
                let seq = param("seq").and_then(|s| s.parse::<u64>().ok());
                match (seq, req.text().await) {
                    (Some(seq), Ok(frame)) => self.publish(seq, &frame).await,
                    _ => Err(ApiError::bad_request(
                        "invalid_publish",
                        "seq and frame needed",
                    )),
                }
            }
            "/subscribe" => self.subscribe(param("resume")).await,
            "/stats" => {
                let hub = self.hub.borrow();
                crate::http::json_response(
                    200,
                    &json!({
                        "subscribers": hub.subscriber_count(),
                        "lastBroadcastSeq": hub.last_broadcast().to_string(),
                        "head": hub.head().to_string(),
                    }),
                )
            }
            _ => Err(ApiError::NotFound("no such hub route".into())),
        };
        match result {
            Ok(resp) => Ok(resp),
            Err(err) => {
                worker::console_error!("hub: {err}");
                crate::http::error_response(&err)
            }
        }
    }

    async fn alarm(&self) -> Result<Response> {
        self.alarm_armed.set(false);
        let now = format_timestamp(crate::http::now_millis());
        let dropped = self.hub.borrow_mut().heartbeat(&now);
        if dropped > 0 {
            worker::console_log!("hub: pruned {dropped} departed subscriber(s)");
        }
        // Leases that ran out end now (`order_unlocked`, reason `expired`), within one heartbeat.
        if let Err(err) = self.expire_locks().await {
            worker::console_error!("hub: lease expiry failed: {err}");
        }
        // Catch anything whose publish never arrived (a writer that failed to reach us).
        if let Err(err) = self.repair_from_log().await {
            worker::console_error!("hub: log check failed: {err}");
        }
        self.prune_if_due().await;
        if self.hub.borrow().subscriber_count() > 0 {
            self.arm_alarm().await;
        }
        Response::ok("ok")
    }
}

impl TenantHub {
    fn tenant(&self) -> ApiResult<String> {
        self.tenant
            .borrow()
            .clone()
            .ok_or_else(|| ApiError::internal("hub called without a tenant"))
    }

    fn heartbeat(&self) -> Duration {
        Duration::from_secs(crate::http::var_u64(&self.env, "HEARTBEAT_SECONDS", 30))
    }

    async fn arm_alarm(&self) {
        if self.alarm_armed.replace(true) {
            return;
        }
        if let Err(err) = self.state.storage().set_alarm(self.heartbeat()).await {
            self.alarm_armed.set(false);
            worker::console_error!("hub: could not set the heartbeat alarm: {err}");
        }
    }

    async fn publish(&self, seq: u64, frame: &str) -> ApiResult<Response> {
        self.hub
            .borrow_mut()
            .offer(seq, <StreamSink as crate::hub::Sink>::frame(frame));
        self.drive().await;
        crate::http::json_response(200, &json!({ "accepted": seq.to_string() }))
    }

    /// Broadcasts what is ready and fills gaps from the log. Only one drive runs at a time;
    /// events offered meanwhile are picked up by the running one before it stops.
    async fn drive(&self) {
        if self.pumping.replace(true) {
            return;
        }
        loop {
            let step = self.hub.borrow_mut().pump();
            let Step::Fill { after, before } = step else {
                break;
            };
            match self.read_log(after, before - 1).await {
                Ok(events) => {
                    let mut hub = self.hub.borrow_mut();
                    for event in &events {
                        hub.offer(event.seq(), frame_of(event));
                    }
                }
                Err(err) => worker::console_error!("hub: gap fill failed: {err}"),
            }
            self.hub.borrow_mut().gap_filled(before);
        }
        self.pumping.set(false);
    }

    async fn read_log(&self, after: u64, until: u64) -> ApiResult<Vec<Event>> {
        let db = self.env.d1("DB")?;
        db::events_between(&db, &self.tenant()?, after, until, REPLAY_PAGE).await
    }

    async fn repair_from_log(&self) -> ApiResult<()> {
        if self.hub.borrow().subscriber_count() == 0 {
            return Ok(());
        }
        let db = self.env.d1("DB")?;
        let head = db::head(&db, &self.tenant()?).await?;
        let (delivered, known) = {
            let hub = self.hub.borrow();
            (hub.last_broadcast(), hub.head())
        };
        if head > delivered && head > known {
            let events = self.read_log(delivered, head).await?;
            let mut hub = self.hub.borrow_mut();
            for event in &events {
                hub.offer(event.seq(), frame_of(event));
            }
        }
        self.drive().await;
        Ok(())
    }

    async fn expire_locks(&self) -> ApiResult<()> {
        if self.tenant.borrow().is_none() {
            return Ok(());
        }
        let db = self.env.d1("DB")?;
        let now = format_timestamp(crate::http::now_millis());
        let events = db::locks::expire(&db, &self.tenant()?, &now).await?;
        if events.is_empty() {
            return Ok(());
        }
        {
            let mut hub = self.hub.borrow_mut();
            for event in &events {
                hub.offer(event.seq(), frame_of(event));
            }
        }
        self.drive().await;
        Ok(())
    }

    async fn prune_if_due(&self) {
        if self.tenant.borrow().is_none() {
            return; // a restarted object's leftover alarm: it learns its tenant on the next call
        }
        let now = crate::http::now_millis();
        if now - self.last_prune_ms.get() < PRUNE_EVERY_MS {
            return;
        }
        self.last_prune_ms.set(now);
        let days = crate::http::var_u64(&self.env, "EVENT_RETENTION_DAYS", 7) as i64;
        let before = format_timestamp(now - days * 86_400_000);
        let result = async {
            let db = self.env.d1("DB")?;
            db::prune_events(&db, Some(&self.tenant()?), &before).await
        }
        .await;
        if let Err(err) = result {
            worker::console_error!("hub: pruning failed: {err}");
        }
    }

    /// Opens a stream: replays from the log after the resume id (or starts at the head), then
    /// turns the subscriber live with no gap and no duplicate at the seam.
    async fn subscribe(&self, resume: Option<String>) -> ApiResult<Response> {
        let tenant = self.tenant()?;
        let db = self.env.d1("DB")?;
        // While others are live the hub hears every publish, so its head is current (a publish
        // still in flight reaches this subscriber too); otherwise ask the log.
        let known = {
            let hub = self.hub.borrow();
            hub.has_live().then(|| hub.head())
        };
        let head = match (known, &resume) {
            (Some(head), None) => head,
            _ => db::head(&db, &tenant).await?,
        };
        self.hub.borrow_mut().note_head(head);

        let stream = TransformStream::new().map_err(js_error)?;
        let writer = stream.writable().get_writer().map_err(js_error)?;
        let sink = StreamSink {
            writer,
            ignore: self.ignore.clone(),
        };
        let resume_at = resume.as_deref().map(|r| r.trim().parse::<u64>().ok());
        let start = match resume_at {
            None => head.max(self.hub.borrow().head()),
            Some(Some(id)) => id,
            Some(None) => 0,
        };
        let id = self
            .hub
            .borrow_mut()
            .subscribe(sink, start)
            .ok_or_else(|| ApiError::internal("new subscriber's stream closed at once"))?;

        if let Some(requested) = resume_at {
            let oldest = db::oldest_seq(&db, &tenant).await?;
            let replayable = match requested {
                Some(r) if r == head => true,
                Some(r) if r > head => false, // an id we never issued
                Some(r) => oldest.is_some_and(|o| o <= r + 1),
                None => false,
            };
            if !replayable {
                self.hub.borrow_mut().resync(id, head);
            }
        }
        self.catch_up(id).await?;
        self.arm_alarm().await;

        let headers = Headers::new();
        headers.set("content-type", "text/event-stream; charset=utf-8")?;
        headers.set("cache-control", "no-cache, no-transform")?;
        headers.set("x-accel-buffering", "no")?;
        headers.set("content-encoding", "identity")?;
        crate::cors_headers(&headers)?;
        Ok(ResponseBuilder::new()
            .with_headers(headers)
            .stream(stream.readable()))
    }

    async fn catch_up(&self, id: SubscriberId) -> ApiResult<()> {
        loop {
            if self.hub.borrow_mut().go_live(id) {
                return Ok(());
            }
            let Some(last) = self.hub.borrow().last_sent(id) else {
                return Ok(()); // it left while we were reading
            };
            let until = self.hub.borrow().head();
            let events = self.read_log(last, until).await?;
            let mut hub = self.hub.borrow_mut();
            if events.is_empty() {
                // The log cannot supply what the head promises (pruned meanwhile).
                hub.resync(id, until);
                continue;
            }
            for event in &events {
                hub.replay_to(id, event.seq(), &frame_of(event));
            }
        }
    }
}

fn js_error(err: JsValue) -> ApiError {
    ApiError::internal(format!("{err:?}"))
}

fn hub_url(path: &str, tenant: &TenantId, extra: &[(&str, &str)]) -> String {
    let mut url = format!("https://hub{path}?tenant={tenant}");
    for (k, v) in extra {
        url.push('&');
        url.push_str(k);
        url.push('=');
        url.push_str(&urlencode(v));
    }
    url
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn stub(app: &App, tenant: &TenantId) -> ApiResult<worker::Stub> {
    Ok(app
        .env
        .durable_object("TENANT_HUB")?
        .id_from_name(tenant.as_str())?
        .get_stub()?)
}

/// Hands a committed event to the tenant's hub, after the response: the event is already
/// durable in D1, so the writer's answer does not wait for the fan-out. A failed publish only
/// delays delivery (the hub fills the gap from the log at the next event or heartbeat); it is
/// logged and never fails the client's request.
pub fn publish(app: &App, tenant: &TenantId, event: &Event) {
    let prepared: ApiResult<(worker::Stub, Request)> = (|| {
        // The finished SSE frame travels, so the hub neither parses nor re-encodes it.
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_body(Some(sse_frame(event).into()));
        let url = hub_url("/publish", tenant, &[("seq", &event.id)]);
        Ok((stub(app, tenant)?, Request::new_with_init(&url, &init)?))
    })();
    let id = event.id.clone();
    match prepared {
        Ok((stub, req)) => app.ctx.wait_until(async move {
            if let Err(err) = stub.fetch_with_request(req).await {
                worker::console_error!("publish of event {id} failed: {err}");
            }
        }),
        Err(err) => worker::console_error!("publish of event {id} failed: {err}"),
    }
}

/// Opens the tenant's stream for an authenticated caller.
pub async fn subscribe(
    app: &App,
    tenant: &TenantId,
    resume: Option<String>,
) -> ApiResult<Response> {
    let url = match &resume {
        Some(r) => hub_url("/subscribe", tenant, &[("resume", r)]),
        None => hub_url("/subscribe", tenant, &[]),
    };
    Ok(stub(app, tenant)?.fetch_with_str(&url).await?)
}

pub async fn stats(app: &App, tenant: &TenantId) -> ApiResult<Response> {
    Ok(stub(app, tenant)?
        .fetch_with_str(&hub_url("/stats", tenant, &[]))
        .await?)
}
