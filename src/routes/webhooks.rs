//! `POST /api/webhooks/shopify`: verified, deduplicated, stale-safe order intake. The pure
//! parts (HMAC, mapping, the update decision) are in [`crate::shopify`]; this is the shell.
//!
//! Answers, chosen for Shopify's delivery rules (it retries any non-2xx for up to 48 hours,
//! then may remove the subscription):
//! - no signature → 401 before the body is read; a bad signature → 401; nothing stored.
//! - unknown shop (`X-Shopify-Shop-Domain` matches no tenant) → 200 `parked`: the delivery is
//!   kept 7 days and replayed when that shop's tenant is created (a 404 would make Shopify give
//!   up on a shop that is being onboarded).
//! - a repeated delivery (same shop and `X-Shopify-Event-Id`, else `X-Shopify-Webhook-Id`) →
//!   200 `duplicate`, no change, no event.
//! - a Shopify order deleted here (by Shopify or a manager) → 200 `deleted_earlier` for every
//!   later delivery about it: nothing comes back.
//! - `orders/create` never overwrites an order that exists → 200 `unchanged`.
//! - a payload older than the stored one, or of the same instant without a later
//!   `X-Shopify-Triggered-At` → 200 `stale`.
//! - a cancellation of a delivered order is refused and logged in the activity log.
//! - other topics → 200 `ignored` (logged).

use serde_json::{json, Value};
use worker::Response;

use crate::app::App;
use crate::db::{changes::ShopifyWrite, OrderWrite};
use crate::domain::{normalize_timestamp, Item, Order, OrderStatus, TenantId};
use crate::error::{ApiError, ApiResult};
use crate::http::{header, json_response, read_body, Request};
use crate::shopify::{self, ShopifyOrder, StoredShopifyFields, Topic, UpdateDecision};
use crate::{commit, db};

/// Who Shopify's changes are attributed to in events.
const SHOPIFY_USER: &str = "shopify";
/// Re-reads after losing a race with another delivery for the same Shopify order (florists'
/// concurrent writes never make a webhook retry).
const MAX_ATTEMPTS: usize = 8;
/// Parked deliveries replayed when a shop's tenant is created (the rest wait for the next).
const REPLAY_LIMIT: u32 = 200;

/// One delivery, as the shell needs it.
struct Delivery {
    tenant: TenantId,
    /// What makes two deliveries the same: the shop and Shopify's event id (else webhook id).
    dedupe_key: String,
    topic: Topic,
    /// `X-Shopify-Triggered-At`, normalized.
    triggered_at: Option<String>,
}

/// A change made by Shopify.
fn shopify_write<'a>(d: &'a Delivery, now: &'a str) -> OrderWrite<'a> {
    OrderWrite {
        tenant: d.tenant.as_str(),
        user: SHOPIFY_USER,
        source: "shopify",
        now,
    }
}

/// `{"field":{"from","to"}}` of the changed fields, for the activity log.
fn from_to(before: &Order, after: &Order, changes: &[&str]) -> ApiResult<Value> {
    let (before, after) = (serde_json::to_value(before)?, serde_json::to_value(after)?);
    Ok(Value::Object(
        changes
            .iter()
            .map(|f| {
                let pair = json!({ "from": before.get(*f), "to": after.get(*f) });
                (f.to_string(), pair)
            })
            .collect(),
    ))
}

fn required_header(req: &Request, name: &str) -> ApiResult<String> {
    header(req, name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::bad_request("missing_header", format!("{name} is required")))
}

fn malformed(err: shopify::MapError) -> ApiError {
    ApiError::bad_request("invalid_payload", err.to_string())
}

fn dedupe_key(domain: &str, event_id: Option<&str>, webhook_id: &str) -> String {
    match event_id {
        Some(e) => format!("{domain}:event:{e}"),
        None => format!("{domain}:webhook:{webhook_id}"),
    }
}

