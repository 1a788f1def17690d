//! The tenant hub: one Durable Object per shop (`id_from_name(tenant)`), holding that shop's
//! live connections — SSE streams and hibernatable WebSockets — and their presence. The Worker
//! forwards `subscribe`, `ws`, `presence` and `stats` to it and `publish`es every committed
//! event; the ordering lives in [`crate::hub::Hub`], presence in [`crate::presence::Presence`].
//!
//! Platform facts this relies on:
//! - A client that disconnects from an SSE stream is only noticed when a write to it fails, so
//!   the heartbeat (a Durable Object alarm every `HEARTBEAT_SECONDS`) is what prunes the dead.
//! - An open SSE response keeps the object in memory (it cannot hibernate). WebSockets accepted
//!   with the hibernation API do not: the object may be evicted between messages while the
//!   runtime keeps the sockets. Each socket's state is in its attachment, and the broadcast
//!   position in storage, so a woken object takes every socket back ([`TenantHub::adopt`]).
//!   <https://developers.cloudflare.com/durable-objects/best-practices/websockets/>
//! - `"ping"` is answered `"pong"` by the runtime itself (`setWebSocketAutoResponse`), without
//!   waking the object.

use std::cell::{Cell, OnceCell, RefCell};
use std::collections::BTreeMap;
use std::rc::{Rc, Weak};

use js_sys::Uint8Array;
use serde::{Deserialize, Serialize};
use serde_json::json;
use wasm_bindgen::JsValue;
use worker::{
    durable_object, Env, Headers, Method, Request, RequestInit, Response, ResponseBuilder, Result,
    State, WebSocket, WebSocketIncomingMessage, WebSocketPair, WebSocketRequestResponsePair,
};

use crate::app::App;
use crate::auth::Caller;
use crate::db;
use crate::domain::{format_timestamp, Role, TenantId};
use crate::error::{ApiError, ApiResult};
use crate::events::{self, sse_frame, ws, Event};
use crate::hub::{Control, Hub, Rewind, Sink, Step, SubscriberId};
use crate::presence::{
    parse_client_message, ClientMessage, Diff, Presence, RateWindow, UserEntry, MAX_CLIENT_FRAME,
};
use crate::stream_sink::{StreamSink, Streams};

/// Events read from the log per query while catching a subscriber up or filling a gap.
const REPLAY_PAGE: u32 = 200;
/// How often (in heartbeats, at least hourly) the hub prunes its tenant's old events.
const PRUNE_EVERY_MS: i64 = 3_600_000;
/// Bytes a subscriber may leave unread: past this it is dropped on the write that crosses it
/// (a stalled client must not hold the object's memory).
pub const MAX_QUEUED_BYTES: usize = 1024 * 1024;
/// The backlog a replay lets build up before it reads the next page of the log.
const STREAM_HIGH_WATER_BYTES: usize = 64 * 1024;
/// Storage keys: the broadcast position (for sockets adopted after a wake) and the users in
/// their leave grace period.
const DELIVERED_KEY: &str = "delivered";
const LEAVING_KEY: &str = "leaving";
/// How long after a broadcast its position is stored (one write for a burst).
const PERSIST_DELAY_MS: u64 = 20;

/// One committed event as every transport sends it; each form is built at most once, on first
/// use, and shared by all subscribers.
pub struct Frame {
    text: String,
    sse: OnceCell<Uint8Array>,
    /// The WebSocket message as a runtime string, so a thousand sockets get one string built
    /// once rather than a thousand copies decoded from Wasm memory.
    ws: OnceCell<JsValue>,
}

impl Frame {
    fn ws(&self) -> &JsValue {
        self.ws
            .get_or_init(|| JsValue::from_str(&events::ws_event_from_sse(&self.text)))
    }
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// A WebSocket seen untyped, to `send` a string that already lives in the runtime.
    type SendsValue;
    #[wasm_bindgen(method, catch, js_name = send)]
    fn send_value(this: &SendsValue, data: &JsValue) -> std::result::Result<(), JsValue>;
}

fn send_shared(socket: &WebSocket, text: &JsValue) -> bool {
    let socket: &web_sys::WebSocket = socket.as_ref();
    wasm_bindgen::JsCast::unchecked_ref::<SendsValue>(socket)
        .send_value(text)
        .is_ok()
}

/// A subscriber's WebSocket (accepted with the hibernation API).
pub struct WsSink {
    socket: WebSocket,
    conn: String,
    /// The heartbeat period, told in the hello so the client's watchdog can use it.
    heartbeat_secs: u64,
}

/// A live connection of either transport.
pub enum Conn {
    Sse(StreamSink),
    Ws(WsSink),
}

impl Sink for Conn {
    type Frame = Frame;

