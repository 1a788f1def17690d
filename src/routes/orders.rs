//! `/api/tenants/{t}/orders` and `/api/tenants/{t}/orders/{id}`: list, create, read, update,
//! delete.

use serde_json::{json, Value};
use worker::Response;

use crate::app::App;
use crate::auth::Caller;
use crate::collab::{self, Precondition, Refusal};
use crate::db::{self, ListQuery, OrderWrite};
use crate::domain::{NewOrder, Order, OrderLock, OrderPatch, OrderStatus, Role, TenantId};
use crate::error::{ApiError, ApiResult};
use crate::http::{header, json_body, json_response, query, query_param, with_header, Request};
use crate::{commit, cursor};

/// GET /api/tenants/{t}/orders
pub async fn list(req: &Request, app: &App, tenant: &TenantId) -> ApiResult<Response> {
    let params = query(req);
    let status = match query_param(&params, "status") {
        None => None,
        Some(s) => Some(OrderStatus::parse(&s).ok_or_else(|| {
            ApiError::bad_request("invalid_query", format!("unknown status filter '{s}'"))
        })?),
    };
    let limit = match query_param(&params, "limit") {
        None => 50,
        Some(l) => l
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=200).contains(l))
            .ok_or_else(|| {
                ApiError::bad_request("invalid_query", "limit must be between 1 and 200")
            })?,
    };
    let after = match query_param(&params, "cursor") {
        None => None,
        Some(c) => Some(cursor::decode(&c)?),
    };
    let q = ListQuery {
        status,
        assigned_to: query_param(&params, "assignedTo"),
        limit,
        after,
    };
    let (mut orders, mut more, head) =
        db::list_orders(&app.db()?, tenant.as_str(), &q, &app.now()).await?;
    // A page is budgeted in bytes too: once full it ends early, with a cursor for the rest.
    let mut used = 0;
    let mut keep = orders.len();
    for (i, order) in orders.iter().enumerate() {
        used += serde_json::to_string(order)?.len();
        if used > crate::http::PAGE_BYTES && i > 0 {
            keep = i;
            more = true;
            break;
        }
    }
    orders.truncate(keep);
    let next = if more {
        orders.last().map(|o| cursor::encode(&o.updated_at, &o.id))
    } else {
        None
    };
    json_response(
        200,
        &json!({ "orders": orders, "nextCursor": next, "head": head.to_string() }),
    )
}

fn order_location(tenant: &TenantId, id: &str) -> String {
    format!("/api/tenants/{tenant}/orders/{id}")
}

fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// POST /api/tenants/{t}/orders
pub async fn create(
    req: &mut Request,
    app: &App,
    tenant: &TenantId,
    caller: &Caller,
) -> ApiResult<Response> {
    let key = idempotency_key(req)?;
    let body = json_body(req).await?;
    let new = NewOrder::try_from(&body)?;
    let now = app.now();
    let db = app.db()?;
    // A retry with the same key gets the first answer and creates nothing.
    let fingerprint = key
        .as_ref()
        .map(|_| collab::request_fingerprint(&caller.user_id, &body));
    if let (Some(key), Some(fingerprint)) = (&key, &fingerprint) {
        if let Some(first) = replay(app, &db, tenant, key, fingerprint).await? {
            return Ok(first);
        }
    }
    let order = Order {
        id: crate::new_id()?,
        order_number: new.order_number.unwrap_or_default(),
        source: "manual".into(),
        shopify_order_id: None,
        customer_name: new.customer_name,
        customer_email: new.customer_email,
        delivery_date: new.delivery_date,
        items: new.items,
        status: OrderStatus::New,
        assigned_to: new.assigned_to,
        notes: new.notes,
        card_message: new.card_message,
        shopify_note: None,
        shopify_updated_at: None,
        shopify_triggered_at: None,
        version: 1,
        created_at: now.clone(),
        updated_at: now.clone(),
        updated_by: caller.user_id.clone(),
        lock: None,
    };
    order.check_size()?;
    let w = board_write(tenant, caller, &order.created_at);
    let remember = match (&key, &fingerprint) {
        (Some(key), Some(fingerprint)) => db::idempotency::remember(
            &db,
            tenant.as_str(),
            key,
            &caller.user_id,
            fingerprint,
            &order.id,
            &now,
            &idempotency_cutoff(app),
        )?,
        _ => Vec::new(),
    };
    let event = match commit::create(app, &w, tenant, &order, remember).await {
        Ok(event) => event,
        // The same key raced in from a twin request that committed first: its answer.
        Err(err) if err.is_unique_violation("idempotency_keys") => {
            if let (Some(key), Some(fingerprint)) = (&key, &fingerprint) {
                if let Some(first) = replay(app, &db, tenant, key, fingerprint).await? {
                    return Ok(first);
                }
            }
            return Err(err);
        }
        Err(err) => return Err(err),
    };
    created(tenant, event.order.clone().unwrap_or(Value::Null))
}

/// The 201 of a create, from the created order's JSON.
fn created(tenant: &TenantId, order: Value) -> ApiResult<Response> {
    let id = order
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let resp = json_response(201, &order)?;
    let resp = with_header(resp, "location", &order_location(tenant, &id))?;
    with_header(resp, "etag", &etag(1))
}

/// How long an `Idempotency-Key` is remembered.
use crate::retention::IDEMPOTENCY_SECS;

fn idempotency_cutoff(app: &App) -> String {
    crate::retention::cutoff(app.now_ms, IDEMPOTENCY_SECS)
}

