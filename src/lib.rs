//! The live order board backend for florist shops: a Cloudflare Worker (Rust → Wasm).
//!
//! Map of the modules:
//! - Shell (runtime code, thin):
//!   - [`routes`]: the `#[event(fetch)]` routing, one module per resource: [`routes::health`],
//!     [`routes::admin`], [`routes::orders`], [`routes::realtime`] (SSE, stats, polling),
//!     [`routes::webhooks`] (`POST /api/webhooks/shopify`), [`routes::push`] (Web Push key and
//!     subscriptions), [`routes::openapi`] (the contract, `docs/openapi.json`, at
//!     `GET /api/openapi.json`), [`routes::web`] (every path outside `/api/`: the board's static
//!     files, from the assets-only Worker behind the `WEB` binding). The fetch handler gives
//!     every request an id (`X-Request-Id`) and logs one JSON line for it.
//!   - [`app`]: the deployment context (`App`: env, execution context, clock, config).
//!   - [`commit`]: the one "commit a change and publish it" path the routes and webhook share.
//!   - [`retention`]: bounded pruning of events, activity and webhook records (cron + admin).
//!   - [`hub_do`]: the per-tenant Durable Object holding the live connections (SSE streams and
//!     hibernatable WebSockets) and their presence.
//!   - [`stream_sink`]: the hub's SSE streams, each written through an [`outbox`].
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
//!   - [`outbox`]: one subscriber's writes coalesced (a burst goes out as one chunk), bounded
//!     in bytes.
//!   - [`presence`]: who is online, viewing and editing; the WebSocket client messages.
//!   - [`shopify`]: webhook HMAC, payload mapping, the stale-safe update decision.
//!   - [`cursor`]: the opaque list cursor.
//!   - [`push`]: Web Push cryptography: RFC 8291 `aes128gcm` encryption, RFC 8292 VAPID tokens.
//!   - [`push_rules`]: Web Push rules: subscription validation, who gets which event, the
//!     payload and headers, retries, the VAPID token cache.
//!   - [`error`]: the one error type and its JSON body.
//!   - [`small_map`]: a sorted-`Vec` map for the core's small maps (less Wasm than `BTreeMap`).

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
pub mod outbox;
pub mod presence;
pub mod push;
pub mod push_delivery;
pub mod push_rules;
pub mod retention;
pub mod routes;
pub mod shopify;
pub mod small_map;
pub mod stream_sink;

use worker::{event, Context, Env, Headers, Response};

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
async fn fetch(raw: web_sys::Request, env: Env, ctx: Context) -> worker::Result<Response> {
    let started_ms = http::now_millis();
    let request_id = new_id().unwrap_or_else(|_| format!("t{started_ms}"));
    let req = http::Request::new(raw);
    let method = req.method();
    let path = req.path();
    let resp = if method == worker::Method::Options {
        Response::empty()?.with_status(204)
    } else {
        let app = app::App {
            env,
            ctx,
            now_ms: started_ms,
        };
        match routes::route(req, &app).await {
            Ok(resp) => resp,
            Err(err) => {
                if let ApiError::Internal(cause) = &err {
                    worker::console_error!("{method:?} {path} [{request_id}]: {cause}");
                }
                http::error_response(&err)?
            }
        }
    };
    let resp = finish(resp, &request_id)?;
    let line = request_log_line(
        &request_id,
        &method,
        &path,
        resp.status_code(),
        http::now_millis() - started_ms,
    );
    worker::console_log!("{line}");
    Ok(resp)
}

/// The one log line of a request: `{"requestId","tenant","method","route","status","ms"}`.
/// `route` is the matched pattern (`/api/tenants/{tenantId}/orders/{orderId}`), never the path
/// as sent, so no query string (`?access_token=`) and no id a client made up reaches the log;
/// `tenant` is the path's shop, if any. (`ms` counts I/O waits: the Workers clock does not move
/// while code runs.)
pub fn request_log_line(
    request_id: &str,
    method: &worker::Method,
    path: &str,
    status: u16,
    ms: i64,
) -> String {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Line<'a> {
        request_id: &'a str,
        tenant: Option<&'a str>,
        method: &'a str,
        route: Option<&'a str>,
        status: u16,
        ms: i64,
    }
    let located = routes::locate(path);
    let line = Line {
        request_id,
        tenant: located
            .map(|(_, tenant, _)| tenant)
            .filter(|t| domain::TenantId::parse(t).is_ok()),
        method: method.as_ref(),
        route: located.map(|(pattern, _, _)| pattern),
        status,
        ms,
    };
    serde_json::to_string(&line).unwrap_or_default()
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

