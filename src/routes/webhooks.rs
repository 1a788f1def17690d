//! `POST /api/webhooks/shopify`: verified, deduplicated, stale-safe order intake. The pure
//! parts (HMAC, mapping, the update decision) are in [`crate::shopify`]; this is the shell.
//!
//! Answers, chosen for Shopify's delivery rules (it retries any non-2xx for up to 48 hours,
//! then removes the subscription):
//! - bad or missing signature → 401; nothing stored.
//! - unknown shop (`X-Shopify-Shop-Domain` matches no tenant) → 404 `unknown_shop`: Shopify keeps
//!   retrying, so orders placed while a shop is being onboarded arrive once its tenant exists,
//!   and a shop that never gets a tenant has its subscription removed by Shopify in the end.
//! - repeated `X-Shopify-Webhook-Id` → 200 `duplicate`, no change, no event.
//! - other topics → 200 `ignored` (logged).

use serde_json::{json, Value};
use worker::{Request, Response};

use crate::app::App;
use crate::db::{changes::ShopifyWrite, OrderWrite};
use crate::domain::{Item, Order, OrderStatus, TenantId};
use crate::error::{ApiError, ApiResult};
use crate::http::{header, json_response, read_body};
use crate::shopify::{self, ShopifyOrder, StoredShopifyFields, Topic, UpdateDecision};
use crate::{commit, db};

/// Who Shopify's changes are attributed to in events.
const SHOPIFY_USER: &str = "shopify";
/// Re-reads after losing a race with another delivery for the same Shopify order (florists'
/// concurrent writes never make a webhook retry).
const MAX_ATTEMPTS: usize = 8;

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

struct Delivery {
    tenant: TenantId,
    webhook_id: String,
    topic: Topic,
}

fn required_header(req: &Request, name: &str) -> ApiResult<String> {
    header(req, name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::bad_request("missing_header", format!("{name} is required")))
}

fn status(outcome: &str) -> ApiResult<Response> {
    json_response(200, &json!({ "status": outcome }))
}

fn malformed(err: shopify::MapError) -> ApiError {
    ApiError::bad_request("invalid_payload", err.to_string())
}

/// POST /api/webhooks/shopify
pub async fn shopify(req: &mut Request, app: &App) -> ApiResult<Response> {
    let body = read_body(req).await?;
    let secret = app.secret("SHOPIFY_WEBHOOK_SECRET")?;
    let signature = header(req, "x-shopify-hmac-sha256");
    if !shopify::verify_hmac(secret.as_bytes(), &body, signature.as_deref()) {
        return Err(ApiError::Unauthorized(
            "X-Shopify-Hmac-Sha256 does not match the body".into(),
        ));
    }
    let topic = Topic::parse(&required_header(req, "x-shopify-topic")?);
    let domain = required_header(req, "x-shopify-shop-domain")?;
    let webhook_id = required_header(req, "x-shopify-webhook-id")?;

    let db = app.db()?;
    let tenant = db::tenant_by_shopify_domain(&db, &domain)
        .await?
        .ok_or_else(|| ApiError::UnknownShop(format!("no shop is connected to {domain}")))?;
    let tenant = TenantId::parse(&tenant.id)?;
    if db::webhook_seen(&db, &webhook_id).await? {
        return status("duplicate");
    }
    let delivery = Delivery {
        tenant,
        webhook_id,
        topic,
    };
    match &delivery.topic {
        Topic::OrdersCreate | Topic::OrdersUpdated | Topic::OrdersCancelled => {
            let incoming = shopify::parse_order(&body).map_err(malformed)?;
            upsert(app, &delivery, &incoming).await
        }
        Topic::OrdersEdited => {
            // The edit itself carries no order; the full order follows as orders/updated.
            shopify::parse_edited_order_id(&body).map_err(malformed)?;
            record_only(app, &delivery).await?;
            status("unchanged")
        }
        Topic::OrdersDelete => {
            let shopify_id = shopify::parse_deleted_id(&body).map_err(malformed)?;
            delete(app, &delivery, &shopify_id).await
        }
        Topic::Other(name) => {
            worker::console_log!("shopify webhook: ignoring topic {name}");
            status("ignored")
        }
    }
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
        &d.webhook_id,
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
        &d.webhook_id,
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
        status_is_cancelled: order.status == OrderStatus::Cancelled,
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
    }
}

/// Create, update or cancel: whichever the stored state calls for (an `orders/updated` can
/// arrive before its `orders/create`, so both paths accept both cases).
async fn upsert(app: &App, d: &Delivery, incoming: &ShopifyOrder) -> ApiResult<Response> {
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
                // Another delivery created this Shopify order a moment ago: update it instead.
                Err(err) if err.is_unique_violation("orders.shopify_order_id") => continue,
                other => return other,
            }
        };
        let (changes, cancel) =
            match shopify::diff_update(&stored_fields(&current), incoming, cancel_topic) {
                UpdateDecision::Stale => {
                    record_only(app, d).await?;
                    return status("stale");
                }
                UpdateDecision::NoChange => {
                    // Nothing to show, but remember the newer time (see below).
                    let mut with = Vec::new();
                    if let Some(at) = &incoming.updated_at {
                        with.push(db::note_shopify_updated_at(
                            &db,
                            d.tenant.as_str(),
                            &current.id,
                            at,
                        )?);
                    }
                    record_with(app, d, with).await?;
                    return status("unchanged");
                }
                UpdateDecision::Apply { changes, cancel } => (changes, cancel),
            };
        let mut next = current.clone();
        apply_shopify_fields(&mut next, incoming);
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
                    return status("updated");
                }
                // Another delivery for the same Shopify order got in first: decide again on
                // fresh state (florists' writes never get here: they do not touch these fields).
            }
            Err(err) => return duplicate_or(err),
        }
    }
    Err(ApiError::internal("shopify update kept losing races"))
}

/// A twin delivery of the same webhook id that committed first makes this one a duplicate.
fn duplicate_or(err: ApiError) -> ApiResult<Response> {
    match &err {
        _ if err.is_unique_violation("shopify_webhooks.webhook_id") => status("duplicate"),
        _ => Err(err),
    }
}

async fn create(
    app: &App,
    d: &Delivery,
    incoming: &ShopifyOrder,
    cancel_topic: bool,
) -> ApiResult<Response> {
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
        version: 1,
        created_at: now.clone(),
        updated_at: now.clone(),
        updated_by: SHOPIFY_USER.into(),
        lock: None,
    };
    apply_shopify_fields(&mut order, incoming);
    let w = shopify_write(d, &now);
    match commit::create(app, &w, &d.tenant, &order, record_after_change(app, d)?).await {
        Ok(_) => status("created"),
        Err(err) => duplicate_or(err),
    }
}

async fn delete(app: &App, d: &Delivery, shopify_id: &str) -> ApiResult<Response> {
    let db = app.db()?;
    let now = app.now();
    let Some(order) = db::get_order_by_shopify_id(&db, d.tenant.as_str(), shopify_id, &now).await?
    else {
        record_only(app, d).await?;
        return status("unchanged");
    };
    // Shopify's deletion is not blocked by a florist's edit lock.
    let w = shopify_write(d, &now);
    let deleted = db::delete_order(&db, &w, &order.id, false, record_after_change(app, d)?).await;
    match deleted.map(|outcome| commit::published(app, &d.tenant, outcome).main) {
        Ok(Some(_)) => status("deleted"),
        Ok(None) => {
            record_only(app, d).await?;
            status("unchanged")
        }
        Err(err) => duplicate_or(err),
    }
}
