//! The live order board backend for florist shops: a Cloudflare Worker (Rust → Wasm).
//!
//! Map of the modules:
//! - Shell (runtime code, thin):
//!   - [`routes`]: the `#[event(fetch)]` routing, one module per resource: [`routes::health`],
//!     [`routes::admin`], [`routes::orders`], [`routes::realtime`] (SSE, stats, polling),
//!     [`routes::webhooks`] (`POST /api/webhooks/shopify`), [`routes::push`] (Web Push key and
//!     subscriptions).
//!   - [`app`]: the deployment context (`App`: env, execution context, clock, config).
//!   - [`commit`]: the one "commit a change and publish it" path the routes and webhook share.
//!   - [`retention`]: bounded pruning of events, activity and webhook records (cron + admin).
//!   - [`hub_do`]: the per-tenant Durable Object holding the live connections (SSE streams and
//!     hibernatable WebSockets) and their presence.
//!   - [`push_delivery`]: Web Push, run by the hub after each broadcast for the users not
//!     connected: the subscriptions' D1 read, encrypt, sign, POST, retry, drop the gone.
//!   - [`db`]: every D1 statement; each change is one atomic batch (order + seq + event).
//!   - [`http`]: body limits, JSON responses, the clock.
//!
//! Dependencies point one way: `routes` → `commit` → `hub_do`/`db` → core; `app` and the core
//! import nothing from the shell above them.
//! - Core (pure, unit-tested natively):
//!   - [`domain`]: tenant ids, the order, its status machine, validation of create/update bodies.
//!   - [`collab`]: `If-Match` preconditions, the field-level merge, lease and note rules.
//!   - [`auth`]: HS256 tokens, roles, tenant scoping.
//!   - [`events`]: the event JSON and its SSE framing.
//!   - [`hub`]: subscriber bookkeeping and in-order, gap-free, duplicate-free broadcast.
//!   - [`presence`]: who is online, viewing and editing; the WebSocket client messages.
//!   - [`shopify`]: webhook HMAC, payload mapping, the stale-safe update decision.
//!   - [`cursor`]: the opaque list cursor.
//!   - [`push`]: Web Push cryptography: RFC 8291 `aes128gcm` encryption, RFC 8292 VAPID tokens.
//!   - [`push_rules`]: Web Push rules: subscription validation, who gets which event, the
//!     payload and headers, retries, the VAPID token cache.
//!   - [`error`]: the one error type and its JSON body.

pub mod app;
pub mod auth;
pub mod collab;
pub mod commit;
pub mod cursor;
pub mod db;
pub mod domain;
pub mod error;
pub mod events;
pub mod http;
pub mod hub;
pub mod hub_do;
pub mod presence;
pub mod push;
pub mod push_delivery;
pub mod push_rules;
pub mod retention;
pub mod routes;
pub mod shopify;

use worker::{event, Context, Env, Headers, Request, Response};

use crate::error::{ApiError, ApiResult};

/// A random (v4) UUID from the runtime's CSPRNG.
pub fn new_id() -> ApiResult<String> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).map_err(|e| ApiError::internal(format!("random: {e}")))?;
    Ok(uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string())
}

#[event(start)]
fn start() {
    console_error_panic_hook::set_once();
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    if req.method() == worker::Method::Options {
        return cors(Response::empty()?.with_status(204));
    }
    let method = req.method();
    let path = req.path();
    let app = app::App {
        env,
        ctx,
        now_ms: http::now_millis(),
    };
    let resp = match routes::route(req, &app).await {
        Ok(resp) => resp,
        Err(err) => {
            if let ApiError::Internal(cause) = &err {
                worker::console_error!("{method:?} {path}: {cause}");
            }
            http::error_response(&err)?
        }
    };
    cors(resp)
}

/// The `[triggers] crons` handler: retention that must run whether or not anyone is connected
/// (events, activity, webhook delivery records), each part bounded (see [`retention`]); what is
/// left over is done by the next run.
#[event(scheduled)]
async fn on_schedule(_event: worker::ScheduledEvent, env: Env, _ctx: worker::ScheduleContext) {
    let keep = retention::Retention::from_env(&env);
    let result = match env.d1("DB") {
        Ok(db) => retention::run(&db, http::now_millis(), &keep).await,
        Err(err) => Err(err.into()),
    };
    match result {
        Ok((events, activity, webhooks)) => worker::console_log!(
            "cron: pruned {events} events, {activity} activity entries, {webhooks} webhook records"
        ),
        Err(err) => worker::console_error!("cron: retention failed: {err}"),
    }
}

/// Tokens travel in headers, never cookies, so any origin may call the API (a shop's own admin
/// app, the TypeScript client on another host).
pub fn cors_headers(h: &Headers) -> worker::Result<()> {
    h.set("access-control-allow-origin", "*")?;
    h.set(
        "access-control-allow-methods",
        "GET, POST, PUT, DELETE, OPTIONS",
    )?;
    h.set(
        "access-control-allow-headers",
        "authorization, content-type, if-match, last-event-id",
    )?;
    h.set("access-control-expose-headers", "etag, location")
}

fn cors(mut resp: Response) -> worker::Result<Response> {
    // A WebSocket upgrade passes through untouched (CORS does not apply to it).
    if resp.status_code() == 101 || resp.headers().has("access-control-allow-origin")? {
        // The hub's streams carry them already; pass those through untouched.
        return Ok(resp);
    }
    if cors_headers(resp.headers_mut()).is_ok() {
        return Ok(resp);
    }
    // Other responses fetched from the hub have immutable headers: copy them.
    let h = Headers::new();
    for (name, value) in resp.headers().entries() {
        h.append(&name, &value)?;
    }
    cors_headers(&h)?;
    Ok(resp.with_headers(h))
}