/// The request headers a browser on another origin may send: every header parameter of
/// docs/openapi.json a browser client would use (a unit test checks the list against it).
pub const CORS_ALLOW_HEADERS: &str =
    "authorization, content-type, if-match, idempotency-key, last-event-id";

/// Tokens travel in headers, never cookies, so any origin may call the API (a shop's own admin
/// app, the TypeScript client on another host).
pub fn cors_headers(h: &Headers) -> worker::Result<()> {
    h.set("access-control-allow-origin", "*")?;
    h.set(
        "access-control-allow-methods",
        "GET, POST, PUT, DELETE, OPTIONS",
    )?;
    h.set("access-control-allow-headers", CORS_ALLOW_HEADERS)?;
    h.set(
        "access-control-expose-headers",
        "etag, location, x-request-id",
    )
}

/// Every response leaves with its `X-Request-Id` and the CORS headers (a WebSocket upgrade
/// needs no CORS, and the hub's SSE streams carry them already).
fn finish(mut resp: Response, request_id: &str) -> worker::Result<Response> {
    let needs_cors =
        resp.status_code() != 101 && !resp.headers().has("access-control-allow-origin")?;
    let stamp = |h: &Headers| -> worker::Result<()> {
        if needs_cors {
            cors_headers(h)?;
        }
        h.set("x-request-id", request_id)
    };
    if stamp(resp.headers_mut()).is_ok() {
        return Ok(resp);
    }
    // Responses fetched from the hub have immutable headers: copy them (a socket stays attached).
    let h = Headers::new();
    for (name, value) in resp.headers().entries() {
        h.append(&name, &value)?;
    }
    stamp(&h)?;
    Ok(resp.with_headers(h))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn the_request_log_line_names_the_route_pattern_and_never_the_path_as_sent() {
        let line = request_log_line(
            "r-1",
            &worker::Method::Get,
            "/api/tenants/demo/orders/o-42",
            200,
            7,
        );
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["requestId"], "r-1");
        assert_eq!(v["tenant"], "demo");
        assert_eq!(v["method"], "GET");
        assert_eq!(v["route"], "/api/tenants/{tenantId}/orders/{orderId}");
        assert_eq!(
            (v["status"].as_u64(), v["ms"].as_i64()),
            (Some(200), Some(7))
        );
        assert!(!line.contains("o-42"));
        assert_eq!(v.as_object().map(|o| o.len()), Some(6));
    }

    #[test]
    fn cors_lets_browsers_send_every_documented_request_header() {
        let doc: Value = serde_json::from_str(routes::openapi::DOCUMENT).unwrap();
        let allowed: Vec<&str> = CORS_ALLOW_HEADERS.split(", ").collect();
        for (path, item) in doc["paths"].as_object().unwrap() {
            // Shopify calls the webhook server to server; a WebSocket upgrade is not CORS.
            if path == "/api/webhooks/shopify" {
                continue;
            }
            for op in item.as_object().unwrap().values() {
                for param in op["parameters"].as_array().into_iter().flatten() {
                    let name = param["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_ascii_lowercase();
                    if param["in"] == "header" && name != "upgrade" {
                        assert!(allowed.contains(&name.as_str()), "{path}: {name}");
                    }
                }
            }
        }
    }

    #[test]
    fn unknown_paths_and_malformed_shops_log_null() {
        let line = request_log_line("r-2", &worker::Method::Options, "/nope/secret", 404, 0);
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!((v["route"].is_null(), v["tenant"].is_null()), (true, true));
        assert!(!line.contains("secret"));
        let line = request_log_line(
            "r-3",
            &worker::Method::Get,
            "/api/tenants/Bad_Id/orders",
            404,
            0,
        );
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["route"], "/api/tenants/{tenantId}/orders");
        assert!(v["tenant"].is_null());
    }
}