/// POST /api/webhooks/shopify
pub async fn shopify(req: &mut Request, app: &App) -> ApiResult<Response> {
    // An unsigned request is refused before its body is read.
    let signature = header(req, "x-shopify-hmac-sha256")
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ApiError::Unauthorized("X-Shopify-Hmac-Sha256 is required".into()))?;
    let secret = app.secret("SHOPIFY_WEBHOOK_SECRET")?;
    let body = read_body(req).await?;
    if !shopify::verify_hmac(secret.as_bytes(), &body, Some(&signature)) {
        return Err(ApiError::Unauthorized(
            "X-Shopify-Hmac-Sha256 does not match the body".into(),
        ));
    }
    let topic = Topic::parse(&required_header(req, "x-shopify-topic")?);
    let domain = required_header(req, "x-shopify-shop-domain")?.to_ascii_lowercase();
    let webhook_id = required_header(req, "x-shopify-webhook-id")?;
    let event_id = header(req, "x-shopify-event-id").filter(|e| !e.trim().is_empty());
    let triggered_at = header(req, "x-shopify-triggered-at").and_then(|t| normalize_timestamp(&t));
    let key = dedupe_key(&domain, event_id.as_deref(), &webhook_id);

    let db = app.db()?;
    let Some(tenant) = db::tenant_by_shopify_domain(&db, &domain).await? else {
        let text = String::from_utf8(body)
            .map_err(|_| ApiError::bad_request("invalid_payload", "the body is not UTF-8 JSON"))?;
        let kept = db::park_webhook(
            &db,
            &domain,
            topic.as_str(),
            &key,
            &webhook_id,
            triggered_at.as_deref(),
            &text,
            &app.now(),
        )
        .await?;
        if !kept {
            // Shopify retries later; by then the shop may be connected.
            return Err(ApiError::TooManyRequests {
                code: "too_many_parked",
                message: format!("too many deliveries wait for {domain} to be connected"),
            });
        }
        return outcome("parked");
    };
    let delivery = Delivery {
        tenant: TenantId::parse(&tenant.id)?,
        dedupe_key: key,
        topic,
        triggered_at,
    };
    outcome(process(app, &delivery, &body).await?)
}

fn outcome(status: &str) -> ApiResult<Response> {
    json_response(200, &json!({ "status": status }))
}

/// Applies one verified delivery for a known shop; returns the outcome named in the answer.
async fn process(app: &App, d: &Delivery, body: &[u8]) -> ApiResult<&'static str> {
    let db = app.db()?;
    if db::webhook_seen(&db, &d.dedupe_key).await? {
        return Ok("duplicate");
    }
    match &d.topic {
        Topic::OrdersCreate | Topic::OrdersUpdated | Topic::OrdersCancelled => {
            let mut incoming = shopify::parse_order(body).map_err(malformed)?;
            if d.topic == Topic::OrdersCancelled && !incoming.cancelled {
                return Err(ApiError::bad_request(
                    "invalid_payload",
                    "an orders/cancelled body has a cancelled_at",
                ));
            }
            incoming.triggered_at = d.triggered_at.clone();
            if db::is_tombstoned(&db, d.tenant.as_str(), &incoming.shopify_order_id).await? {
                record_only(app, d).await?;
                return Ok("deleted_earlier");
            }
            upsert(app, d, &incoming).await
        }
        Topic::OrdersEdited => {
            // The edit itself carries no order; the full order follows as orders/updated.
            shopify::parse_edited_order_id(body).map_err(malformed)?;
            record_only(app, d).await?;
            Ok("unchanged")
        }
        Topic::OrdersDelete => {
            let shopify_id = shopify::parse_deleted_id(body).map_err(malformed)?;
            delete(app, d, &shopify_id).await
        }
        Topic::Other(name) => {
            worker::console_log!("shopify webhook: ignoring topic {name}");
            Ok("ignored")
        }
    }
}

/// Replays the deliveries parked for `domain` now that `tenant` is connected to it, oldest
/// first; returns how many were applied (each is removed once handled, whatever its outcome).
pub async fn replay_parked(app: &App, tenant: &TenantId, domain: &str) -> ApiResult<usize> {
    let db = app.db()?;
    let parked = db::parked_for(&db, domain, REPLAY_LIMIT).await?;
    let mut replayed = 0;
    for p in parked {
        let d = Delivery {
            tenant: tenant.clone(),
            dedupe_key: p.dedupe_key.clone(),
            topic: Topic::parse(&p.topic),
            triggered_at: p.triggered_at.clone(),
        };
        match process(app, &d, p.body.as_bytes()).await {
            Ok(_) => replayed += 1,
            // A malformed parked body stays malformed: drop it, like Shopify's 400 would.
            Err(err) if err.status() < 500 => {
                worker::console_log!("parked delivery {} dropped: {err}", p.webhook_id)
            }
            Err(err) => return Err(err),
        }
        db::unpark(&db, p.id).await?;
    }
    Ok(replayed)
}

/// Marks a delivery as processed when it changes nothing visible (plus, atomically with it, any
/// bookkeeping in `with`). A concurrent twin that recorded it first is fine: either way it is done.
async fn record_only(app: &App, d: &Delivery) -> ApiResult<()> {
    record_with(app, d, Vec::new()).await
}

