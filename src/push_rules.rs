//! Web Push notifications, the rules (pure, unit-tested natively); [`crate::push`] does the
//! cryptography and [`crate::push_delivery`] the I/O.
//!
//! - What `POST …/push/subscriptions` must hold ([`NewSubscription::parse`]): an `https` endpoint
//!   of at most [`MAX_ENDPOINT_LEN`] bytes (`http://127.0.0.1` only with `PUSH_ALLOW_LOCALHOST=1`),
//!   keys that are a P-256 point and 16 bytes, and the events the user wants ([`Pref`]).
//! - Who an event is for ([`scope`], [`reason`]): never its actor, never a user who has a live
//!   connection to the shop's hub at that moment (they see the change on screen already).
//! - What a push carries ([`payload`], at most [`crate::push::MAX_PAYLOAD`] bytes) and with which
//!   headers ([`topic`], [`urgency`], [`TTL_SECONDS`]).
//! - What a push service's answer means ([`classify`], [`retry_delay_ms`]) and how long a VAPID
//!   token is reused ([`TokenCache`]).

use std::collections::BTreeSet;

use crate::small_map::SmallMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};
use crate::events::{Event, EventType};
use crate::push::{self, MAX_PAYLOAD};

/// Longest accepted endpoint, in bytes. Real ones (FCM, Mozilla autopush, Apple, WNS) are under
/// 600; the bound keeps a row and a request line small.
pub const MAX_ENDPOINT_LEN: usize = 2048;
/// Subscriptions one user may hold in a shop (one per browser or device).
pub const MAX_SUBSCRIPTIONS_PER_USER: u32 = 10;
/// How long a push service keeps a push for an offline device: an hour-old notice about an
/// order is still worth showing, a day-old one is not.
pub const TTL_SECONDS: u32 = 3600;
/// Pushes sent for one event at most (one subrequest each, plus retries; a Worker invocation's
/// subrequests are limited: <https://developers.cloudflare.com/workers/platform/limits/>).
pub const MAX_RECIPIENTS_PER_EVENT: u32 = 100;
/// Tries per push, all in the same invocation.
pub const MAX_ATTEMPTS: u32 = 3;
/// A `Retry-After` longer than this is not waited for (the push is dropped and logged).
pub const MAX_RETRY_WAIT_MS: u64 = 5_000;
/// VAPID tokens are signed for 12 hours (push services refuse more than 24, RFC 8292 §2) and
/// reused until half an hour before they run out.
pub const JWT_LIFETIME_SECS: i64 = 12 * 3600;
pub const JWT_RENEW_BEFORE_SECS: i64 = 30 * 60;
/// Push services a hub keeps tokens for at once (a few in practice: FCM, Mozilla, Apple, WNS).
const MAX_CACHED_AUDIENCES: usize = 32;

const TITLE_CHARS: usize = 100;
const BODY_CHARS: usize = 300;

/// The events a subscriber can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pref {
    /// Any new order in the shop.
    OrderCreated,
    /// An order was assigned to me (by someone else).
    AssignedToMe,
    /// Someone else added a note to an order assigned to me.
    NoteOnMyOrder,
    /// Someone else changed the status of an order assigned to me.
    StatusOfMyOrder,
}

impl Pref {
    pub const ALL: [Pref; 4] = [
        Pref::OrderCreated,
        Pref::AssignedToMe,
        Pref::NoteOnMyOrder,
        Pref::StatusOfMyOrder,
    ];
    /// What a subscription without `events` gets.
    pub const DEFAULT: [Pref; 2] = [Pref::OrderCreated, Pref::AssignedToMe];

    pub fn as_str(self) -> &'static str {
        match self {
            Pref::OrderCreated => "order_created",
            Pref::AssignedToMe => "assigned_to_me",
            Pref::NoteOnMyOrder => "note_on_my_order",
            Pref::StatusOfMyOrder => "status_of_my_order",
        }
    }

    pub fn parse(raw: &str) -> Option<Pref> {
        Pref::ALL.into_iter().find(|p| p.as_str() == raw)
    }
}

/// The preferences as stored (`["order_created",…]`); anything unreadable counts as none.
pub fn stored_prefs(json: &str) -> Vec<Pref> {
    serde_json::from_str::<Vec<String>>(json)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| Pref::parse(p))
        .collect()
}

pub fn prefs_json(prefs: &[Pref]) -> String {
    serde_json::to_string(prefs).unwrap_or_else(|_| "[]".into())
}

/// A valid `POST …/push/subscriptions` body: `PushSubscription.toJSON()` plus `events`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubscription {
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
    /// Sorted, without duplicates, never empty.
    pub events: Vec<Pref>,
}

