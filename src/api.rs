//! The REST routes: one match on (method, path) and a handler per route. Each handler reads as
//! its steps: authorize, parse, call the core, write (one D1 batch), publish, respond.

use serde_json::{json, Value};
use worker::{Env, Method, Request, Response};

use crate::auth::{self, Caller, Claims};
use crate::db::{self, ListQuery};
use crate::domain::{
    format_timestamp, normalize_timestamp, NewOrder, Order, OrderPatch, OrderStatus, Role,
    TenantId, MAX_SHORT,
};
use crate::error::{ApiError, ApiResult};
use crate::events::Event;
use crate::http::{self, header, json_body, json_response, query, query_param, with_header};
use crate::{cursor, hub_do, webhook};

/// Everything a handler needs about the deployment.
pub struct App {
    pub env: Env,
    pub ctx: worker::Context,
    pub now_ms: i64,
}

impl App {
    pub fn db(&self) -> ApiResult<worker::D1Database> {
        Ok(self.env.d1("DB")?)
    }

    pub fn now(&self) -> String {
        format_timestamp(self.now_ms)
    }

    /// A required secret; missing means the deployment is misconfigured (our 500, logged).
    pub fn secret(&self, name: &str) -> ApiResult<String> {
        self.env
            .secret(name)
            .map(|s| s.to_string())
            .or_else(|_| self.env.var(name).map(|v| v.to_string()))
            .ok()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ApiError::internal(format!("secret {name} is not configured")))
    }

    pub fn var_u64(&self, name: &str, default: u64) -> u64 {
        http::var_u64(&self.env, name, default)
    }
}

/// Routes one request.
pub async fn route(mut req: Request, app: &App) -> ApiResult<Response> {
    let path = req.path();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let method = req.method();
    match segments.as_slice() {
        ["api", "health"] => {
            allow(&method, &[Method::Get])?;
            health(app).await
        }
        ["api", "admin", "tenants"] => {
            allow(&method, &[Method::Post])?;
            create_tenant(&mut req, app).await
        }
        ["api", "admin", "tenants", tenant, "tokens"] => {
            allow(&method, &[Method::Post])?;
            let tenant = tenant.to_string();
            mint_token(&mut req, app, &tenant).await
        }
        ["api", "admin", "maintenance", "prune-events"] => {
            allow(&method, &[Method::Post])?;
            prune_events(&mut req, app).await
        }
        ["api", "webhooks", "shopify"] => {
            allow(&method, &[Method::Post])?;
            webhook::shopify(&mut req, app).await
        }
        ["api", "tenants", tenant, rest @ ..] => {
            let tenant =
                TenantId::parse(tenant).map_err(|_| ApiError::NotFound("no such shop".into()))?;
            let rest: Vec<String> = rest.iter().map(|s| s.to_string()).collect();
            tenant_route(req, app, &tenant, &rest).await
        }
        _ => Err(ApiError::NotFound(format!("no route for {path}"))),
    }
}

async fn tenant_route(
    mut req: Request,
    app: &App,
    tenant: &TenantId,
    rest: &[String],
) -> ApiResult<Response> {
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    let method = req.method();
    match rest.as_slice() {
        ["orders"] => {
            allow(&method, &[Method::Get, Method::Post])?;
            let caller = authenticate(&req, app, tenant, Role::Florist, false)?;
            if method == Method::Get {
                list_orders(&req, app, tenant).await
            } else {
                create_order(&mut req, app, tenant, &caller).await
            }
        }
        ["orders", "realtime-status"] => {
            allow(&method, &[Method::Get])?;
            authenticate(&req, app, tenant, Role::Florist, false)?;
            realtime_status(&req, app, tenant).await
        }
        ["orders", id] => {
            allow(&method, &[Method::Get, Method::Put, Method::Delete])?;
            let needed = if method == Method::Delete {
                Role::Manager
            } else {
                Role::Florist
            };
            let caller = authenticate(&req, app, tenant, needed, false)?;
            match method {
                Method::Get => get_order(app, tenant, id).await,
                Method::Put => update_order(&mut req, app, tenant, id, &caller).await,
                _ => delete_order(app, tenant, id, &caller).await,
            }
        }
        ["realtime", "orders"] => {
            allow(&method, &[Method::Get])?;
            authenticate(&req, app, tenant, Role::Florist, true)?;
            let params = query(&req);
            // The header wins over the query parameter (EventSource sends the header itself
            // when it reconnects).
            let resume = header(&req, "last-event-id")
                .or_else(|| query_param(&params, "lastEventId"))
                .filter(|s| !s.trim().is_empty());
            hub_do::subscribe(app, tenant, resume).await
        }
        ["realtime", "stats"] => {
            allow(&method, &[Method::Get])?;
            authenticate(&req, app, tenant, Role::Manager, false)?;
            hub_do::stats(app, tenant).await
        }
        _ => Err(ApiError::NotFound("no such route".into())),
    }
}