async fn record_with(
    app: &App,
    d: &Delivery,
    mut with: Vec<worker::D1PreparedStatement>,
) -> ApiResult<()> {
    let db = app.db()?;
    with.push(db::record_webhook(
        &db,
        &d.dedupe_key,
        d.tenant.as_str(),
        d.topic.as_str(),
        &app.now(),
        false,
    )?);
    match db::run_batch(&db, with).await {
        Err(err) if err.is_unique_violation("shopify_webhooks.webhook_id") => Ok(()),
        other => other,
    }
}

fn record_after_change(app: &App, d: &Delivery) -> ApiResult<Vec<worker::D1PreparedStatement>> {
    let db = app.db()?;
    Ok(vec![db::record_webhook(
        &db,
        &d.dedupe_key,
        d.tenant.as_str(),
        d.topic.as_str(),
        &app.now(),
        true,
    )?])
}

fn stored_fields(order: &Order) -> StoredShopifyFields {
    StoredShopifyFields {
        order_number: order.order_number.clone(),
        customer_name: order.customer_name.clone(),
        customer_email: order.customer_email.clone(),
        delivery_date: order.delivery_date.clone(),
        card_message: order.card_message.clone(),
        shopify_note: order.shopify_note.clone(),
        items: order
            .items
            .iter()
            .map(|i| shopify::Item {
                title: i.title.clone(),
                quantity: i.quantity,
            })
            .collect(),
        shopify_updated_at: order.shopify_updated_at.clone(),
        shopify_triggered_at: order.shopify_triggered_at.clone(),
        status_is_cancelled: order.status == OrderStatus::Cancelled,
        status_is_delivered: order.status == OrderStatus::Delivered,
    }
}

fn items(incoming: &ShopifyOrder) -> Vec<Item> {
    incoming
        .items
        .iter()
        .map(|i| Item {
            title: i.title.clone(),
            quantity: i.quantity,
        })
        .collect()
}

/// Writes Shopify's fields onto `order`; florist-owned fields are left alone.
fn apply_shopify_fields(order: &mut Order, incoming: &ShopifyOrder) {
    order.order_number = incoming.order_number.clone();
    order.customer_name = incoming.customer_name.clone();
    order.customer_email = incoming.customer_email.clone();
    order.delivery_date = incoming.delivery_date.clone();
    order.card_message = incoming.card_message.clone();
    order.shopify_note = incoming.shopify_note.clone();
    order.items = items(incoming);
    if incoming.updated_at.is_some() {
        order.shopify_updated_at = incoming.updated_at.clone();
        order.shopify_triggered_at = incoming.triggered_at.clone();
    }
}

/// Create, update or cancel: whichever the stored state calls for (an `orders/updated` can
/// arrive before its `orders/create`, so both paths accept both cases; an `orders/create` for
/// an order that exists changes nothing).
async fn upsert(app: &App, d: &Delivery, incoming: &ShopifyOrder) -> ApiResult<&'static str> {
    let db = app.db()?;
    let cancel_topic = d.topic == Topic::OrdersCancelled;
    for _ in 0..MAX_ATTEMPTS {
        let existing = db::get_order_by_shopify_id(
            &db,
            d.tenant.as_str(),
            &incoming.shopify_order_id,
            &app.now(),
        )
        .await?;
        let Some(current) = existing else {
            match create(app, d, incoming, cancel_topic).await {
                // Another delivery created this Shopify order a moment ago: decide again.
                Err(err) if err.is_unique_violation("orders.shopify_order_id") => continue,
                other => return other,
            }
        };
        if d.topic == Topic::OrdersCreate {
            record_only(app, d).await?;
            return Ok("unchanged");
        }
        let decision = shopify::diff_update(&stored_fields(&current), incoming, cancel_topic);
        let (changes, cancel, cancel_refused) = match decision {
            UpdateDecision::Stale => {
                record_only(app, d).await?;
                return Ok("stale");
            }
            UpdateDecision::NoChange => {
                // Nothing to show, but remember the newer time (see below).
                record_with(app, d, note_time(app, d, &current, incoming)?).await?;
                return Ok("unchanged");
            }
            UpdateDecision::CancelRefused { changes } if changes.is_empty() => {
                let mut with = note_time(app, d, &current, incoming)?;
                with.push(db::cancel_refused(
                    &db,
                    d.tenant.as_str(),
                    &current.id,
                    &app.now(),
                    false,
                )?);
                record_with(app, d, with).await?;
                return Ok("cancel_refused");
            }
            UpdateDecision::CancelRefused { changes } => (changes, false, true),
            UpdateDecision::Apply { changes, cancel } => (changes, cancel, false),
        };
        let mut next = current.clone();
        apply_shopify_fields(&mut next, incoming);
        next.check_size()?;
        if cancel {
            next.status = OrderStatus::Cancelled;
        }
        let activity = from_to(&current, &next, &changes)?;
        let now = app.now();
        let write = ShopifyWrite {
            next: &next,
            decided_on: current.shopify_updated_at.as_deref(),
            cancel,
            changes: &changes,
            activity: &activity,
            cancel_refused,
        };
        let outcome = db::update_shopify_order(
            &db,
            &shopify_write(d, &now),
            write,
            record_after_change(app, d)?,
        )
        .await;
        match outcome {
            Ok(outcome) => {
                if commit::published(app, &d.tenant, outcome).main.is_some() {
                    return Ok("updated");
                }
                // Another delivery for the same Shopify order got in first: decide again on
                // fresh state (florists' writes never get here: they do not touch these fields).
            }
            Err(err) => return duplicate_or(err),
        }
    }
    Err(ApiError::internal("shopify update kept losing races"))
}