    fn frame(sse: &str) -> Frame {
        Frame {
            text: sse.to_string(),
            sse: OnceCell::new(),
            ws: OnceCell::new(),
        }
    }

    fn send(&self, frame: &Frame) -> bool {
        match self {
            Conn::Sse(s) => s.write(frame.text.as_bytes(), &frame.sse),
            Conn::Ws(w) => send_shared(&w.socket, frame.ws()),
        }
    }

    fn control(&self, msg: &Control<'_>) -> bool {
        match self {
            Conn::Sse(s) => {
                let text = match msg {
                    Control::Hello { position, .. } => events::sse_preamble(*position),
                    Control::Resync { cursor } => events::sse_resync(*cursor),
                    Control::Heartbeat { now } => events::sse_heartbeat(now),
                    Control::Reauth => events::SSE_REAUTH.to_string(),
                };
                s.write(text.as_bytes(), &OnceCell::new())
            }
            Conn::Ws(w) => {
                let text = match msg {
                    Control::Hello { position, head } => {
                        ws::hello(&w.conn, *head, *position, w.heartbeat_secs)
                    }
                    Control::Resync { cursor } => ws::resync(*cursor),
                    Control::Heartbeat { now } => ws::heartbeat(now),
                    Control::Reauth => ws::reauth(),
                };
                let sent = w.socket.send_with_str(&text).is_ok();
                if *msg == Control::Reauth {
                    let _ = w.socket.close(Some(4001), Some("token expired"));
                }
                sent
            }
        }
    }

    fn stalled(&self) -> bool {
        match self {
            Conn::Sse(s) => s.broken(),
            Conn::Ws(_) => false,
        }
    }
}

fn frame_of(event: &Event) -> Frame {
    Conn::frame(&sse_frame(event))
}

/// What a WebSocket carries across the object's hibernation.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Attachment {
    conn: String,
    tenant: String,
    user: String,
    role: Role,
    exp: Option<i64>,
    viewing: Option<String>,
    /// The seq it had when it was accepted (a floor for its position after a wake).
    joined: u64,
}

/// Who is connecting, as the Worker authenticated them.
#[derive(Debug, Clone)]
struct Visitor {
    user: String,
    role: Role,
    exp: Option<i64>,
}

/// The Durable Object: a handle on the hub's state, shared (`Rc`) so that work the object
/// continues after answering (a replay behind the response) can hold on to it.
#[durable_object]
pub struct TenantHub {
    inner: Rc<HubInner>,
}

impl std::ops::Deref for TenantHub {
    type Target = HubInner;

    fn deref(&self) -> &HubInner {
        &self.inner
    }
}

pub struct HubInner {
    /// Itself, for tasks spawned past the current request.
    me: Weak<HubInner>,
    state: State,
    env: Env,
    hub: RefCell<Hub<Conn>>,
    streams: Streams,
    tenant: RefCell<Option<String>>,
    pumping: Cell<bool>,
    /// When the alarm is set for (ms since the epoch), if it is.
    alarm_at: Cell<Option<i64>>,
    next_beat_ms: Cell<i64>,
    last_prune_ms: Cell<i64>,
    presence: RefCell<Presence>,
    /// Hub subscriber → its connection id (the presence key).
    conn_of: RefCell<BTreeMap<SubscriberId, String>>,
    /// WebSocket connection id → its hub subscriber and socket.
    sockets: RefCell<BTreeMap<String, (SubscriberId, WebSocket)>>,
    rates: RefCell<BTreeMap<String, RateWindow>>,
    adopted: Cell<bool>,
    persisted_delivered: Cell<u64>,
    persist_scheduled: Cell<bool>,
    next_conn: Cell<u64>,
    /// When this instance was constructed (a new value after a hibernation wake or restart).
    started_ms: i64,
    /// Sockets taken back from the runtime when this instance started.
    adopted_sockets: Cell<usize>,
    /// Web Push for users with no live connection (VAPID tokens cached for the instance's life).
    pusher: crate::push_delivery::Pusher,
}