fn allow(method: &Method, allowed: &[Method]) -> ApiResult<()> {
    if allowed.contains(method) {
        Ok(())
    } else {
        Err(ApiError::MethodNotAllowed)
    }
}

/// Resolves the caller of a tenant route once: token present, signature and expiry good, same
/// tenant, sufficient role. `allow_query_token` admits `?access_token=` (for EventSource).
fn authenticate(
    req: &Request,
    app: &App,
    tenant: &TenantId,
    needed: Role,
    allow_query_token: bool,
) -> ApiResult<Caller> {
    let from_header = header(req, "authorization");
    let token = match auth::bearer(from_header.as_deref()) {
        Some(t) => Some(t.to_string()),
        None if allow_query_token => query_param(&query(req), "access_token"),
        None => None,
    }
    .ok_or_else(|| ApiError::Unauthorized("send Authorization: Bearer <token>".into()))?;
    let secret = app.secret("AUTH_SECRET")?;
    let claims: Claims = auth::verify(&token, secret.as_bytes(), app.now_ms / 1000)?;
    auth::authorize_tenant(claims, tenant, needed)
}

fn require_admin(req: &Request, app: &App) -> ApiResult<()> {
    let configured = app.secret("ADMIN_TOKEN")?;
    let presented = header(req, "authorization");
    if auth::admin_token_matches(auth::bearer(presented.as_deref()), &configured) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized(
            "admin routes need Authorization: Bearer <ADMIN_TOKEN>".into(),
        ))
    }
}

/// GET /api/health
async fn health(app: &App) -> ApiResult<Response> {
    let db_ok = match app.db() {
        Ok(db) => db
            .prepare("SELECT 1 AS ok")
            .first::<f64>(Some("ok"))
            .await
            .is_ok(),
        Err(_) => false,
    };
    let body = json!({
        "status": if db_ok { "ok" } else { "degraded" },
        "version": env!("BUILD_VERSION"),
        "schemaVersion": env!("SCHEMA_VERSION").parse::<u32>().unwrap_or(0),
        "database": if db_ok { "ok" } else { "unreachable" },
    });
    json_response(if db_ok { 200 } else { 503 }, &body)
}

fn str_field<'a>(body: &'a Value, key: &str) -> Option<&'a str> {
    body.get(key).and_then(Value::as_str)
}

/// POST /api/admin/tenants
async fn create_tenant(req: &mut Request, app: &App) -> ApiResult<Response> {
    require_admin(req, app)?;
    let body = json_body(req).await?;
    let id = TenantId::parse(str_field(&body, "id").unwrap_or_default())?;
    let name = str_field(&body, "name")
        .map(str::trim)
        .filter(|n| !n.is_empty() && n.chars().count() <= MAX_SHORT)
        .ok_or_else(|| {
            ApiError::bad_request("invalid_field", "name is required (at most 200 characters)")
        })?;
    let domain = match body.get("shopifyDomain") {
        None | Some(Value::Null) => None,
        Some(Value::String(d)) => Some(parse_shop_domain(d)?),
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_field",
                "shopifyDomain must be a string like my-shop.myshopify.com",
            ))
        }
    };
    let tenant = db::insert_tenant(&app.db()?, &id, name, domain.as_deref(), &app.now()).await?;
    let resp = json_response(201, &tenant.to_json())?;
    with_header(resp, "location", &format!("/api/tenants/{id}"))
}

fn parse_shop_domain(raw: &str) -> ApiResult<String> {
    let d = raw.trim().to_ascii_lowercase();
    let ok = d.len() <= 255
        && d.contains('.')
        && !d.starts_with('.')
        && !d.ends_with('.')
        && d.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    if ok {
        Ok(d)
    } else {
        Err(ApiError::bad_request(
            "invalid_field",
            "shopifyDomain must be a domain like my-shop.myshopify.com",
        ))
    }
}

/// POST /api/admin/tenants/{tenantId}/tokens
async fn mint_token(req: &mut Request, app: &App, tenant: &str) -> ApiResult<Response> {
    require_admin(req, app)?;
    let body = json_body(req).await?;
    let db = app.db()?;
    if db::get_tenant(&db, tenant).await?.is_none() {
        return Err(ApiError::NotFound(format!("no shop with id '{tenant}'")));
    }
    let user_id = str_field(&body, "userId")
        .map(str::trim)
        .filter(|u| !u.is_empty() && u.chars().count() <= 100)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_field",
                "userId is required (at most 100 characters)",
            )
        })?;
    let role: Role = serde_json::from_value(body.get("role").cloned().unwrap_or(Value::Null))
        .map_err(|_| ApiError::bad_request("invalid_role", "role must be florist or manager"))?;
    let ttl = match body.get("ttlSeconds") {
        None | Some(Value::Null) => 12 * 3600,
        Some(v) => v
            .as_i64()
            .filter(|t| (1..=30 * 24 * 3600).contains(t))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_field",
                    "ttlSeconds must be between 1 and 2592000 (30 days)",
                )
            })?,
    };
    let exp = app.now_ms / 1000 + ttl;
    let claims = Claims {
        sub: user_id.to_string(),
        tenant: tenant.to_string(),
        role,
        exp,
    };
    let secret = app.secret("AUTH_SECRET")?;
    let token = auth::sign(&claims, secret.as_bytes());
    json_response(
        201,
        &json!({ "token": token, "expiresAt": format_timestamp(exp * 1000) }),
    )
}