/// The statement that remembers a newer payload's time even when it changed nothing, so an
/// older payload arriving later is still recognised as stale.
fn note_time(
    app: &App,
    d: &Delivery,
    current: &Order,
    incoming: &ShopifyOrder,
) -> ApiResult<Vec<worker::D1PreparedStatement>> {
    let db = app.db()?;
    Ok(match &incoming.updated_at {
        Some(at) => vec![db::note_shopify_updated_at(
            &db,
            d.tenant.as_str(),
            &current.id,
            at,
            incoming.triggered_at.as_deref(),
        )?],
        None => Vec::new(),
    })
}

/// A twin delivery that committed first makes this one a duplicate.
fn duplicate_or(err: ApiError) -> ApiResult<&'static str> {
    match &err {
        _ if err.is_unique_violation("shopify_webhooks.webhook_id") => Ok("duplicate"),
        _ => Err(err),
    }
}

async fn create(
    app: &App,
    d: &Delivery,
    incoming: &ShopifyOrder,
    cancel_topic: bool,
) -> ApiResult<&'static str> {
    let now = app.now();
    let mut order = Order {
        id: crate::new_id()?,
        order_number: String::new(),
        source: "shopify".into(),
        shopify_order_id: Some(incoming.shopify_order_id.clone()),
        customer_name: String::new(),
        customer_email: None,
        delivery_date: None,
        items: Vec::new(),
        status: if incoming.cancelled || cancel_topic {
            OrderStatus::Cancelled
        } else {
            OrderStatus::New
        },
        assigned_to: None,
        notes: String::new(),
        card_message: None,
        shopify_note: None,
        shopify_updated_at: None,
        shopify_triggered_at: None,
        version: 1,
        created_at: now.clone(),
        updated_at: now.clone(),
        updated_by: SHOPIFY_USER.into(),
        lock: None,
    };
    apply_shopify_fields(&mut order, incoming);
    order.check_size()?;
    let w = shopify_write(d, &now);
    match commit::create(app, &w, &d.tenant, &order, record_after_change(app, d)?).await {
        Ok(_) => Ok("created"),
        Err(err) => duplicate_or(err),
    }
}

async fn delete(app: &App, d: &Delivery, shopify_id: &str) -> ApiResult<&'static str> {
    let db = app.db()?;
    let now = app.now();
    let Some(order) = db::get_order_by_shopify_id(&db, d.tenant.as_str(), shopify_id, &now).await?
    else {
        // A deletion before its order (or a repeat): remembered, so the order never appears.
        let tombstone = db::tombstone(&db, d.tenant.as_str(), shopify_id, &now)?;
        record_with(app, d, vec![tombstone]).await?;
        return Ok("unchanged");
    };
    // Shopify's deletion is not blocked by a florist's edit lock.
    let w = shopify_write(d, &now);
    let deleted = db::delete_order(&db, &w, &order.id, false, record_after_change(app, d)?).await;
    match deleted.map(|outcome| commit::published(app, &d.tenant, outcome).main) {
        Ok(Some(_)) => Ok("deleted"),
        Ok(None) => {
            record_only(app, d).await?;
            Ok("unchanged")
        }
        Err(err) => duplicate_or(err),
    }
}