impl worker::DurableObject for TenantHub {
    fn new(state: State, env: Env) -> Self {
        if let Ok(pair) = WebSocketRequestResponsePair::new("ping", "pong") {
            state.set_websocket_auto_response(&pair);
        }
        let inner = Rc::new_cyclic(|me| HubInner {
            me: me.clone(),
            state,
            env,
            hub: RefCell::new(Hub::default()),
            streams: Streams::new(MAX_QUEUED_BYTES),
            tenant: RefCell::new(None),
            pumping: Cell::new(false),
            alarm_at: Cell::new(None),
            next_beat_ms: Cell::new(0),
            last_prune_ms: Cell::new(0),
            presence: RefCell::new(Presence::default()),
            conn_of: RefCell::new(BTreeMap::new()),
            sockets: RefCell::new(BTreeMap::new()),
            rates: RefCell::new(BTreeMap::new()),
            adopted: Cell::new(false),
            persisted_delivered: Cell::new(0),
            persist_scheduled: Cell::new(false),
            next_conn: Cell::new(1),
            started_ms: crate::http::now_millis(),
            adopted_sockets: Cell::new(0),
            pusher: Default::default(),
        });
        Self { inner }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let params = crate::http::query_pairs(&req.inner().url());
        let path = req.path();
        let param = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        if let Some(t) = param("tenant") {
            self.tenant.replace(Some(t));
        }
        self.adopt().await;
        let visitor = || Visitor {
            user: param("user").unwrap_or_default(),
            role: if param("role").as_deref() == Some("manager") {
                Role::Manager
            } else {
                Role::Florist
            },
            exp: param("exp").and_then(|e| e.parse().ok()),
        };
        let result = match path.as_str() {
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
            "/subscribe" => self.subscribe(&visitor(), param("resume")).await,
            "/ws" => self.accept_socket(&visitor(), param("resume")).await,
            "/presence" => {
                crate::http::json_response(200, &json!({ "users": self.presence.borrow().users() }))
            }
            "/stats" => {
                let hub = self.hub.borrow();
                crate::http::json_response(
                    200,
                    &json!({
                        "subscribers": hub.subscriber_count(),
                        "websockets": self.sockets.borrow().len(),
                        "connections": self.presence.borrow().connection_count(),
                        "lastBroadcastSeq": hub.last_broadcast().to_string(),
                        "head": hub.head().to_string(),
                        "instanceStartedAt": format_timestamp(self.started_ms),
                        "adoptedSockets": self.adopted_sockets.get(),
                    }),
                )
            }
            _ => Err(ApiError::NotFound("no such hub route".into())),
        };
        self.settle_drops().await;
        match result {
            Ok(resp) => Ok(resp),
            Err(err) => {
                if let ApiError::Internal(cause) = &err {
                    worker::console_error!("hub: {cause}");
                }
                crate::http::error_response(&err)
            }
        }
    }

    async fn alarm(&self) -> Result<Response> {
        self.alarm_at.set(None);
        self.adopt().await;
        let now_ms = crate::http::now_millis();
        if now_ms >= self.next_beat_ms.get() {
            self.next_beat_ms.set(now_ms + self.heartbeat_ms());
            self.beat(now_ms).await;
        }
        let diff = self.presence.borrow_mut().tick(now_ms);
        self.announce(&diff, None);
        if !diff.leaves.is_empty() {
            self.persist_leaving().await;
            self.release_locks_of(&diff).await;
        }
        self.settle_drops().await;
        self.schedule_alarm().await;
        Response::ok("ok")
    }

    async fn websocket_message(
        &self,
        socket: WebSocket,
        message: WebSocketIncomingMessage,
    ) -> Result<()> {
        self.adopt().await;
        let Some(att) = attachment(&socket) else {
            let _ = socket.close(Some(1011), Some("unknown connection"));
            return Ok(());
        };
        let text = match message {
            WebSocketIncomingMessage::String(text) => text,
            WebSocketIncomingMessage::Binary(bytes) if bytes.len() > MAX_CLIENT_FRAME => {
                return self
                    .refuse(&socket, &att.conn, 1009, "message too big")
                    .await;
            }
            WebSocketIncomingMessage::Binary(_) => {
                let _ = socket.send_with_str(ws::error(
                    "invalid_message",
                    "messages are JSON text frames",
                ));
                return Ok(());
            }
        };
        if text.len() > MAX_CLIENT_FRAME {
            return self
                .refuse(&socket, &att.conn, 1009, "message too big")
                .await;
        }
        let now_ms = crate::http::now_millis();
        let allowed = self
            .rates
            .borrow_mut()
            .entry(att.conn.clone())
            .or_default()
            .allow(now_ms);
        if !allowed {
            return self
                .refuse(&socket, &att.conn, 1008, "more than 20 messages a second")
                .await;
        }
        match parse_client_message(&text) {
            Err(bad) => {
                let _ = socket.send_with_str(ws::error(bad.code, &bad.message));
            }
            Ok(ClientMessage::Resume { after }) => self.resume(&att.conn, after).await,
            Ok(ClientMessage::View { order_id }) => {
                let diff = self
                    .presence
                    .borrow_mut()
                    .view(&att.conn, order_id.clone(), now_ms);
                self.announce(&diff, None);
                let _ = socket.serialize_attachment(Attachment {
                    viewing: order_id,
                    ..att
                });
            }
            Ok(ClientMessage::Typing { order_id, field }) => {
                let (notice, diff) = self
                    .presence
                    .borrow_mut()
                    .typing(&att.conn, &order_id, &field, now_ms);
                if let Some(notice) = notice {
                    self.send_to_sockets(&ws::typing(&notice), Some(&att.conn));
                }
                self.announce(&diff, None);
                self.schedule_alarm().await;
            }
        }
        self.settle_drops().await;
        Ok(())
    }