/// POST /api/admin/maintenance/prune-events
async fn prune_events(req: &mut Request, app: &App) -> ApiResult<Response> {
    require_admin(req, app)?;
    let bytes = http::read_body(req).await?;
    let body = if bytes.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        http::parse_json(&bytes)?
    };
    let default = app.var_u64("EVENT_RETENTION_DAYS", 7) * 86_400;
    let older_than = match body.get("olderThanSeconds") {
        None | Some(Value::Null) => default,
        Some(v) => v.as_u64().ok_or_else(|| {
            ApiError::bad_request("invalid_field", "olderThanSeconds must be a whole number")
        })?,
    };
    let tenant = match body.get("tenantId") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) => Some(TenantId::parse(t)?),
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_field",
                "tenantId must be a string",
            ))
        }
    };
    let before = format_timestamp(app.now_ms - (older_than as i64) * 1000);
    let deleted =
        db::prune_events(&app.db()?, tenant.as_ref().map(TenantId::as_str), &before).await?;
    json_response(200, &json!({ "deleted": deleted, "before": before }))
}

/// GET /api/tenants/{t}/orders
async fn list_orders(req: &Request, app: &App, tenant: &TenantId) -> ApiResult<Response> {
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
async fn create_order(
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
    let event = commit_create(app, tenant, &order, Vec::new()).await?;
    let created = event.order.clone().unwrap_or(Value::Null);
    let resp = json_response(201, &created)?;
    let resp = with_header(resp, "location", &order_location(tenant, &order.id))?;
    with_header(resp, "etag", &etag(1))
}

/// Commits a new order (404 if the shop does not exist) and publishes its event.
pub async fn commit_create(
    app: &App,
    tenant: &TenantId,
    order: &Order,
    then: Vec<worker::D1PreparedStatement>,
) -> ApiResult<Event> {
    // One round trip: the batch inserts from the tenant's row, so an unknown shop writes nothing.
    let event = db::create_order(&app.db()?, tenant.as_str(), order, then)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such shop".into()))?;
    hub_do::publish(app, tenant, &event);
    Ok(event)
}

/// GET /api/tenants/{t}/orders/{id}
async fn get_order(app: &App, tenant: &TenantId, id: &str) -> ApiResult<Response> {
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
async fn update_order(
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
async fn delete_order(
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

/// Events one polling answer covers; `hasMore` tells the client to ask again from `cursor`.
const POLL_WINDOW: u64 = 500;

/// GET /api/tenants/{t}/orders/realtime-status?since=
async fn realtime_status(req: &Request, app: &App, tenant: &TenantId) -> ApiResult<Response> {
    let db = app.db()?;
    let since = match query_param(&query(req), "since").filter(|s| !s.is_empty()) {
        None => 0,
        Some(s) if s.bytes().all(|b| b.is_ascii_digit()) => s
            .parse::<u64>()
            .ok()
            .filter(|n| *n < (1 << 52))
            .ok_or_else(|| ApiError::bad_request("invalid_since", "since is too large"))?,
        Some(s) => {
            let ts = normalize_timestamp(&s).ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_since",
                    "since must be an event id or an RFC 3339 timestamp",
                )
            })?;
            db::seq_at_time(&db, tenant.as_str(), &ts).await?
        }
    };
    let poll = db::poll_window(&db, tenant.as_str(), since, POLL_WINDOW).await?;
    let end = since.saturating_add(POLL_WINDOW);
    let more = end < poll.head;
    let cursor = if more { end } else { poll.head };
    // Walk the changes oldest first: each order once, in the order things happened; an order
    // that is gone from the table was deleted.
    let mut current: std::collections::HashMap<String, Order> =
        poll.orders.into_iter().map(|o| (o.id.clone(), o)).collect();
    let (mut orders, mut deleted) = (Vec::new(), Vec::new());
    for (id, _) in poll.changed {
        match current.remove(&id) {
            Some(order) => orders.push(order),
            None => deleted.push(id),
        }
    }
    json_response(
        200,
        &json!({
            "cursor": cursor.to_string(),
            "orders": orders,
            "deletedOrderIds": deleted,
            "hasMore": more,
        }),
    )
}
