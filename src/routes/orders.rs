//! `/api/tenants/{t}/orders` and `/api/tenants/{t}/orders/{id}`: list, create, read, update,
//! delete.

use serde_json::{json, Value};
use worker::{Request, Response};

use crate::app::App;
use crate::auth::Caller;
use crate::db::{self, ListQuery};
use crate::domain::{NewOrder, Order, OrderPatch, OrderStatus, TenantId};
use crate::error::{ApiError, ApiResult};
use crate::http::{header, json_body, json_response, query, query_param, with_header};
use crate::{commit, cursor, hub_do};

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
    let (orders, more) = db::list_orders(&app.db()?, tenant.as_str(), &q).await?;
    let next = if more {
        orders.last().map(|o| cursor::encode(&o.updated_at, &o.id))
    } else {
        None
    };
    json_response(200, &json!({ "orders": orders, "nextCursor": next }))
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
    let body = json_body(req).await?;
    let new = NewOrder::try_from(&body)?;
    let now = app.now();
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
        version: 1,
        created_at: now.clone(),
        updated_at: now,
        updated_by: caller.user_id.clone(),
    };
    let event = commit::create(app, tenant, &order, Vec::new()).await?;
    let created = event.order.clone().unwrap_or(Value::Null);
    let resp = json_response(201, &created)?;
    let resp = with_header(resp, "location", &order_location(tenant, &order.id))?;
    with_header(resp, "etag", &etag(1))
}

/// GET /api/tenants/{t}/orders/{id}
pub async fn get(app: &App, tenant: &TenantId, id: &str) -> ApiResult<Response> {
    let order = db::get_order(&app.db()?, tenant.as_str(), id)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such order".into()))?;
    let resp = json_response(200, &order)?;
    with_header(resp, "etag", &etag(order.version))
}

/// `If-Match: "3"` (also `W/"3"` or `3`) → Some(3); `*` or absent → None. Anything else can
/// never match a version, so it is reported as `Some(-1)` and answered with 412.
fn if_match(req: &Request) -> Option<i64> {
    let raw = header(req, "if-match")?;
    let raw = raw.trim();
    if raw == "*" {
        return None;
    }
    let raw = raw.trim_start_matches("W/").trim_matches('"');
    Some(raw.parse().unwrap_or(-1))
}

/// How many times a PUT without `If-Match` re-reads and re-applies after losing a race.
const MAX_ATTEMPTS: usize = 8;

/// PUT /api/tenants/{t}/orders/{id}
pub async fn update(
    req: &mut Request,
    app: &App,
    tenant: &TenantId,
    id: &str,
    caller: &Caller,
) -> ApiResult<Response> {
    let expected = if_match(req);
    let body = json_body(req).await?;
    let patch = OrderPatch::try_from(&body)?;
    let db = app.db()?;
    for _ in 0..MAX_ATTEMPTS {
        let current = db::get_order(&db, tenant.as_str(), id)
            .await?
            .ok_or_else(|| ApiError::NotFound("no such order".into()))?;
        if expected.is_some_and(|v| v != current.version) {
            return Err(ApiError::PreconditionFailed {
                current: serde_json::to_value(&current)?,
            });
        }
        let mut next = current.clone();
        let changes = patch.apply(&mut next)?;
        if changes.is_empty() {
            let resp = json_response(200, &json!({ "order": current, "event": null }))?;
            return with_header(resp, "etag", &etag(current.version));
        }
        next.version += 1;
        next.updated_at = app.now();
        next.updated_by = caller.user_id.clone();
        if let Some(event) = db::update_order(
            &db,
            tenant.as_str(),
            &next,
            current.version,
            &changes,
            Vec::new(),
        )
        .await?
        {
            hub_do::publish(app, tenant, &event);
            let resp = json_response(200, &json!({ "order": next, "event": event }))?;
            return with_header(resp, "etag", &etag(next.version));
        }
        // Someone else committed first: with If-Match that is a 412 (next loop), without it we
        // re-apply the patch to the fresh state.
    }
    Err(ApiError::Conflict {
        code: "busy",
        message: "the order is being changed by many people at once; try again".into(),
    })
}

/// DELETE /api/tenants/{t}/orders/{id}
pub async fn delete(
    app: &App,
    tenant: &TenantId,
    id: &str,
    caller: &Caller,
) -> ApiResult<Response> {
    let db = app.db()?;
    let event = db::delete_order(
        &db,
        tenant.as_str(),
        id,
        &caller.user_id,
        &app.now(),
        Vec::new(),
    )
    .await?
    .ok_or_else(|| ApiError::NotFound("no such order".into()))?;
    hub_do::publish(app, tenant, &event);
    Ok(Response::empty()?.with_status(204))
}