    async fn websocket_close(
        &self,
        socket: WebSocket,
        code: usize,
        _reason: String,
        _was_clean: bool,
    ) -> Result<()> {
        self.adopt().await;
        if let Some(att) = attachment(&socket) {
            // 1000 = the client said goodbye; anything else may be a reload or a blip.
            self.forget(&att.conn, code == 1000).await;
        }
        let _ = socket.close(Some(1000), Some("closed"));
        Ok(())
    }

    async fn websocket_error(&self, socket: WebSocket, _error: worker::Error) -> Result<()> {
        self.adopt().await;
        if let Some(att) = attachment(&socket) {
            self.forget(&att.conn, false).await;
        }
        Ok(())
    }
}

fn attachment(socket: &WebSocket) -> Option<Attachment> {
    socket.deserialize_attachment::<Attachment>().ok().flatten()
}

impl HubInner {
    fn tenant(&self) -> ApiResult<String> {
        self.tenant
            .borrow()
            .clone()
            .ok_or_else(|| ApiError::internal("hub called without a tenant"))
    }

    fn heartbeat_ms(&self) -> i64 {
        crate::http::var_u64(&self.env, "HEARTBEAT_SECONDS", 30) as i64 * 1000
    }

    /// After the object woke from hibernation: takes back every WebSocket the runtime kept,
    /// live at the broadcast position stored before the object slept, and the presence they
    /// make up (already known to everyone, so nothing is announced).
    async fn adopt(&self) {
        if self.adopted.replace(true) {
            return;
        }
        let sockets = self.state.get_websockets();
        if sockets.is_empty() {
            return;
        }
        let storage = self.state.storage();
        let delivered: u64 = storage.get(DELIVERED_KEY).await.ok().flatten().unwrap_or(0);
        let leaving: Vec<(UserEntry, i64)> = storage
            .get(LEAVING_KEY)
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        self.persisted_delivered.set(delivered);
        let now_ms = crate::http::now_millis();
        let mut presence = self.presence.borrow_mut();
        for (entry, deadline) in leaving {
            presence.restore_leaving(entry, deadline);
        }
        let mut hub = self.hub.borrow_mut();
        for socket in sockets {
            let Some(att) = attachment(&socket) else {
                continue;
            };
            if self.tenant.borrow().is_none() {
                self.tenant.replace(Some(att.tenant.clone()));
            }
            let sink = Conn::Ws(WsSink {
                socket: socket.clone(),
                conn: att.conn.clone(),
                heartbeat_secs: (self.heartbeat_ms() / 1000) as u64,
            });
            let id = hub.adopt(sink, delivered.max(att.joined), att.exp);
            self.conn_of.borrow_mut().insert(id, att.conn.clone());
            self.sockets
                .borrow_mut()
                .insert(att.conn.clone(), (id, socket));
            let _ = presence.connect(&att.conn, &att.user, att.role, att.viewing, now_ms);
        }
        self.adopted_sockets.set(self.sockets.borrow().len());
        worker::console_log!(
            "hub: woke with {} socket(s) at seq {delivered}",
            self.sockets.borrow().len()
        );
    }

    /// The heartbeat: a sign of life to every connection (how dead SSE clients are found),
    /// expired tokens ended, run-out leases ended, lost publishes filled, old events pruned.
    async fn beat(&self, now_ms: i64) {
        let now = format_timestamp(now_ms);
        let dropped = {
            let mut hub = self.hub.borrow_mut();
            hub.heartbeat(&now) + hub.expire_tokens(now_ms / 1000)
        };
        if dropped > 0 {
            worker::console_log!("hub: dropped {dropped} departed or expired connection(s)");
        }
        if let Err(err) = self.expire_locks().await {
            worker::console_error!("hub: lease expiry failed: {err}");
        }
        if let Err(err) = self.repair_from_log().await {
            worker::console_error!("hub: log check failed: {err}");
        }
        self.prune_if_due().await;
    }

    /// Sets the alarm for the next heartbeat (while anyone is connected) or presence deadline.
    async fn schedule_alarm(&self) {
        let now = crate::http::now_millis();
        let connected = self.hub.borrow().subscriber_count() > 0;
        if connected && self.next_beat_ms.get() <= now {
            self.next_beat_ms.set(now + self.heartbeat_ms());
        }
        let beat = connected.then(|| self.next_beat_ms.get());
        let deadline = self.presence.borrow().next_deadline();
        let Some(at) = beat.into_iter().chain(deadline).min() else {
            return;
        };
        if self.alarm_at.get().is_some_and(|set| set <= at) {
            return;
        }
        self.alarm_at.set(Some(at));
        if let Err(err) = self.state.storage().set_alarm((at - now).max(1)).await {
            self.alarm_at.set(None);
            worker::console_error!("hub: could not set the alarm: {err}");
        }
    }

