//! The REST routes: one match on (method, path), then the resource's module. A route's handler
//! is found from its path: `/api/admin/…` → [`admin`], `/api/tenants/{t}/orders[/{id}]` →
//! [`orders`], `…/orders/{id}/lock` → [`locks`], `…/orders/{id}/notes` → [`notes`],
//! `…/orders/{id}/activity` and `/api/tenants/{t}/activity` → [`activity`],
//! `/api/tenants/{t}/realtime/…` and the polling route → [`realtime`], `/api/webhooks/shopify` →
//! [`webhooks`], `/api/push/…` and `/api/tenants/{t}/push/…` → [`push`]. Each handler reads as its steps: authorize, parse, call the core, commit (one
//! D1 batch), publish, respond. The caller of a tenant route is resolved once, here.

pub mod activity;
pub mod admin;
pub mod health;
pub mod locks;
pub mod notes;
pub mod orders;
pub mod push;
pub mod realtime;
pub mod webhooks;

use std::cell::RefCell;
use std::collections::HashMap;

use worker::{Method, Request, Response};

use crate::app::App;
use crate::auth::{self, Caller, Claims, TenantKeys};
use crate::db;
use crate::domain::{Role, TenantId};
use crate::error::{ApiError, ApiResult};
use crate::http::{header, query, query_param};

