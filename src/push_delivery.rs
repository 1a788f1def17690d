//! Web Push delivery, the shell. The tenant's hub calls [`Pusher::after_publish`] once per
//! committed event, after the broadcast to live connections; it returns at once and the pushes
//! run on their own (a Durable Object stays alive while it has work in flight, so no
//! `waitUntil` is needed: <https://developers.cloudflare.com/durable-objects/api/state/#waituntil>).
//! A push therefore never delays the writer's answer nor the broadcast.
//!
//! For each event: who it may concern ([`push_rules::scope`]; most events concern nobody and
//! cost nothing), one D1 read of those subscriptions, the rules per subscription
//! ([`push_rules::reason`]), then per recipient: encrypt ([`push::encrypt`]), sign (a VAPID
//! token per push service, cached ~12 h in the hub instance), POST with `worker::Fetch`.
//! 404/410 delete the subscription; 429/5xx and network errors are retried (3 tries, in this
//! invocation); everything that does not arrive is logged.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::rc::Rc;
use std::time::Duration;

use js_sys::Uint8Array;
use worker::{Delay, Env, Fetch, Headers, Method, Request, RequestInit};

use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::events::Event;
use crate::push::{self, VapidKey};
use crate::push_rules::{
    self, classify, retry_delay_ms, stored_prefs, Answer, Pref, Scope, TokenCache, TTL_SECONDS,
};
use crate::small_map::SmallMap;

/// The VAPID signing key from the `VAPID_PRIVATE_KEY` secret (503 `push_not_configured` when
/// it is missing or unreadable; the cause is logged).
pub fn vapid_key(env: &Env) -> ApiResult<VapidKey> {
    let raw = setting(env, "VAPID_PRIVATE_KEY").ok_or_else(not_configured)?;
    VapidKey::from_base64url(&raw).map_err(|err| {
        worker::console_error!("push: VAPID_PRIVATE_KEY: {err}");
        not_configured()
    })
}

/// `PUSH_ALLOW_LOCALHOST=1`: subscriptions may name `http://127.0.0.1` (local tests only).
pub fn allow_localhost(env: &Env) -> bool {
    setting(env, "PUSH_ALLOW_LOCALHOST").as_deref() == Some("1")
}

fn not_configured() -> ApiError {
    ApiError::ServiceUnavailable {
        code: "push_not_configured",
        message: "push notifications are not configured on this server".into(),
    }
}

/// A secret, or a var of the same name (local dev and tests pass `--var`).
fn setting(env: &Env, name: &str) -> Option<String> {
    env.secret(name)
        .map(|s| s.to_string())
        .or_else(|_| env.var(name).map(|v| v.to_string()))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// What signs this deployment's pushes.
struct Signer {
    key: VapidKey,
    subject: String,
    /// Names key and subject for the token cache.
    id: String,
}

/// The hub's push state: the parsed key and the VAPID tokens, kept for the instance's life.
#[derive(Default)]
pub struct Pusher {
    inner: Rc<Inner>,
}

#[derive(Default)]
struct Inner {
    signer: RefCell<Option<(String, Rc<Signer>)>>,
    tokens: RefCell<TokenCache>,
    warned: Cell<bool>,
}

impl Pusher {
    /// Starts the pushes for one broadcast SSE `frame` of `tenant`; `connected` gives the users
    /// with a live connection to the hub now (they get none), asked only for an event that can
    /// be pushed.
    pub fn after_publish(
        &self,
        env: &Env,
        tenant: Option<&str>,
        frame: &str,
        connected: impl FnOnce() -> BTreeSet<String>,
    ) {
        let (Some(tenant), Some(event)) = (tenant, push_rules::event_of_frame(frame)) else {
            return;
        };
        // Only now, for an event that can concern someone: a set of every connected user is
        // thousands of strings in a busy hub, and most events (notes edited) stop above.
        let connected = connected();
        let Some(scope) = push_rules::scope(&event, &connected) else {
            return;
        };
        let (env, inner, tenant) = (env.clone(), self.inner.clone(), tenant.to_string());
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(err) = deliver(&env, &inner, &tenant, &event, &scope, &connected).await {
                worker::console_error!("push: event {} of {tenant}: {err}", event.id);
            }
        });
    }
}

impl Inner {
    /// The signer for the current secret and subject, parsed once; `None` (logged once per
    /// instance) when push is not configured.
    fn signer(&self, env: &Env) -> Option<Rc<Signer>> {
        let raw = setting(env, "VAPID_PRIVATE_KEY").unwrap_or_default();
        let subject = setting(env, "VAPID_SUBJECT").unwrap_or_default();
        let cache_key = format!("{raw}\n{subject}");
        if let Some((k, signer)) = self.signer.borrow().as_ref() {
            if *k == cache_key {
                return Some(signer.clone());
            }
        }
        let parsed = match (vapid_key(env), push_rules::valid_subject(&subject)) {
            (Ok(key), true) => key,
            (key, _) => {
                if !self.warned.replace(true) {
                    let why = match key {
                        Err(_) => "VAPID_PRIVATE_KEY is missing or invalid",
                        Ok(_) => "VAPID_SUBJECT must be a mailto: or https: contact",
                    };
                    worker::console_error!("push: not sending pushes: {why}");
                }
                return None;
            }
        };
        let signer = Rc::new(Signer {
            id: format!("{}|{subject}", parsed.public_key_b64url()),
            key: parsed,
            subject,
        });
        self.signer.replace(Some((cache_key, signer.clone())));
        Some(signer)
    }