    async fn publish(&self, seq: u64, frame: &str) -> ApiResult<Response> {
        self.hub.borrow_mut().offer(seq, Conn::frame(frame));
        self.drive().await;
        // After the broadcast: pushes to those not on the board right now (runs on its own).
        let tenant = self.tenant.borrow().clone();
        self.pusher
            .after_publish(&self.env, tenant.as_deref(), frame, || {
                self.presence.borrow().connected_users()
            });
        // Nobody reads the answer: no body, no headers to build.
        Ok(Response::empty()?.with_status(204))
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
        self.schedule_persist();
    }

    /// Stores the broadcast position a moment after a broadcast, once for a burst. Not awaited
    /// by the broadcast: a storage write right behind the sends measurably delayed their
    /// delivery (WebSocket fan-out p50 +14 % at one socket, BENCHMARKS.md). A hibernation needs
    /// seconds of idleness, so the write always lands before the object can sleep.
    fn schedule_persist(&self) {
        if self.sockets.borrow().is_empty() || self.persist_scheduled.replace(true) {
            return;
        }
        let Some(me) = self.me.upgrade() else {
            self.persist_scheduled.set(false);
            return;
        };
        wasm_bindgen_futures::spawn_local(async move {
            worker::Delay::from(std::time::Duration::from_millis(PERSIST_DELAY_MS)).await;
            me.persist_scheduled.set(false);
            me.persist_delivered().await;
        });
    }

    /// Remembers the broadcast position while sockets are open, so that after a hibernation
    /// the sockets are taken back exactly where they were.
    async fn persist_delivered(&self) {
        let delivered = self.hub.borrow().last_broadcast();
        if self.sockets.borrow().is_empty() || delivered <= self.persisted_delivered.get() {
            return;
        }
        self.persisted_delivered.set(delivered);
        if let Err(err) = self.state.storage().put(DELIVERED_KEY, delivered).await {
            worker::console_error!("hub: could not store the position: {err}");
        }
    }

    async fn persist_leaving(&self) {
        let leaving = self.presence.borrow().leaving_entries();
        let storage = self.state.storage();
        let result = if leaving.is_empty() {
            storage.delete(LEAVING_KEY).await.map(|_| ())
        } else {
            storage.put(LEAVING_KEY, leaving).await
        };
        if let Err(err) = result {
            worker::console_error!("hub: could not store presence: {err}");
        }
    }

    async fn read_log(&self, after: u64, until: u64) -> ApiResult<Vec<Event>> {
        let db = self.env.d1("DB")?;
        db::events_between(&db, &self.tenant()?, after, until, REPLAY_PAGE).await
    }

    async fn repair_from_log(&self) -> ApiResult<()> {
        if !self.hub.borrow().has_live() {
            return Ok(());
        }
        let db = self.env.d1("DB")?;
        let head = db::head(&db, &self.tenant()?).await?;
        let delivered = self.hub.borrow().last_broadcast();
        // Whenever live subscribers are behind the log (a publish that never arrived, even if a
        // resuming subscriber already taught the hub the new head), fill from the log.
        if head > delivered {
            self.hub.borrow_mut().note_head(head);
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
            let tenant = TenantId::parse(&self.tenant()?)?;
            crate::retention::prune_events(&db, Some(&tenant), &before).await
        }
        .await;
        if let Err(err) = result {
            worker::console_error!("hub: pruning failed: {err}");
        }
    }

    /// 429 when the shop or the user already has as many connections as allowed.
    fn check_limits(&self, user: &str) -> ApiResult<()> {
        let per_shop = crate::http::var_u64(&self.env, "MAX_CONNECTIONS_PER_TENANT", 10_000);
        let per_user = crate::http::var_u64(&self.env, "MAX_CONNECTIONS_PER_USER", 20);
        let presence = self.presence.borrow();
        if presence.connection_count() as u64 >= per_shop {
            return Err(ApiError::TooManyRequests {
                code: "too_many_connections",
                message: format!("this shop already has {per_shop} live connections"),
            });
        }
        if presence.connections_of(user) as u64 >= per_user {
            return Err(ApiError::TooManyRequests {
                code: "too_many_connections",
                message: format!("you already have {per_user} live connections; close some tabs"),
            });
        }
        Ok(())
    }