/// Routes one request.
pub async fn route(mut req: Request, app: &App) -> ApiResult<Response> {
    let path = req.path();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let method = req.method();
    match segments.as_slice() {
        ["api", "health"] => {
            allow(&method, &[Method::Get])?;
            health::health(app).await
        }
        ["api", "admin", "tenants"] => {
            allow(&method, &[Method::Post])?;
            admin::create_tenant(&mut req, app).await
        }
        ["api", "admin", "tenants", tenant, "signing-keys"] => {
            allow(&method, &[Method::Post])?;
            let tenant = tenant.to_string();
            let resp = admin::rotate_signing_key(&mut req, app, &tenant).await;
            forget_keys(&tenant);
            resp
        }
        ["api", "admin", "tenants", tenant, "tokens-not-before"] => {
            allow(&method, &[Method::Put])?;
            let tenant = tenant.to_string();
            admin::set_tokens_not_before(&mut req, app, &tenant).await
        }
        ["api", "admin", "tenants", tenant, "tokens"] => {
            allow(&method, &[Method::Post])?;
            let tenant = tenant.to_string();
            admin::mint_token(&mut req, app, &tenant).await
        }
        ["api", "admin", "maintenance", "prune-events"] => {
            allow(&method, &[Method::Post])?;
            admin::prune_events(&mut req, app).await
        }
        ["api", "admin", "maintenance", "prune-activity"] => {
            allow(&method, &[Method::Post])?;
            admin::prune_activity(&mut req, app).await
        }
        ["api", "push", "vapid-public-key"] => {
            allow(&method, &[Method::Get])?;
            push::vapid_public_key(app)
        }
        ["api", "webhooks", "shopify"] => {
            allow(&method, &[Method::Post])?;
            webhooks::shopify(&mut req, app).await
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
            let caller = authenticate(&req, app, tenant, Role::Florist, false).await?;
            if method == Method::Get {
                orders::list(&req, app, tenant).await
            } else {
                orders::create(&mut req, app, tenant, &caller).await
            }
        }
        ["orders", "realtime-status"] => {
            allow(&method, &[Method::Get])?;
            authenticate(&req, app, tenant, Role::Florist, false).await?;
            realtime::poll(&req, app, tenant).await
        }
        ["orders", id] => {
            allow(&method, &[Method::Get, Method::Put, Method::Delete])?;
            let needed = if method == Method::Delete {
                Role::Manager
            } else {
                Role::Florist
            };
            let caller = authenticate(&req, app, tenant, needed, false).await?;
            match method {
                Method::Get => orders::get(app, tenant, id).await,
                Method::Put => orders::update(&mut req, app, tenant, id, &caller).await,
                _ => orders::delete(app, tenant, id, &caller).await,
            }
        }
        ["orders", id, "lock"] => {
            allow(&method, &[Method::Post, Method::Delete])?;
            let caller = authenticate(&req, app, tenant, Role::Florist, false).await?;
            if method == Method::Post {
                locks::acquire(&mut req, app, tenant, id, &caller).await
            } else {
                locks::release(app, tenant, id, &caller).await
            }
        }
        ["orders", id, "notes"] => {
            allow(&method, &[Method::Get, Method::Post])?;
            let caller = authenticate(&req, app, tenant, Role::Florist, false).await?;
            if method == Method::Get {
                notes::list(app, tenant, id).await
            } else {
                notes::add(&mut req, app, tenant, id, &caller).await
            }
        }
        ["orders", id, "activity"] => {
            allow(&method, &[Method::Get])?;
            authenticate(&req, app, tenant, Role::Florist, false).await?;
            activity::for_order(&req, app, tenant, id).await
        }
        ["activity"] => {
            allow(&method, &[Method::Get])?;
            authenticate(&req, app, tenant, Role::Manager, false).await?;
            activity::for_shop(&req, app, tenant).await
        }
        ["realtime", "orders"] => {
            allow(&method, &[Method::Get])?;
            let caller = authenticate(&req, app, tenant, Role::Florist, true).await?;
            realtime::subscribe(&req, app, tenant, &caller).await
        }
        ["realtime", "tickets"] => {
            allow(&method, &[Method::Post])?;
            let caller = authenticate(&req, app, tenant, Role::Florist, false).await?;
            realtime::ticket(app, tenant, &caller).await
        }
        ["realtime", "ws"] => {
            allow(&method, &[Method::Get])?;
            // Answered before the upgrade: the same 401/403 as the SSE route.
            let caller = authenticate(&req, app, tenant, Role::Florist, true).await?;
            realtime::websocket(&req, app, tenant, &caller).await
        }
        ["presence"] => {
            allow(&method, &[Method::Get])?;
            authenticate(&req, app, tenant, Role::Florist, false).await?;
            realtime::presence(app, tenant).await
        }
        ["push", "subscriptions"] => {
            allow(&method, &[Method::Get, Method::Post, Method::Delete])?;
            let caller = authenticate(&req, app, tenant, Role::Florist, false).await?;
            match method {
                Method::Get => push::list(app, tenant, &caller).await,
                Method::Post => push::subscribe(&mut req, app, tenant, &caller).await,
                _ => push::unsubscribe(&req, app, tenant, &caller).await,
            }
        }
        ["realtime", "stats"] => {
            allow(&method, &[Method::Get])?;
            authenticate(&req, app, tenant, Role::Manager, false).await?;
            realtime::stats(app, tenant).await
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

/// Resolves the caller of a tenant route once: token present, signature (by the shop's key or
/// the platform's), `iss`/`aud`, expiry and revocation good, same tenant, sufficient role.
/// `live` admits what an EventSource or WebSocket can send: `?ticket=` (single use) and
/// `?access_token=` (the weaker option: URLs end up in logs).
pub async fn authenticate(
    req: &Request,
    app: &App,
    tenant: &TenantId,
    needed: Role,
    live: bool,
) -> ApiResult<Caller> {
    let from_header = header(req, "authorization");
    let token = match auth::bearer(from_header.as_deref()) {
        Some(t) => Some(t.to_string()),
        None if live => {
            let params = query(req);
            if let Some(ticket) = query_param(&params, "ticket") {
                return redeem_ticket(app, tenant, &ticket, needed).await;
            }
            query_param(&params, "access_token")
        }
        None => None,
    }
    .ok_or_else(|| ApiError::Unauthorized("send Authorization: Bearer <token>".into()))?;
    let secret = app.secret("AUTH_SECRET")?;
    let named = auth::peek(&token)?.tenant;
    let keys = match TenantId::parse(&named) {
        Ok(shop) => tenant_keys(app, shop.as_str()).await?,
        Err(_) => None,
    };
    let claims: Claims =
        auth::authenticate(&token, secret.as_bytes(), keys.as_ref(), app.now_ms / 1000)?;
    auth::authorize_tenant(claims, tenant, needed)
}

/// A ticket opens one live connection as the user it was issued to.
async fn redeem_ticket(
    app: &App,
    tenant: &TenantId,
    ticket: &str,
    needed: Role,
) -> ApiResult<Caller> {
    let holder = db::keys::redeem_ticket(&app.db()?, ticket, app.now_ms / 1000)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("the ticket is unknown, used or expired".into()))?;
    if holder.tenant_id != tenant.as_str() {
        return Err(ApiError::Forbidden(
            "this ticket belongs to another shop".into(),
        ));
    }
    let role = if holder.role == "manager" {
        Role::Manager
    } else {
        Role::Florist
    };
    if needed == Role::Manager && role != Role::Manager {
        return Err(ApiError::Forbidden("only a manager may do this".into()));
    }
    Ok(Caller {
        user_id: holder.user_id,
        role,
        expires_at: holder.token_exp as i64,
    })
}

/// How long a shop's keys are cached in this isolate (a rotation or revocation reaches other
/// isolates within this time; this one at once).
const KEYS_TTL_MS: i64 = 30_000;
/// Shops whose keys one isolate keeps.
const KEYS_CACHED: usize = 1_000;

thread_local! {
    /// Per isolate: shop → (fetched at, its keys). Immutable data read through, bounded.
    static KEYS: RefCell<HashMap<String, (i64, Option<TenantKeys>)>> = RefCell::new(HashMap::new());
}

async fn tenant_keys(app: &App, tenant: &str) -> ApiResult<Option<TenantKeys>> {
    let cached = KEYS.with(|k| {
        k.borrow()
            .get(tenant)
            .filter(|(at, _)| app.now_ms - at < KEYS_TTL_MS)
            .map(|(_, keys)| keys.clone())
    });
    if let Some(keys) = cached {
        return Ok(keys);
    }
    let keys = db::keys::tenant_keys(&app.db()?, tenant).await?;
    KEYS.with(|k| {
        let mut k = k.borrow_mut();
        if k.len() >= KEYS_CACHED {
            k.clear();
        }
        k.insert(tenant.to_string(), (app.now_ms, keys.clone()));
    });
    Ok(keys)
}

/// Drops a shop's cached keys (after a rotation or revocation in this isolate).
pub fn forget_keys(tenant: &str) {
    KEYS.with(|k| k.borrow_mut().remove(tenant));
}

pub fn require_admin(req: &Request, app: &App) -> ApiResult<()> {
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