    /// `Authorization: vapid t=…, k=…` for one push service, from the cache when still fresh.
    fn authorization(&self, signer: &Signer, aud: &str) -> Result<String, push::PushError> {
        let now = crate::http::now_millis() / 1000;
        if let Some(header) = self.tokens.borrow_mut().get(&signer.id, aud, now) {
            return Ok(header);
        }
        let exp = push_rules::jwt_exp(now);
        let header = signer.key.authorization_header(aud, &signer.subject, exp)?;
        self.tokens
            .borrow_mut()
            .put(&signer.id, aud, header.clone(), exp, now);
        Ok(header)
    }
}

/// One notification for one subscription.
struct Push {
    tenant: String,
    user: String,
    endpoint: String,
    p256dh: String,
    auth: String,
    payload: Rc<String>,
    topic: String,
    urgency: &'static str,
    event_id: String,
}

async fn deliver(
    env: &Env,
    inner: &Rc<Inner>,
    tenant: &str,
    event: &Event,
    scope: &Scope,
    connected: &BTreeSet<String>,
) -> ApiResult<()> {
    let Some(signer) = inner.signer(env) else {
        return Ok(());
    };
    let rows = db::push::candidates(&env.d1("DB")?, tenant, scope).await?;
    let mut payloads: SmallMap<Pref, Option<Rc<String>>> = SmallMap::default();
    for row in rows {
        let prefs = stored_prefs(&row.events);
        let Some(why) = push_rules::reason(event, &row.user_id, &prefs, connected) else {
            continue;
        };
        let payload = payloads
            .get_or_insert_with(why, || push_rules::payload(event, why).map(Rc::new))
            .clone();
        let Some(payload) = payload else {
            worker::console_error!("push: event {} has no payload that fits", event.id);
            continue;
        };
        let push = Push {
            tenant: tenant.to_string(),
            user: row.user_id,
            endpoint: row.endpoint,
            p256dh: row.p256dh,
            auth: row.auth,
            payload,
            topic: push_rules::topic(&event.order_id),
            urgency: push_rules::urgency(event),
            event_id: event.id.clone(),
        };
        let (env, inner, signer) = (env.clone(), inner.clone(), signer.clone());
        wasm_bindgen_futures::spawn_local(async move { send(&env, &inner, &signer, push).await });
    }
    Ok(())
}

/// Encrypts, signs and POSTs one push, retrying what may succeed later. Logs by push service
/// origin and user, never the endpoint (a capability URL).
async fn send(env: &Env, inner: &Inner, signer: &Signer, push: Push) {
    let Some(aud) = push::audience(&push.endpoint) else {
        return; // stored endpoints were checked; nothing to send to
    };
    let what = format!("push of event {} to {} at {aud}", push.event_id, push.user);
    let prepared = push::encrypt(push.payload.as_bytes(), &push.p256dh, &push.auth)
        .and_then(|body| Ok((body, inner.authorization(signer, &aud)?)));
    let (body, authorization) = match prepared {
        Ok(p) => p,
        Err(err) => {
            worker::console_error!("{what}: {err}");
            return;
        }
    };
    let mut attempts = 0;
    loop {
        attempts += 1;
        let retry_after = match post(&push, &authorization, &body).await {
            Ok((status, retry_after)) => match classify(status) {
                Answer::Delivered => return,
                Answer::Gone => {
                    worker::console_log!("{what}: {status}, subscription removed");
                    let removed = async {
                        let db = env.d1("DB")?;
                        db::push::delete_gone(&db, &push.tenant, &push.endpoint, &push.p256dh).await
                    }
                    .await;
                    if let Err(err) = removed {
                        worker::console_error!("{what}: removing the subscription: {err}");
                    }
                    return;
                }
                Answer::Failed => {
                    worker::console_error!("{what}: refused with {status}");
                    return;
                }
                Answer::Retry => {
                    worker::console_log!("{what}: {status} on try {attempts}");
                    retry_after
                }
            },
            Err(err) => {
                worker::console_log!("{what}: {err} on try {attempts}");
                None
            }
        };
        match retry_delay_ms(attempts, retry_after.as_deref()) {
            Some(ms) => Delay::from(Duration::from_millis(ms)).await,
            None => {
                worker::console_error!("{what}: given up after {attempts} tries");
                return;
            }
        }
    }
}

/// The push request (RFC 8030 §5, RFC 8291, RFC 8292): the status and any `Retry-After`.
async fn post(
    push: &Push,
    authorization: &str,
    body: &[u8],
) -> worker::Result<(u16, Option<String>)> {
    let headers = Headers::new();
    headers.set("ttl", &TTL_SECONDS.to_string())?;
    headers.set("urgency", push.urgency)?;
    headers.set("topic", &push.topic)?;
    headers.set("content-encoding", "aes128gcm")?;
    headers.set("content-type", "application/octet-stream")?;
    headers.set("authorization", authorization)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(Uint8Array::from(body).into()));
    let req = Request::new_with_init(&push.endpoint, &init)?;
    let mut resp = Fetch::Request(req).send().await?;
    let retry_after = resp.headers().get("retry-after").ok().flatten();
    // Read the (small) answer, so the connection is not left with an unread body.
    let _ = resp.bytes().await;
    Ok((resp.status_code(), retry_after))
}