/// `Idempotency-Key`: 1–255 visible ASCII characters, else 400.
fn idempotency_key(req: &Request) -> ApiResult<Option<String>> {
    match header(req, "idempotency-key") {
        None => Ok(None),
        Some(k) if !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(Some(k))
        }
        Some(_) => Err(ApiError::bad_request(
            "invalid_idempotency_key",
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        )),
    }
}

/// The first answer to this key, if there is one (within 24 h); 422 when the key was used for
/// a different request (another body, or another user).
async fn replay(
    app: &App,
    db: &worker::D1Database,
    tenant: &TenantId,
    key: &str,
    fingerprint: &str,
) -> ApiResult<Option<Response>> {
    let Some(first) =
        db::idempotency::find(db, tenant.as_str(), key, &idempotency_cutoff(app)).await?
    else {
        return Ok(None);
    };
    if first.request_hash != fingerprint {
        return Err(ApiError::unprocessable(
            "idempotency_key_reused",
            "this Idempotency-Key was used for a different request",
        ));
    }
    let order: Value = serde_json::from_str(&first.body)?;
    created(tenant, order).map(Some)
}

/// GET /api/tenants/{t}/orders/{id}
pub async fn get(app: &App, tenant: &TenantId, id: &str) -> ApiResult<Response> {
    let order = db::get_order(&app.db()?, tenant.as_str(), id, &app.now())
        .await?
        .ok_or_else(|| ApiError::NotFound("no such order".into()))?;
    let resp = json_response(200, &order)?;
    with_header(resp, "etag", &etag(order.version))
}

/// PUT /api/tenants/{t}/orders/{id}
pub async fn update(
    req: &mut Request,
    app: &App,
    tenant: &TenantId,
    id: &str,
    caller: &Caller,
) -> ApiResult<Response> {
    let pre = collab::parse_if_match(header(req, "if-match").as_deref())?;
    let body = json_body(req).await?;
    let patch = OrderPatch::try_from(&body)?;
    if patch.status == Some(OrderStatus::Cancelled) && caller.role != Role::Manager {
        // Cancelling is final: a manager's decision.
        return Err(ApiError::Forbidden(
            "only a manager can cancel an order".into(),
        ));
    }
    let now = app.now();
    let w = board_write(tenant, caller, &now);
    let db = app.db()?;
    let outcome = db::update_order(&db, &w, id, &patch, pre).await?;
    let outcome = commit::published(app, tenant, outcome);
    let current = outcome.current.as_ref().map(|(o, m)| (o, m));
    if let (Some(event), Some((order, _))) = (&outcome.main, current) {
        // The edit started before someone else's change to other fields: the client now holds
        // an order newer than the one it edited.
        let merged = matches!(pre, Precondition::StartedFrom(v) if v < order.version - 1);
        let body = json!({ "order": order, "event": event, "merged": merged });
        return with_header(json_response(200, &body)?, "etag", &etag(order.version));
    }
    match collab::explain_refusal(&patch, pre, &caller.user_id, &now, current) {
        Some(Refusal::NotFound) => Err(ApiError::NotFound("no such order".into())),
        Some(Refusal::Locked(lock)) => Err(locked(id, &lock)),
        Some(Refusal::UnknownVersion) => Err(ApiError::PreconditionFailed {
            current: serde_json::to_value(current.map(|(o, _)| o))?,
        }),
        Some(Refusal::Conflicts(conflicts)) => Err(ApiError::EditConflict {
            current: serde_json::to_value(current.map(|(o, _)| o))?,
            conflicts: serde_json::to_value(conflicts)?,
        }),
        Some(Refusal::Transition(err)) => Err(err),
        Some(Refusal::NoChange) => {
            let order = current.map(|(o, _)| o);
            let version = order.map_or(0, |o| o.version);
            let body = json!({ "order": order, "event": null, "merged": false });
            with_header(json_response(200, &body)?, "etag", &etag(version))
        }
        None => Err(ApiError::internal(format!(
            "update of {id} wrote nothing though its checks pass"
        ))),
    }
}

/// A change made by a user of the board.
pub fn board_write<'a>(tenant: &'a TenantId, caller: &'a Caller, now: &'a str) -> OrderWrite<'a> {
    OrderWrite {
        tenant: tenant.as_str(),
        user: &caller.user_id,
        source: "board",
        now,
    }
}

/// The lock as the lock routes and a 423 show it.
pub fn lock_json(order_id: &str, lock: &OrderLock) -> Value {
    json!({
        "orderId": order_id,
        "holder": lock.holder,
        "acquiredAt": lock.acquired_at,
        "expiresAt": lock.expires_at,
        "lockVersion": lock.lock_version,
    })
}

/// 423: someone else holds the order's lease.
pub fn locked(order_id: &str, lock: &OrderLock) -> ApiError {
    ApiError::Locked {
        lock: lock_json(order_id, lock),
    }
}

/// DELETE /api/tenants/{t}/orders/{id}
pub async fn delete(
    app: &App,
    tenant: &TenantId,
    id: &str,
    caller: &Caller,
) -> ApiResult<Response> {
    let now = app.now();
    let w = board_write(tenant, caller, &now);
    let outcome = db::delete_order(&app.db()?, &w, id, true, Vec::new()).await?;
    let outcome = commit::published(app, tenant, outcome);
    if outcome.main.is_some() {
        return Ok(Response::empty()?.with_status(204));
    }
    match &outcome.current {
        None => Err(ApiError::NotFound("no such order".into())),
        Some((order, _)) => match collab::blocking_lock(order, &caller.user_id, &now) {
            Some(lock) => Err(locked(id, lock)),
            None => Err(ApiError::internal(format!("delete of {id} wrote nothing"))),
        },
    }
}