    fn new_conn_id(&self, kind: &str) -> String {
        let n = self.next_conn.get();
        self.next_conn.set(n + 1);
        match crate::new_id() {
            Ok(id) => format!("{kind}-{id}"),
            Err(_) => format!("{kind}-{n}-{}", crate::http::now_millis()),
        }
    }

    /// The head a new subscriber starts from, and where it starts (its resume id, or the head).
    async fn start_position(&self, resume: &Option<String>) -> ApiResult<(u64, Option<u64>, u64)> {
        let tenant = self.tenant()?;
        let db = self.env.d1("DB")?;
        // While others are live the hub hears every publish, so its head is current (a publish
        // still in flight reaches this subscriber too); otherwise ask the log.
        let known = {
            let hub = self.hub.borrow();
            hub.has_live().then(|| hub.head())
        };
        let head = match (known, resume) {
            (Some(head), None) => head,
            _ => db::head(&db, &tenant).await?,
        };
        self.hub.borrow_mut().note_head(head);
        let requested = resume
            .as_deref()
            .map(|r| r.trim().parse::<u64>().unwrap_or(u64::MAX));
        let start = match requested {
            None => head.max(self.hub.borrow().head()),
            Some(u64::MAX) => 0,
            Some(id) => id,
        };
        Ok((head, requested, start))
    }

    /// Registers a connection with the hub and presence, replays what it missed, and turns it
    /// live with no gap and no duplicate at the seam.
    async fn open(
        &self,
        conn: Conn,
        conn_id: &str,
        visitor: &Visitor,
        resume: Option<String>,
        viewing: Option<String>,
    ) -> ApiResult<SubscriberId> {
        let (head, requested, start) = self.start_position(&resume).await?;
        let id = self
            .hub
            .borrow_mut()
            .subscribe(conn, start, visitor.exp)
            .ok_or_else(|| ApiError::internal("a new connection closed at once"))?;
        self.conn_of.borrow_mut().insert(id, conn_id.to_string());
        let diff = self.presence.borrow_mut().connect(
            conn_id,
            &visitor.user,
            visitor.role,
            viewing,
            crate::http::now_millis(),
        );
        self.announce(&diff, Some(conn_id));
        if let Some(requested) = requested {
            let replayable = match requested {
                r if r == head => true,
                r if r > head => false, // an id we never issued (or not a number)
                r => {
                    let db = self.env.d1("DB")?;
                    let oldest = db::oldest_seq(&db, &self.tenant()?).await?;
                    oldest.is_some_and(|o| o <= r + 1)
                }
            };
            if !replayable {
                self.hub.borrow_mut().resync(id, head);
            }
        }
        // The replay runs behind the response: the client has its stream at once, and the log
        // is read a page at a time as the client drains it, so a resume from far back never
        // loads the whole log into the object.
        match self.me.upgrade() {
            Some(me) => wasm_bindgen_futures::spawn_local(async move {
                if let Err(err) = me.catch_up(id).await {
                    worker::console_error!("hub: replay failed: {err}");
                }
                me.settle_drops().await;
            }),
            None => self.catch_up(id).await?,
        }
        self.schedule_alarm().await;
        Ok(id)
    }

    /// Opens an SSE stream.
    async fn subscribe(&self, visitor: &Visitor, resume: Option<String>) -> ApiResult<Response> {
        self.check_limits(&visitor.user)?;
        let (writer, body) = crate::stream_sink::pipe().map_err(js_error)?;
        let sink = Conn::Sse(self.streams.open(writer));
        let conn_id = self.new_conn_id("sse");
        if let Err(err) = self.open(sink, &conn_id, visitor, resume, None).await {
            // No zombie: a connection that failed to open leaves the hub and presence.
            self.forget(&conn_id, true).await;
            return Err(err);
        }
        let headers = Headers::new();
        headers.set("content-type", "text/event-stream; charset=utf-8")?;
        headers.set("cache-control", "no-cache, no-transform")?;
        headers.set("x-accel-buffering", "no")?;
        headers.set("content-encoding", "identity")?;
        crate::cors_headers(&headers)?;
        Ok(ResponseBuilder::new().with_headers(headers).stream(body))
    }