impl NewSubscription {
    /// `allow_localhost`: the `PUSH_ALLOW_LOCALHOST=1` dev flag (a test's own push receiver).
    pub fn parse(body: &Value, allow_localhost: bool) -> ApiResult<Self> {
        if !body.is_object() {
            return Err(ApiError::bad_request(
                "invalid_body",
                "send the browser's PushSubscription.toJSON(): {\"endpoint\",\"keys\":{\"p256dh\",\"auth\"}}",
            ));
        }
        let endpoint = match body.get("endpoint") {
            Some(Value::String(e)) => e.clone(),
            _ => {
                return Err(ApiError::bad_request(
                    "invalid_endpoint",
                    "endpoint must be the subscription's URL",
                ))
            }
        };
        check_endpoint(&endpoint, allow_localhost)?;
        let key = |name: &str| {
            body.get("keys")
                .and_then(|k| k.get(name))
                .and_then(Value::as_str)
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        let (p256dh, auth) = (key("p256dh"), key("auth"));
        push::validate_keys(&p256dh, &auth).map_err(|err| {
            let code = match err {
                push::PushError::InvalidAuth => "invalid_auth",
                _ => "invalid_p256dh",
            };
            ApiError::bad_request(code, err.to_string())
        })?;
        Ok(Self {
            endpoint,
            p256dh,
            auth,
            events: parse_events(body.get("events"))?,
        })
    }
}

/// An endpoint the Worker may POST to: `https`, a plain host, at most [`MAX_ENDPOINT_LEN`]
/// bytes; `http://127.0.0.1[:port]` too when `allow_localhost`.
pub fn check_endpoint(endpoint: &str, allow_localhost: bool) -> ApiResult<()> {
    let bad = |message: &str| Err(ApiError::bad_request("invalid_endpoint", message));
    if endpoint.len() > MAX_ENDPOINT_LEN {
        return bad("endpoint is longer than 2048 bytes");
    }
    if endpoint.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return bad("endpoint must not contain spaces or control characters");
    }
    let Some(origin) = push::audience(endpoint) else {
        return bad("endpoint must be an absolute https URL");
    };
    let local = origin == "http://127.0.0.1" || origin.starts_with("http://127.0.0.1:");
    if origin.starts_with("https://") || (allow_localhost && local) {
        Ok(())
    } else {
        bad("endpoint must be an https URL")
    }
}

fn parse_events(raw: Option<&Value>) -> ApiResult<Vec<Pref>> {
    let names = Pref::ALL.map(Pref::as_str).join(", ");
    let bad = || {
        ApiError::bad_request(
            "invalid_events",
            format!("events must be a non-empty list of: {names}"),
        )
    };
    let list = match raw {
        None | Some(Value::Null) => return Ok(Pref::DEFAULT.to_vec()),
        Some(Value::Array(list)) if !list.is_empty() && list.len() <= 16 => list,
        Some(_) => return Err(bad()),
    };
    let mut prefs = BTreeSet::new();
    for item in list {
        let pref = item.as_str().and_then(Pref::parse).ok_or_else(bad)?;
        prefs.insert(pref);
    }
    Ok(prefs.into_iter().collect())
}

/// Reads the event from the SSE frame the hub broadcasts, for the types a push can be about
/// (the others are skipped without parsing the JSON).
pub fn event_of_frame(frame: &str) -> Option<Event> {
    let kind = frame.lines().find_map(|l| l.strip_prefix("event: "))?;
    if !matches!(kind, "order_created" | "order_updated" | "note_added") {
        return None;
    }
    let data = frame.lines().find_map(|l| l.strip_prefix("data: "))?;
    if kind == "order_updated" {
        // Most updates are notes and the like, which concern no one's pushes (see `scope`): a
        // look at `changes` alone (the rest skipped, not built) decides before the full parse.
        #[derive(serde::Deserialize)]
        struct Changes {
            changes: Vec<String>,
        }
        let peek: Changes = serde_json::from_str(data).ok()?;
        if !peek
            .changes
            .iter()
            .any(|c| c == "assignedTo" || c == "status")
        {
            return None;
        }
    }
    serde_json::from_str(data).ok()
}

/// Whose subscriptions an event may concern, decided before any database read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every subscriber of the shop with `order_created` (and the new order's assignee).
    Shop { assignee: Option<String> },
    /// Only this user's subscriptions.
    User(String),
}

fn assignee(event: &Event) -> Option<&str> {
    event
        .order
        .as_ref()
        .and_then(|o| o.get("assignedTo"))
        .and_then(Value::as_str)
        .filter(|a| !a.is_empty())
}

fn changed(event: &Event, field: &str) -> bool {
    event.changes.iter().any(|c| c == field)
}

/// `None` = nobody can be concerned: no query, no push. `connected` = the users with a live
/// connection to the shop's hub right now.
pub fn scope(event: &Event, connected: &BTreeSet<String>) -> Option<Scope> {
    let assignee = assignee(event);
    let personal = match event.kind {
        EventType::OrderCreated => {
            return Some(Scope::Shop {
                assignee: assignee.map(str::to_string),
            })
        }
        EventType::OrderUpdated => changed(event, "assignedTo") || changed(event, "status"),
        EventType::NoteAdded => true,
        _ => false,
    };
    let user =
        assignee.filter(|u| personal && *u != event.updated_by && !connected.contains(*u))?;
    Some(Scope::User(user.to_string()))
}