    /// Accepts a WebSocket with the hibernation API: hello, the full presence, the replay from
    /// its resume id, then live.
    async fn accept_socket(
        &self,
        visitor: &Visitor,
        resume: Option<String>,
    ) -> ApiResult<Response> {
        self.check_limits(&visitor.user)?;
        let pair = WebSocketPair::new()?;
        let conn_id = self.new_conn_id("ws");
        let user_tag = format!("user:{}", visitor.user);
        self.state
            .accept_websocket_with_tags(&pair.server, &[user_tag.as_str()]);
        let joined = self.hub.borrow().head();
        pair.server.serialize_attachment(Attachment {
            conn: conn_id.clone(),
            tenant: self.tenant()?,
            user: visitor.user.clone(),
            role: visitor.role,
            exp: visitor.exp,
            viewing: None,
            joined,
        })?;
        let sink = Conn::Ws(WsSink {
            socket: pair.server.clone(),
            conn: conn_id.clone(),
            heartbeat_secs: (self.heartbeat_ms() / 1000) as u64,
        });
        self.sockets
            .borrow_mut()
            .insert(conn_id.clone(), (0, pair.server.clone()));
        match self.open(sink, &conn_id, visitor, resume, None).await {
            Ok(id) => {
                if let Some(entry) = self.sockets.borrow_mut().get_mut(&conn_id) {
                    entry.0 = id;
                }
                let users = self.presence.borrow().users();
                let _ = pair.server.send_with_str(ws::presence(&users));
            }
            Err(err) => {
                self.forget(&conn_id, true).await;
                let _ = pair.server.close(Some(1011), Some("could not open"));
                return Err(err);
            }
        }
        Ok(Response::from_websocket(pair.client)?)
    }

    /// A WebSocket's `resume`: rewinds it (replaying from the log) if nothing went out yet,
    /// else tells it to resync.
    async fn resume(&self, conn: &str, after: u64) {
        let Some(id) = self.sockets.borrow().get(conn).map(|(id, _)| *id) else {
            return;
        };
        let rewind = self.hub.borrow_mut().rewind(id, after);
        if rewind == Rewind::CatchUp {
            // Pruned positions resync inside the catch-up.
            if let Err(err) = self.catch_up(id).await {
                worker::console_error!("hub: resume of {conn} failed: {err}");
            }
        }
    }

    /// Waits until a subscriber's stream has room (its reader drained what was queued).
    async fn room_for(&self, id: SubscriberId) {
        loop {
            let in_flight = match self.hub.borrow().sink(id) {
                Some(Conn::Sse(s)) => s.backlog_over(STREAM_HIGH_WATER_BYTES),
                _ => None,
            };
            let Some(in_flight) = in_flight else {
                return;
            };
            let _ = wasm_bindgen_futures::JsFuture::from(in_flight).await;
        }
    }

    async fn catch_up(&self, id: SubscriberId) -> ApiResult<()> {
        loop {
            if self.hub.borrow_mut().go_live(id) {
                return Ok(());
            }
            self.room_for(id).await;
            let Some(last) = self.hub.borrow().last_sent(id) else {
                return Ok(()); // it left while we were reading
            };
            let until = self.hub.borrow().head();
            let events = self.read_log(last, until).await?;
            let mut hub = self.hub.borrow_mut();
            if events.first().is_none_or(|e| e.seq() != last + 1) {
                // The log cannot supply what the head promises (pruned meanwhile).
                hub.resync(id, until);
                continue;
            }
            for event in &events {
                hub.replay_to(id, event.seq(), &frame_of(event));
            }
        }
    }

    /// A WebSocket is refused for bad behaviour: closed with `code`, and forgotten.
    async fn refuse(&self, socket: &WebSocket, conn: &str, code: u16, why: &str) -> Result<()> {
        let _ = socket.close(Some(code), Some(why));
        self.forget(conn, false).await;
        Ok(())
    }

    /// A connection is gone: out of the hub and presence (others are told).
    async fn forget(&self, conn: &str, clean: bool) {
        let removed = self.sockets.borrow_mut().remove(conn);
        self.rates.borrow_mut().remove(conn);
        let id = removed.map(|(id, _)| id).or_else(|| {
            self.conn_of
                .borrow()
                .iter()
                .find(|(_, c)| c.as_str() == conn)
                .map(|(id, _)| *id)
        });
        if let Some(id) = id {
            self.hub.borrow_mut().unsubscribe(id);
            self.conn_of.borrow_mut().remove(&id);
        }
        let diff = self
            .presence
            .borrow_mut()
            .disconnect(conn, clean, crate::http::now_millis());
        self.announce(&diff, None);
        self.release_locks_of(&diff).await;
        if !clean {
            self.persist_leaving().await;
            self.schedule_alarm().await;
        }
    }

    /// Takes the connections the hub dropped (failed writes, stalled readers, expired tokens)
    /// out of presence.
    async fn settle_drops(&self) {
        let dropped = self.hub.borrow_mut().take_dropped();
        for id in dropped {
            let conn = self.conn_of.borrow_mut().remove(&id);
            if let Some(conn) = conn {
                self.forget(&conn, false).await;
            }
        }
    }

    /// Tells the WebSocket clients (but `except`) what changed in presence.
    fn announce(&self, diff: &Diff, except: Option<&str>) {
        if diff.is_empty() {
            return;
        }
        self.send_to_sockets(&ws::presence_diff(diff), except);
    }

    /// A user who left (last connection gone, grace over) holds no edit lock any more.
    async fn release_locks_of(&self, diff: &Diff) {
        for user in &diff.leaves {
            let released = async {
                let db = self.env.d1("DB")?;
                let now = format_timestamp(crate::http::now_millis());
                db::locks::release_held_by(&db, &self.tenant()?, &user.user_id, &now).await
            }
            .await;
            match released {
                Ok(events) if !events.is_empty() => {
                    {
                        let mut hub = self.hub.borrow_mut();
                        for event in &events {
                            hub.offer(event.seq(), frame_of(event));
                        }
                    }
                    self.drive().await;
                }
                Ok(_) => {}
                Err(err) => {
                    worker::console_error!("hub: releasing {}'s locks failed: {err}", user.user_id)
                }
            }
        }
    }

    fn send_to_sockets(&self, text: &str, except: Option<&str>) {
        let text = JsValue::from_str(text);
        for (conn, (_, socket)) in self.sockets.borrow().iter() {
            if Some(conn.as_str()) != except {
                send_shared(socket, &text);
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
    let started = (|| -> ApiResult<js_sys::Promise> {
        // The finished SSE frame travels, so the hub neither parses nor re-encodes it. The
        // request is built and sent with the runtime's own types: workers-rs's `RequestInit`
        // sets every field and its `Request` reads every part back (BENCHMARKS.md).
        let init = web_sys::RequestInit::new();
        init.set_method("POST");
        init.set_body(&JsValue::from_str(&sse_frame(event)));
        let url = hub_url("/publish", tenant, &[("seq", &event.id)]);
        let req =
            web_sys::Request::new_with_str_and_init(&url, &init).map_err(worker::Error::from)?;
        let stub = stub(app, tenant)?.into_rpc::<RawStub>();
        Ok(stub.fetch(&req).map_err(worker::Error::from)?)
    })();
    let id = event.id.clone();
    match started {
        Ok(promise) => app.ctx.wait_until(async move {
            let answered = wasm_bindgen_futures::JsFuture::from(promise).await;
            if let Err(err) = answered.map_err(worker::Error::from) {
                worker::console_error!("publish of event {id} failed: {err}");
            }
        }),
        Err(err) => worker::console_error!("publish of event {id} failed: {err}"),
    }
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// A Durable Object stub as the runtime has it (see [`publish`]).
    type RawStub;
    #[wasm_bindgen(method, catch)]
    fn fetch(
        this: &RawStub,
        req: &web_sys::Request,
    ) -> std::result::Result<js_sys::Promise, JsValue>;
}

/// The caller as the hub learns it (user, role, token expiry), plus the resume id.
fn visitor_params<'a>(
    caller: &'a Caller,
    exp: &'a str,
    resume: &'a Option<String>,
) -> Vec<(&'a str, &'a str)> {
    let role = match caller.role {
        Role::Manager => "manager",
        Role::Florist => "florist",
    };
    let mut params = vec![
        ("user", caller.user_id.as_str()),
        ("role", role),
        ("exp", exp),
    ];
    if let Some(r) = resume {
        params.push(("resume", r.as_str()));
    }
    params
}

/// Opens the tenant's SSE stream for an authenticated caller.
pub async fn subscribe(
    app: &App,
    tenant: &TenantId,
    caller: &Caller,
    resume: Option<String>,
) -> ApiResult<Response> {
    let exp = caller.expires_at.to_string();
    let url = hub_url("/subscribe", tenant, &visitor_params(caller, &exp, &resume));
    Ok(stub(app, tenant)?.fetch_with_str(&url).await?)
}

/// Hands an authenticated WebSocket upgrade to the tenant's hub.
pub async fn websocket(
    app: &App,
    tenant: &TenantId,
    caller: &Caller,
    resume: Option<String>,
) -> ApiResult<Response> {
    let exp = caller.expires_at.to_string();
    let url = hub_url("/ws", tenant, &visitor_params(caller, &exp, &resume));
    let headers = Headers::new();
    headers.set("upgrade", "websocket")?;
    let mut init = RequestInit::new();
    init.with_method(Method::Get).with_headers(headers);
    let req = Request::new_with_init(&url, &init)?;
    Ok(stub(app, tenant)?.fetch_with_request(req).await?)
}

/// Who is online, for clients that only poll.
pub async fn presence(app: &App, tenant: &TenantId) -> ApiResult<Response> {
    Ok(stub(app, tenant)?
        .fetch_with_str(&hub_url("/presence", tenant, &[]))
        .await?)
}

pub async fn stats(app: &App, tenant: &TenantId) -> ApiResult<Response> {
    Ok(stub(app, tenant)?
        .fetch_with_str(&hub_url("/stats", tenant, &[]))
        .await?)
}