/// Why `user` (with these preferences) gets a push for `event`, or `None`. One push per
/// subscriber and event: when several reasons hold, the first in this order wins:
/// assigned to me, status of my order, new order.
///
/// - `order_created`: subscribers with `order_created`; the assignee of an order created
///   already assigned gets it as `assigned_to_me` if they asked for that.
/// - `assigned_to_me`: `order_updated` whose `changes` include `assignedTo`, to the new assignee.
/// - `status_of_my_order`: `order_updated` whose `changes` include `status`, to the assignee.
/// - `note_on_my_order`: `note_added` on an order assigned to the user.
///
/// Never to the actor (`updatedBy`: the note's author for a note), never to a connected user.
pub fn reason(
    event: &Event,
    user: &str,
    prefs: &[Pref],
    connected: &BTreeSet<String>,
) -> Option<Pref> {
    if user == event.updated_by || connected.contains(user) {
        return None;
    }
    let mine = assignee(event) == Some(user);
    let wants = |p: Pref| prefs.contains(&p);
    let candidates: &[(bool, Pref)] = match event.kind {
        EventType::OrderCreated => &[(mine, Pref::AssignedToMe), (true, Pref::OrderCreated)],
        EventType::OrderUpdated => &[
            (mine && changed(event, "assignedTo"), Pref::AssignedToMe),
            (mine && changed(event, "status"), Pref::StatusOfMyOrder),
        ],
        EventType::NoteAdded => {
            let author = event
                .data
                .get("note")
                .and_then(|n| n.get("author"))
                .and_then(Value::as_str);
            if author == Some(user) {
                return None;
            }
            &[(mine, Pref::NoteOnMyOrder)]
        }
        _ => &[],
    };
    candidates
        .iter()
        .find(|(holds, pref)| *holds && wants(*pref))
        .map(|(_, pref)| *pref)
}

/// The notification a push carries: `{"title","body","orderId","eventId","url"}`, at most
/// [`MAX_PAYLOAD`] bytes (long customer names and notes are cut, with `…`). `None` only for an
/// order id too long to fit, which the Worker never issues (ids are UUIDs).
pub fn payload(event: &Event, reason: Pref) -> Option<String> {
    let order = event.order.as_ref();
    let field = |name: &str| {
        order
            .and_then(|o| o.get(name))
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let number = field("orderNumber").trim();
    let (order_name, an_order) = match number {
        "" => ("An order".to_string(), "an order".to_string()),
        n => (format!("Order {n}"), n.to_string()),
    };
    let summary = order_summary(order);
    let by = |text: String| match text.as_str() {
        "" => format!("by {}", event.updated_by),
        _ => format!("{text} (by {})", event.updated_by),
    };
    let (title, body) = match reason {
        Pref::OrderCreated => (format!("New order {number}").trim().to_string(), summary),
        Pref::AssignedToMe => (format!("{order_name} is assigned to you"), by(summary)),
        Pref::StatusOfMyOrder => (
            format!(
                "{order_name} is now {}",
                field("status").replace('_', " ").trim()
            ),
            by(summary),
        ),
        Pref::NoteOnMyOrder => {
            let text = event
                .data
                .get("note")
                .and_then(|n| n.get("text"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            (
                format!("New note on {an_order}"),
                format!("{}: {text}", event.updated_by),
            )
        }
    };
    let url = format!("/?order={}", percent_encode(&event.order_id));
    let build = |title_chars: usize, body_chars: usize| {
        json!({
            "title": clip(&title, title_chars),
            "body": clip(&body, body_chars),
            "orderId": event.order_id,
            "eventId": event.id,
            "url": url,
        })
        .to_string()
    };
    // Worst case a character takes 6 bytes of JSON (`\u001f`), so halving converges fast.
    let (mut title_chars, mut body_chars) = (TITLE_CHARS, BODY_CHARS);
    loop {
        let text = build(title_chars, body_chars);
        if text.len() <= MAX_PAYLOAD {
            return Some(text);
        }
        if title_chars == 0 && body_chars == 0 {
            return None;
        }
        title_chars /= 2;
        body_chars /= 2;
    }
}

/// "Emma Clarke · 1× Pink roses, 2× Card · deliver 2026-11-26".
fn order_summary(order: Option<&Value>) -> String {
    let Some(order) = order else {
        return String::new();
    };
    let mut parts = Vec::new();
    if let Some(name) = order.get("customerName").and_then(Value::as_str) {
        parts.push(name.to_string());
    }
    let items: Vec<String> = order
        .get("items")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .take(5)
                .map(|i| {
                    format!(
                        "{}× {}",
                        i.get("quantity").and_then(Value::as_u64).unwrap_or(1),
                        i.get("title").and_then(Value::as_str).unwrap_or("item")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    if !items.is_empty() {
        parts.push(items.join(", "));
    }
    if let Some(date) = order.get("deliveryDate").and_then(Value::as_str) {
        parts.push(format!("deliver {date}"));
    }
    parts.join(" · ")
}

/// At most `max` characters; a cut text ends in `…`.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    if max > 0 {
        cut.push('…');
    }
    cut
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The `Topic` header: a push service keeps only the newest undelivered push with the same
/// topic per subscription, so an offline phone gets one notice per order, not ten. A topic is
/// at most 32 characters of the URL-safe base64 alphabet (RFC 8030 §5.4) and an order id (a
/// UUID) is 36, so it is `order-` and the first 16 bytes of SHA-256(order id), base64url
/// (28 characters).
pub fn topic(order_id: &str) -> String {
    let digest = Sha256::digest(order_id.as_bytes());
    format!("order-{}", URL_SAFE_NO_PAD.encode(&digest[..16]))
}

/// The `Urgency` header (RFC 8030 §5.3): a new order wakes a phone at once; the rest may wait
/// for the device's next wake-up.
pub fn urgency(event: &Event) -> &'static str {
    if event.kind == EventType::OrderCreated {
        "high"
    } else {
        "normal"
    }
}

/// What a push service's answer means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// 2xx: accepted.
    Delivered,
    /// 404/410: the subscription expired or was revoked; delete it (RFC 8030 §7.3).
    Gone,
    /// 429 or 5xx: try again later.
    Retry,
    /// Anything else (400, 401/403 = a VAPID key mismatch, 413): not retried, logged.
    Failed,
}

pub fn classify(status: u16) -> Answer {
    match status {
        200..=299 => Answer::Delivered,
        404 | 410 => Answer::Gone,
        429 | 500..=599 => Answer::Retry,
        _ => Answer::Failed,
    }
}

/// How long to wait before try `attempts + 1`, after `attempts` tries failed with a retryable
/// answer (or a network error); `None` = give up. 0.5 s, then 1 s, or the push service's
/// `Retry-After` (seconds) when longer, up to [`MAX_RETRY_WAIT_MS`].
pub fn retry_delay_ms(attempts: u32, retry_after: Option<&str>) -> Option<u64> {
    if attempts == 0 || attempts >= MAX_ATTEMPTS {
        return None;
    }
    let backoff = 500u64 << (attempts - 1).min(8);
    let asked = retry_after
        .and_then(|r| r.trim().parse::<u64>().ok())
        .map(|s| s.saturating_mul(1000));
    match asked {
        Some(ms) if ms > MAX_RETRY_WAIT_MS => None,
        Some(ms) => Some(ms.max(backoff)),
        None => Some(backoff),
    }
}

/// VAPID `Authorization` headers by push service (audience), reused while they have more than
/// [`JWT_RENEW_BEFORE_SECS`] to live, so a busy shop signs about once per push service every
/// 12 hours instead of once per push. Tied to the key and subject that signed them.
#[derive(Debug, Default)]
pub struct TokenCache {
    signer: String,
    entries: SmallMap<String, (String, i64)>,
}

impl TokenCache {
    /// `signer` names the key and subject (e.g. public key + subject): a change empties the cache.
    pub fn get(&mut self, signer: &str, aud: &str, now_secs: i64) -> Option<String> {
        if self.signer != signer {
            self.signer = signer.to_string();
            self.entries.clear();
            return None;
        }
        self.entries
            .get(aud)
            .filter(|(_, exp)| exp - now_secs > JWT_RENEW_BEFORE_SECS)
            .map(|(header, _)| header.clone())
    }

    pub fn put(&mut self, signer: &str, aud: &str, header: String, exp: i64, now_secs: i64) {
        if self.signer != signer {
            self.signer = signer.to_string();
            self.entries.clear();
        }
        self.entries
            .retain(|_, (_, e)| *e - now_secs > JWT_RENEW_BEFORE_SECS);
        if self.entries.len() >= MAX_CACHED_AUDIENCES && !self.entries.contains_key(aud) {
            // The one closest to expiry goes.
            if let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, (_, e))| *e)
                .map(|(k, _)| k.clone())
            {
                self.entries.remove(&oldest);
            }
        }
        self.entries.insert(aud.to_string(), (header, exp));
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The `exp` claim of a token signed at `now_secs`.
pub fn jwt_exp(now_secs: i64) -> i64 {
    now_secs + JWT_LIFETIME_SECS
}

/// `VAPID_SUBJECT` must be a `mailto:` or `https:` contact (RFC 8292 §2.1); push services
/// (Apple's in particular) refuse tokens without a usable one.
pub fn valid_subject(subject: &str) -> bool {
    let s = subject.trim();
    (s.starts_with("mailto:") && s.len() > "mailto:".len() && s.contains('@'))
        || (s.starts_with("https://") && s.len() > "https://".len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::sse_frame;

    const P256DH: &str =
        "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
    const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";
    const ENDPOINT: &str = "https://fcm.googleapis.com/fcm/send/abc:def";

    fn body(endpoint: &str, p256dh: &str, auth: &str) -> Value {
        json!({"endpoint": endpoint, "expirationTime": null,
               "keys": {"p256dh": p256dh, "auth": auth}})
    }

    fn code(err: ApiError) -> (u16, String) {
        (
            err.status(),
            err.body()["error"]["code"].as_str().unwrap().to_string(),
        )
    }

    fn event(kind: EventType, actor: &str, changes: &[&str], assignee: Option<&str>) -> Event {
        Event {
            id: "42".into(),
            kind,
            tenant_id: "demo".into(),
            order_id: "3b0c1d2e-0000-4000-8000-000000000001".into(),
            timestamp: "2026-11-24T10:00:00.000Z".into(),
            updated_by: actor.into(),
            changes: changes.iter().map(|c| c.to_string()).collect(),
            order: Some(json!({
                "id": "3b0c1d2e-0000-4000-8000-000000000001", "orderNumber": "#1001",
                "customerName": "Emma Clarke", "status": "out_for_delivery",
                "items": [{"title": "Pink roses", "quantity": 12}],
                "deliveryDate": "2026-11-26", "assignedTo": assignee,
            })),
            data: serde_json::Map::new(),
        }
    }

    fn note_event(author: &str, assignee: Option<&str>, text: &str) -> Event {
        let mut e = event(EventType::NoteAdded, author, &[], assignee);
        e.data.insert(
            "note".into(),
            json!({"id": "n1", "orderId": e.order_id, "text": text, "author": author}),
        );
        e
    }

    fn none() -> BTreeSet<String> {
        BTreeSet::new()
    }

    fn set(users: &[&str]) -> BTreeSet<String> {
        users.iter().map(|u| u.to_string()).collect()
    }

    #[test]
    fn a_browser_subscription_parses_with_the_default_events() {
        let sub = NewSubscription::parse(&body(ENDPOINT, P256DH, AUTH), false).unwrap();
        assert_eq!(sub.endpoint, ENDPOINT);
        assert_eq!((sub.p256dh.as_str(), sub.auth.as_str()), (P256DH, AUTH));
        assert_eq!(sub.events, vec![Pref::OrderCreated, Pref::AssignedToMe]);
    }

    #[test]
    fn events_are_validated_deduplicated_and_sorted() {
        let mut b = body(ENDPOINT, P256DH, AUTH);
        b["events"] = json!([
            "status_of_my_order",
            "note_on_my_order",
            "status_of_my_order"
        ]);
        let sub = NewSubscription::parse(&b, false).unwrap();
        assert_eq!(sub.events, vec![Pref::NoteOnMyOrder, Pref::StatusOfMyOrder]);
        for bad in [
            json!([]),
            json!(["order_deleted"]),
            json!("order_created"),
            json!([1]),
        ] {
            b["events"] = bad.clone();
            let err = NewSubscription::parse(&b, false).unwrap_err();
            assert_eq!(code(err), (400, "invalid_events".into()), "{bad}");
        }
        assert_eq!(stored_prefs(&prefs_json(&Pref::ALL)), Pref::ALL.to_vec());
        assert_eq!(stored_prefs("not json"), vec![]);
        assert_eq!(
            stored_prefs(r#"["assigned_to_me","gone"]"#),
            vec![Pref::AssignedToMe]
        );
    }

    #[test]
    fn endpoints_must_be_https_unless_the_localhost_flag_is_set() {
        let local = "http://127.0.0.1:9999/push/a";
        for (endpoint, flag, ok) in [
            (ENDPOINT, false, true),
            (
                "https://updates.push.services.mozilla.com/wpush/v2/gAAA",
                false,
                true,
            ),
            (local, false, false),
            (local, true, true),
            ("http://127.0.0.1/push", true, true),
            ("http://localhost:9999/push", true, false),
            ("http://127.0.0.2:9999/push", true, false),
            ("http://127.0.0.1.evil.example/push", true, false),
            ("http://fcm.googleapis.com/fcm/send/x", true, false),
            ("ftp://push.example/x", true, false),
            ("fcm.googleapis.com/fcm/send/x", false, false),
            ("https://user:pw@push.example/x", false, false),
            ("https://push.example/a b", false, false),
            ("https://push.example/a\nb", false, false),
            ("", false, false),
        ] {
            let result = NewSubscription::parse(&body(endpoint, P256DH, AUTH), flag);
            match result {
                Ok(_) => assert!(ok, "{endpoint} (flag {flag}) should be refused"),
                Err(err) => {
                    assert!(!ok, "{endpoint} (flag {flag}) should be accepted");
                    assert_eq!(code(err), (400, "invalid_endpoint".into()));
                }
            }
        }
    }

    #[test]
    fn an_endpoint_over_2_kb_is_refused() {
        let at_limit = format!("https://push.example/{}", "a".repeat(2048 - 21));
        assert_eq!(at_limit.len(), MAX_ENDPOINT_LEN);
        assert!(NewSubscription::parse(&body(&at_limit, P256DH, AUTH), false).is_ok());
        let over = format!("{at_limit}a");
        let err = NewSubscription::parse(&body(&over, P256DH, AUTH), false).unwrap_err();
        assert_eq!(code(err), (400, "invalid_endpoint".into()));
    }

    #[test]
    fn bad_keys_are_400_naming_the_key() {
        let short = URL_SAFE_NO_PAD.encode([4u8; 64]);
        for (p256dh, auth, expected) in [
            (short.as_str(), AUTH, "invalid_p256dh"),
            ("", AUTH, "invalid_p256dh"),
            (P256DH, "AAAA", "invalid_auth"),
            (P256DH, "", "invalid_auth"),
        ] {
            let err = NewSubscription::parse(&body(ENDPOINT, p256dh, auth), false).unwrap_err();
            assert_eq!(code(err), (400, expected.to_string()), "{p256dh} {auth}");
        }
        let err = NewSubscription::parse(&json!({"endpoint": ENDPOINT}), false).unwrap_err();
        assert_eq!(code(err), (400, "invalid_p256dh".into()));
        let err = NewSubscription::parse(&json!([1]), false).unwrap_err();
        assert_eq!(code(err), (400, "invalid_body".into()));
        let err = NewSubscription::parse(&json!({"endpoint": 7}), false).unwrap_err();
        assert_eq!(code(err), (400, "invalid_endpoint".into()));
    }

    #[test]
    fn a_new_order_goes_to_order_created_subscribers_but_not_its_creator() {
        let e = event(EventType::OrderCreated, "florist-a", &[], None);
        let all = &Pref::ALL[..];
        assert_eq!(
            reason(&e, "florist-b", all, &none()),
            Some(Pref::OrderCreated)
        );
        assert_eq!(
            reason(&e, "florist-b", &[Pref::AssignedToMe], &none()),
            None
        );
        assert_eq!(reason(&e, "florist-a", all, &none()), None, "the actor");
        assert_eq!(
            reason(&e, "florist-b", all, &set(&["florist-b"])),
            None,
            "connected"
        );
        assert_eq!(scope(&e, &none()), Some(Scope::Shop { assignee: None }));
    }

    #[test]
    fn an_order_created_assigned_reaches_its_assignee_as_assigned_to_me() {
        let e = event(EventType::OrderCreated, "manager-1", &[], Some("florist-b"));
        assert_eq!(
            reason(&e, "florist-b", &[Pref::AssignedToMe], &none()),
            Some(Pref::AssignedToMe)
        );
        assert_eq!(
            reason(&e, "florist-b", &[Pref::OrderCreated], &none()),
            Some(Pref::OrderCreated)
        );
        assert_eq!(
            reason(&e, "florist-c", &[Pref::AssignedToMe], &none()),
            None
        );
    }

    #[test]
    fn an_assignment_goes_to_the_new_assignee_only() {
        let e = event(
            EventType::OrderUpdated,
            "manager-1",
            &["assignedTo"],
            Some("florist-b"),
        );
        let prefs = &Pref::DEFAULT[..];
        assert_eq!(
            reason(&e, "florist-b", prefs, &none()),
            Some(Pref::AssignedToMe)
        );
        assert_eq!(reason(&e, "florist-c", prefs, &none()), None);
        assert_eq!(
            reason(&e, "florist-b", &[Pref::OrderCreated], &none()),
            None
        );
        assert_eq!(scope(&e, &none()), Some(Scope::User("florist-b".into())));
        // Assigning it to yourself, or while you are on the board: nothing.
        let own = event(
            EventType::OrderUpdated,
            "florist-b",
            &["assignedTo"],
            Some("florist-b"),
        );
        assert_eq!(reason(&own, "florist-b", prefs, &none()), None);
        assert_eq!(scope(&own, &none()), None);
        assert_eq!(scope(&e, &set(&["florist-b"])), None);
        // Unassigning concerns nobody.
        let unassigned = event(EventType::OrderUpdated, "manager-1", &["assignedTo"], None);
        assert_eq!(scope(&unassigned, &none()), None);
    }

    #[test]
    fn a_status_change_goes_to_the_assignee_who_asked_for_it() {
        let e = event(
            EventType::OrderUpdated,
            "manager-1",
            &["status"],
            Some("florist-b"),
        );
        assert_eq!(reason(&e, "florist-b", &Pref::DEFAULT, &none()), None);
        assert_eq!(
            reason(&e, "florist-b", &[Pref::StatusOfMyOrder], &none()),
            Some(Pref::StatusOfMyOrder)
        );
        // Both changed: the assignment wins, once.
        let both = event(
            EventType::OrderUpdated,
            "manager-1",
            &["status", "assignedTo"],
            Some("florist-b"),
        );
        assert_eq!(
            reason(&both, "florist-b", &Pref::ALL, &none()),
            Some(Pref::AssignedToMe)
        );
        assert_eq!(
            reason(&both, "florist-b", &[Pref::StatusOfMyOrder], &none()),
            Some(Pref::StatusOfMyOrder)
        );
        // A notes-only edit concerns nobody.
        let notes = event(
            EventType::OrderUpdated,
            "manager-1",
            &["notes"],
            Some("florist-b"),
        );
        assert_eq!(scope(&notes, &none()), None);
        assert_eq!(reason(&notes, "florist-b", &Pref::ALL, &none()), None);
    }

    #[test]
    fn a_note_goes_to_the_assignee_unless_they_wrote_it() {
        let e = note_event("florist-c", Some("florist-b"), "Customer called");
        let prefs = &[Pref::NoteOnMyOrder][..];
        assert_eq!(
            reason(&e, "florist-b", prefs, &none()),
            Some(Pref::NoteOnMyOrder)
        );
        assert_eq!(reason(&e, "florist-b", &Pref::DEFAULT, &none()), None);
        assert_eq!(reason(&e, "florist-c", prefs, &none()), None);
        assert_eq!(scope(&e, &none()), Some(Scope::User("florist-b".into())));
        let own = note_event("florist-b", Some("florist-b"), "for myself");
        assert_eq!(reason(&own, "florist-b", prefs, &none()), None);
        assert_eq!(scope(&own, &none()), None);
        let unassigned = note_event("florist-c", None, "x");
        assert_eq!(scope(&unassigned, &none()), None);
    }

    #[test]
    fn lock_and_delete_events_push_nothing() {
        for kind in [
            EventType::OrderLocked,
            EventType::OrderUnlocked,
            EventType::OrderDeleted,
        ] {
            let e = event(kind, "manager-1", &["assignedTo"], Some("florist-b"));
            assert_eq!(scope(&e, &none()), None);
            assert_eq!(reason(&e, "florist-b", &Pref::ALL, &none()), None);
            assert_eq!(event_of_frame(&sse_frame(&e)), None);
        }
    }

    #[test]
    fn the_event_is_read_back_from_its_sse_frame() {
        let e = note_event("florist-c", Some("florist-b"), "line one\nline \"two\"");
        assert_eq!(event_of_frame(&sse_frame(&e)), Some(e));
        assert_eq!(
            event_of_frame("event: order_created\ndata: {oops\n\n"),
            None
        );
        assert_eq!(event_of_frame(": heartbeat\n\n"), None);
    }

    #[test]
    fn an_update_that_changes_neither_assignee_nor_status_is_not_read_past_its_changes() {
        let notes = event(
            EventType::OrderUpdated,
            "florist-c",
            &["notes"],
            Some("florist-b"),
        );
        assert_eq!(scope(&notes, &none()), None);
        assert_eq!(event_of_frame(&sse_frame(&notes)), None);
        for changed in [&["notes", "status"][..], &["assignedTo"]] {
            let e = event(
                EventType::OrderUpdated,
                "florist-c",
                changed,
                Some("florist-b"),
            );
            assert_eq!(event_of_frame(&sse_frame(&e)), Some(e));
        }
    }

    fn parse(payload: &str) -> Value {
        serde_json::from_str(payload).unwrap()
    }

    #[test]
    fn payloads_name_the_order_and_link_to_it() {
        let e = event(EventType::OrderCreated, "shopify", &[], None);
        let p = parse(&payload(&e, Pref::OrderCreated).unwrap());
        assert_eq!(p["title"], "New order #1001");
        assert_eq!(
            p["body"],
            "Emma Clarke · 12× Pink roses · deliver 2026-11-26"
        );
        assert_eq!(p["orderId"], e.order_id.as_str());
        assert_eq!(p["eventId"], "42");
        assert_eq!(p["url"], format!("/?order={}", e.order_id));
        assert_eq!(p.as_object().unwrap().len(), 5);

        let e = event(
            EventType::OrderUpdated,
            "manager-1",
            &["assignedTo"],
            Some("f"),
        );
        let p = parse(&payload(&e, Pref::AssignedToMe).unwrap());
        assert_eq!(p["title"], "Order #1001 is assigned to you");
        assert!(p["body"].as_str().unwrap().ends_with("(by manager-1)"));
        let p = parse(&payload(&e, Pref::StatusOfMyOrder).unwrap());
        assert_eq!(p["title"], "Order #1001 is now out for delivery");
        let n = note_event("florist-c", Some("f"), "Pink, not red");
        let p = parse(&payload(&n, Pref::NoteOnMyOrder).unwrap());
        assert_eq!(p["title"], "New note on #1001");
        assert_eq!(p["body"], "florist-c: Pink, not red");
    }

    #[test]
    fn payloads_stay_within_3_kb_whatever_the_order_holds() {
        let nasty = "\u{1}\"\\🌹é".repeat(2_000);
        let mut e = note_event("florist-c", Some("f"), &nasty);
        e.order = Some(json!({
            "orderNumber": nasty, "customerName": nasty, "status": nasty,
            "items": (0..100).map(|_| json!({"title": nasty, "quantity": 3})).collect::<Vec<_>>(),
            "assignedTo": "f",
        }));
        e.updated_by = nasty.clone();
        for pref in Pref::ALL {
            let text = payload(&e, pref).unwrap();
            assert!(text.len() <= MAX_PAYLOAD, "{pref:?}: {} bytes", text.len());
            let p = parse(&text);
            assert!(p["title"].as_str().unwrap().ends_with('…'));
            assert_eq!(p["orderId"], e.order_id.as_str());
        }
        // An id no Worker issues, too long for any payload: no push rather than a broken one.
        e.order_id = "x".repeat(4_000);
        assert_eq!(payload(&e, Pref::NoteOnMyOrder), None);
    }

    #[test]
    fn payloads_without_an_order_number_still_read_well() {
        let mut e = event(EventType::OrderCreated, "shopify", &[], None);
        e.order = None;
        let p = parse(&payload(&e, Pref::OrderCreated).unwrap());
        assert_eq!(p["title"], "New order");
        assert_eq!(p["body"], "");
        let p = parse(&payload(&e, Pref::AssignedToMe).unwrap());
        assert_eq!(p["title"], "An order is assigned to you");
        assert_eq!(p["body"], "by shopify");
        e.order_id = "a b/c".into();
        let p = parse(&payload(&e, Pref::OrderCreated).unwrap());
        assert_eq!(p["url"], "/?order=a%20b%2Fc");
    }

    #[test]
    fn the_topic_is_at_most_32_url_safe_characters_and_stable_per_order() {
        let t = topic("3b0c1d2e-0000-4000-8000-000000000001");
        assert_eq!(t.len(), 28);
        assert!(t.len() <= 32);
        assert!(t
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert!(t.starts_with("order-"));
        assert_eq!(t, topic("3b0c1d2e-0000-4000-8000-000000000001"));
        assert_ne!(t, topic("3b0c1d2e-0000-4000-8000-000000000002"));
    }

    #[test]
    fn new_orders_are_urgent_and_the_rest_normal() {
        assert_eq!(
            urgency(&event(EventType::OrderCreated, "a", &[], None)),
            "high"
        );
        assert_eq!(
            urgency(&event(EventType::OrderUpdated, "a", &[], None)),
            "normal"
        );
        assert_eq!(urgency(&note_event("a", None, "x")), "normal");
    }

    #[test]
    fn push_service_answers_delete_retry_or_give_up() {
        assert_eq!(classify(201), Answer::Delivered);
        assert_eq!(classify(200), Answer::Delivered);
        assert_eq!(classify(410), Answer::Gone);
        assert_eq!(classify(404), Answer::Gone);
        assert_eq!(classify(429), Answer::Retry);
        assert_eq!(classify(503), Answer::Retry);
        assert_eq!(classify(400), Answer::Failed);
        assert_eq!(classify(403), Answer::Failed);
        assert_eq!(classify(413), Answer::Failed);
    }

    #[test]
    fn retries_are_bounded_and_honour_a_short_retry_after() {
        assert_eq!(retry_delay_ms(1, None), Some(500));
        assert_eq!(retry_delay_ms(2, None), Some(1000));
        assert_eq!(retry_delay_ms(3, None), None, "three tries in all");
        assert_eq!(retry_delay_ms(0, None), None);
        assert_eq!(retry_delay_ms(1, Some("2")), Some(2000));
        assert_eq!(retry_delay_ms(2, Some("0")), Some(1000));
        assert_eq!(retry_delay_ms(1, Some("60")), None, "longer than we wait");
        assert_eq!(
            retry_delay_ms(1, Some("Wed, 21 Oct 2026 07:28:00 GMT")),
            Some(500)
        );
    }

    #[test]
    fn vapid_tokens_are_reused_per_audience_until_near_expiry() {
        let mut cache = TokenCache::default();
        let now = 1_800_000_000;
        let aud = "https://fcm.googleapis.com";
        assert_eq!(cache.get("key-1", aud, now), None);
        cache.put("key-1", aud, "vapid t=a".into(), jwt_exp(now), now);
        assert_eq!(
            cache.get("key-1", aud, now + 3600).as_deref(),
            Some("vapid t=a")
        );
        assert_eq!(cache.get("key-1", "https://other.example", now), None);
        let renew_at = jwt_exp(now) - JWT_RENEW_BEFORE_SECS;
        assert_eq!(
            cache.get("key-1", aud, renew_at - 1).as_deref(),
            Some("vapid t=a")
        );
        assert_eq!(cache.get("key-1", aud, renew_at), None);
        // Another key or subject: nothing signed by the old one is used.
        assert_eq!(cache.get("key-2", aud, now), None);
        assert!(cache.is_empty());
        assert!(jwt_exp(now) - now <= 24 * 3600);
    }

    #[test]
    fn the_token_cache_stays_bounded() {
        let mut cache = TokenCache::default();
        let now = 1_800_000_000;
        for i in 0..100 {
            let aud = format!("https://push{i}.example");
            cache.put("k", &aud, format!("t{i}"), jwt_exp(now) + i, now);
        }
        assert_eq!(cache.len(), MAX_CACHED_AUDIENCES);
        assert_eq!(
            cache.get("k", "https://push99.example", now).as_deref(),
            Some("t99")
        );
        assert_eq!(cache.get("k", "https://push0.example", now), None);
    }

    #[test]
    fn the_subject_is_a_mailto_or_https_contact() {
        assert!(valid_subject("mailto:ops@florist.example"));
        assert!(valid_subject("https://florist.example/contact"));
        assert!(!valid_subject("mailto:"));
        assert!(!valid_subject("ops@florist.example"));
        assert!(!valid_subject("http://florist.example"));
        assert!(!valid_subject(""));
    }
}
