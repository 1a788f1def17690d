//! The REST routes: one table of (method, path pattern) → endpoint ([`ROUTES`], checked
//! against `docs/openapi.json` by a unit test), then the resource's module. A route's handler
//! is found from its path: `/api/admin/…` → [`admin`], `/api/tenants/{t}/orders[/{id}]` →
//! [`orders`], `…/orders/{id}/lock` → [`locks`], `…/orders/{id}/notes` → [`notes`],
//! `…/orders/{id}/activity` and `/api/tenants/{t}/activity` → [`activity`],
//! `/api/tenants/{t}/realtime/…` and the polling route → [`realtime`], `/api/webhooks/shopify` →
//! [`webhooks`], `/api/push/…` and `/api/tenants/{t}/push/…` → [`push`], `/api/openapi.json`
//! (the contract) → [`openapi`]; every path outside `/api/` (the board's files) → [`web`]. Each
//! handler reads as its steps: authorize, parse, call the core, commit (one D1 batch), publish,
//! respond. The caller of a tenant route is resolved once, here.

pub mod activity;
pub mod admin;
pub mod health;
pub mod locks;
pub mod notes;
pub mod openapi;
pub mod orders;
pub mod push;
pub mod realtime;
pub mod web;
pub mod webhooks;

use std::cell::RefCell;
use std::collections::HashMap;

use worker::{Method, Response};

use crate::app::App;
use crate::auth::{self, Caller, Claims, TenantKeys};
use crate::db;
use crate::domain::{Role, TenantId};
use crate::error::{ApiError, ApiResult};
use crate::http::{header, query, query_param, Request};

/// What a request asks for, once its method and path are matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Health,
    OpenApi,
    CreateTenant,
    RotateSigningKey,
    RevokeTokens,
    MintToken,
    PruneEvents,
    PruneActivity,
    VapidPublicKey,
    ShopifyWebhook,
    /// A route under `/api/tenants/{tenantId}`, for the shop's own users.
    Shop(ShopEndpoint),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShopEndpoint {
    ListOrders,
    CreateOrder,
    PollChanges,
    GetOrder,
    UpdateOrder,
    DeleteOrder,
    AcquireLock,
    ReleaseLock,
    ListNotes,
    AddNote,
    OrderActivity,
    ShopActivity,
    Subscribe,
    LiveTicket,
    WebSocket,
    Presence,
    Stats,
    ListPushSubs,
    AddPushSub,
    RemovePushSub,
}

impl ShopEndpoint {
    /// The least role that may call it.
    fn needs(self) -> Role {
        match self {
            Self::DeleteOrder | Self::ShopActivity | Self::Stats => Role::Manager,
            _ => Role::Florist,
        }
    }

    /// EventSource and browser WebSockets cannot set headers: these take `?ticket=` and
    /// `?access_token=`.
    fn is_live(self) -> bool {
        matches!(self, Self::Subscribe | Self::WebSocket)
    }
}

/// Every route of the Worker: method, path pattern exactly as `docs/openapi.json` spells it,
/// endpoint. A path is matched by the first pattern that fits it (so literal segments such as
/// `realtime-status` come before a `{parameter}` in the same place); the method then picks the
/// route among that pattern's entries, or the answer is 405. A unit test checks this table and
/// the OpenAPI document against each other, both ways.
#[rustfmt::skip]
pub const ROUTES: &[(Method, &str, Endpoint)] = {
    use Endpoint::*;
    use ShopEndpoint::*;
    &[
        (Method::Get,    "/api/health",                                       Health),
        (Method::Get,    "/api/openapi.json",                                 OpenApi),
        (Method::Post,   "/api/admin/tenants",                                CreateTenant),
        (Method::Post,   "/api/admin/tenants/{tenantId}/signing-keys",        RotateSigningKey),
        (Method::Put,    "/api/admin/tenants/{tenantId}/tokens-not-before",   RevokeTokens),
        (Method::Post,   "/api/admin/tenants/{tenantId}/tokens",              MintToken),
        (Method::Post,   "/api/admin/maintenance/prune-events",               PruneEvents),
        (Method::Post,   "/api/admin/maintenance/prune-activity",             PruneActivity),
        (Method::Get,    "/api/push/vapid-public-key",                        VapidPublicKey),
        (Method::Post,   "/api/webhooks/shopify",                             ShopifyWebhook),
        (Method::Get,    "/api/tenants/{tenantId}/orders",                    Shop(ListOrders)),
        (Method::Post,   "/api/tenants/{tenantId}/orders",                    Shop(CreateOrder)),
        (Method::Get,    "/api/tenants/{tenantId}/orders/realtime-status",    Shop(PollChanges)),
        (Method::Get,    "/api/tenants/{tenantId}/orders/{orderId}",          Shop(GetOrder)),
        (Method::Put,    "/api/tenants/{tenantId}/orders/{orderId}",          Shop(UpdateOrder)),
        (Method::Delete, "/api/tenants/{tenantId}/orders/{orderId}",          Shop(DeleteOrder)),
        (Method::Post,   "/api/tenants/{tenantId}/orders/{orderId}/lock",     Shop(AcquireLock)),
        (Method::Delete, "/api/tenants/{tenantId}/orders/{orderId}/lock",     Shop(ReleaseLock)),
        (Method::Get,    "/api/tenants/{tenantId}/orders/{orderId}/notes",    Shop(ListNotes)),
        (Method::Post,   "/api/tenants/{tenantId}/orders/{orderId}/notes",    Shop(AddNote)),
        (Method::Get,    "/api/tenants/{tenantId}/orders/{orderId}/activity", Shop(OrderActivity)),
        (Method::Get,    "/api/tenants/{tenantId}/activity",                  Shop(ShopActivity)),
        (Method::Get,    "/api/tenants/{tenantId}/realtime/orders",           Shop(Subscribe)),
        (Method::Post,   "/api/tenants/{tenantId}/realtime/tickets",          Shop(LiveTicket)),
        (Method::Get,    "/api/tenants/{tenantId}/realtime/ws",               Shop(WebSocket)),
        (Method::Get,    "/api/tenants/{tenantId}/presence",                  Shop(Presence)),
        (Method::Get,    "/api/tenants/{tenantId}/realtime/stats",            Shop(Stats)),
        (Method::Get,    "/api/tenants/{tenantId}/push/subscriptions",        Shop(ListPushSubs)),
        (Method::Post,   "/api/tenants/{tenantId}/push/subscriptions",        Shop(AddPushSub)),
        (Method::Delete, "/api/tenants/{tenantId}/push/subscriptions",        Shop(RemovePushSub)),
    ]
};

/// A matched route: its endpoint, its pattern (what the request log names) and the path's
/// `{tenantId}` and `{orderId}` (empty when the pattern has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched<'a> {
    pub endpoint: Endpoint,
    pub pattern: &'static str,
    pub tenant: &'a str,
    pub order_id: &'a str,
}

/// The segments of `pattern` against those of a path: `Some((tenantId, orderId))` when it fits.
fn fit<'a>(pattern: &str, segments: &[&'a str]) -> Option<(&'a str, &'a str)> {
    let parts: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    if parts.len() != segments.len() {
        return None;
    }
    let (mut tenant, mut order) = ("", "");
    for (part, segment) in parts.iter().zip(segments) {
        match *part {
            "{tenantId}" => tenant = segment,
            "{orderId}" => order = segment,
            literal if literal == *segment => {}
            _ => return None,
        }
    }
    Some((tenant, order))
}

/// The first pattern of [`ROUTES`] that fits `path`, with the path's `{tenantId}` and
/// `{orderId}` (empty when the pattern has none), whatever the method.
pub fn locate(path: &str) -> Option<(&'static str, &str, &str)> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    ROUTES.iter().find_map(|(_, pattern, _)| {
        let (tenant, order_id) = fit(pattern, &segments)?;
        Some((*pattern, tenant, order_id))
    })
}

/// Matches a request to its route: 404 when no pattern fits the path, 405 when one does but
/// not with this method. Pure, so the table is tested natively.
pub fn resolve<'a>(method: &Method, path: &'a str) -> ApiResult<Matched<'a>> {
    let (pattern, tenant, order_id) = locate(path).ok_or_else(|| ApiError::no_route(path))?;
    let (_, _, endpoint) = ROUTES
        .iter()
        .find(|(m, p, _)| *p == pattern && m == method)
        .ok_or(ApiError::MethodNotAllowed)?;
    Ok(Matched {
        endpoint: *endpoint,
        pattern,
        tenant,
        order_id,
    })
}

/// Routes one request.
pub async fn route(mut req: Request, app: &App) -> ApiResult<Response> {
    let path = req.path();
    if web::is_static(&path) {
        return match req.method() {
            Method::Get | Method::Head => web::serve(req, app).await,
            _ => Err(ApiError::MethodNotAllowed),
        };
    }
    let matched = resolve(&req.method(), &path)?;
    match matched.endpoint {
        Endpoint::Health => health::health(&req, app).await,
        Endpoint::OpenApi => openapi::document(app).await,
        Endpoint::CreateTenant => admin::create_tenant(&mut req, app).await,
        Endpoint::RotateSigningKey => {
            let resp = admin::rotate_signing_key(&mut req, app, matched.tenant).await;
            forget_keys(matched.tenant);
            resp
        }
        Endpoint::RevokeTokens => admin::set_tokens_not_before(&mut req, app, matched.tenant).await,
        Endpoint::MintToken => admin::mint_token(&mut req, app, matched.tenant).await,
        Endpoint::PruneEvents => admin::prune_events(&mut req, app).await,
        Endpoint::PruneActivity => admin::prune_activity(&mut req, app).await,
        Endpoint::VapidPublicKey => push::vapid_public_key(app),
        Endpoint::ShopifyWebhook => webhooks::shopify(&mut req, app).await,
        Endpoint::Shop(endpoint) => {
            let tenant = TenantId::parse(matched.tenant)
                .map_err(|_| ApiError::NotFound("no such shop".into()))?;
            shop_route(endpoint, req, app, &tenant, matched.order_id).await
        }
    }
}

/// A route of one shop: the caller is resolved once, here (the WebSocket route too, so it
/// answers the same 401/403 as the SSE route before any upgrade), then the handler runs.
async fn shop_route(
    endpoint: ShopEndpoint,
    mut req: Request,
    app: &App,
    tenant: &TenantId,
    id: &str,
) -> ApiResult<Response> {
    let caller = authenticate(&req, app, tenant, endpoint.needs(), endpoint.is_live()).await?;
    match endpoint {
        ShopEndpoint::ListOrders => orders::list(&req, app, tenant).await,
        ShopEndpoint::CreateOrder => orders::create(&mut req, app, tenant, &caller).await,
        ShopEndpoint::PollChanges => realtime::poll(&req, app, tenant).await,
        ShopEndpoint::GetOrder => orders::get(app, tenant, id).await,
        ShopEndpoint::UpdateOrder => orders::update(&mut req, app, tenant, id, &caller).await,
        ShopEndpoint::DeleteOrder => orders::delete(app, tenant, id, &caller).await,
        ShopEndpoint::AcquireLock => locks::acquire(&mut req, app, tenant, id, &caller).await,
        ShopEndpoint::ReleaseLock => locks::release(app, tenant, id, &caller).await,
        ShopEndpoint::ListNotes => notes::list(app, tenant, id).await,
        ShopEndpoint::AddNote => notes::add(&mut req, app, tenant, id, &caller).await,
        ShopEndpoint::OrderActivity => activity::for_order(&req, app, tenant, id).await,
        ShopEndpoint::ShopActivity => activity::for_shop(&req, app, tenant).await,
        ShopEndpoint::Subscribe => realtime::subscribe(&req, app, tenant, &caller).await,
        ShopEndpoint::LiveTicket => realtime::ticket(app, tenant, &caller).await,
        ShopEndpoint::WebSocket => realtime::websocket(&req, app, tenant, &caller).await,
        ShopEndpoint::Presence => realtime::presence(app, tenant).await,
        ShopEndpoint::Stats => realtime::stats(app, tenant).await,
        ShopEndpoint::ListPushSubs => push::list(app, tenant, &caller).await,
        ShopEndpoint::AddPushSub => push::subscribe(&mut req, app, tenant, &caller).await,
        ShopEndpoint::RemovePushSub => push::unsubscribe(&req, app, tenant, &caller).await,
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];

    fn document() -> Value {
        serde_json::from_str(openapi::DOCUMENT).expect("docs/openapi.json is JSON")
    }

    /// (method, path) of every operation the document describes.
    fn documented() -> Vec<(String, String)> {
        let doc = document();
        let paths = doc["paths"].as_object().expect("paths");
        let mut ops = Vec::new();
        for (path, item) in paths {
            for method in METHODS {
                if item.get(method).is_some() {
                    ops.push((method.to_string(), path.clone()));
                }
            }
        }
        ops
    }

    fn routed() -> Vec<(String, String)> {
        ROUTES
            .iter()
            .map(|(m, p, _)| (m.as_ref().to_ascii_lowercase(), p.to_string()))
            .collect()
    }

    #[test]
    fn every_route_is_in_the_openapi_document() {
        let documented = documented();
        let missing: Vec<_> = routed()
            .into_iter()
            .filter(|r| !documented.contains(r))
            .collect();
        assert!(
            missing.is_empty(),
            "routes docs/openapi.json lacks: {missing:?}"
        );
    }

    #[test]
    fn every_documented_operation_is_served_by_a_route() {
        let routed = routed();
        let extra: Vec<_> = documented()
            .into_iter()
            .filter(|d| !routed.contains(d))
            .collect();
        assert!(extra.is_empty(), "documented but not routed: {extra:?}");
    }

    #[test]
    fn every_route_is_reached_by_its_own_paths() {
        // No route is shadowed by an earlier pattern: a path of the pattern's shape (parameters
        // filled in) resolves to that very route.
        for (method, pattern, endpoint) in ROUTES {
            let path = pattern
                .replace("{tenantId}", "rose-garden")
                .replace("{orderId}", "3b0c1d2e");
            let matched = resolve(method, &path).unwrap_or_else(|e| panic!("{path}: {e}"));
            assert_eq!((matched.endpoint, matched.pattern), (*endpoint, *pattern));
        }
    }

    #[test]
    fn every_documented_operation_names_its_security_and_answers() {
        let doc = document();
        for (method, path) in documented() {
            let op = &doc["paths"][&path][&method];
            assert!(
                op["operationId"].is_string(),
                "{method} {path}: operationId"
            );
            assert!(op["security"].is_array(), "{method} {path}: security");
            let answers = op["responses"].as_object().expect("responses");
            assert!(
                answers.keys().any(|s| s.starts_with('2') || s == "101"),
                "{method} {path}: no success answer"
            );
            let needs_auth = !op["security"].as_array().is_some_and(Vec::is_empty);
            assert_eq!(
                answers.contains_key("401"),
                needs_auth || path == "/api/webhooks/shopify",
                "{method} {path}: 401 documented iff the route takes credentials"
            );
        }
    }

    #[test]
    fn paths_resolve_with_parameters_and_literals_in_their_place() {
        let m = resolve(&Method::Get, "/api/tenants/demo/orders/realtime-status").unwrap();
        assert_eq!(m.endpoint, Endpoint::Shop(ShopEndpoint::PollChanges));
        let m = resolve(&Method::Put, "/api/tenants/demo/orders/o-1").unwrap();
        assert_eq!(m.endpoint, Endpoint::Shop(ShopEndpoint::UpdateOrder));
        assert_eq!((m.tenant, m.order_id), ("demo", "o-1"));
        assert_eq!(m.pattern, "/api/tenants/{tenantId}/orders/{orderId}");
        let m = resolve(&Method::Post, "/api/admin/tenants/demo/tokens").unwrap();
        assert_eq!((m.endpoint, m.tenant), (Endpoint::MintToken, "demo"));
        // Empty segments are ignored, as before the table.
        let m = resolve(&Method::Get, "//api/health/").unwrap();
        assert_eq!(m.endpoint, Endpoint::Health);
    }

    #[test]
    fn an_unknown_path_is_404_and_a_known_path_with_another_method_is_405() {
        for path in [
            "/",
            "/api",
            "/api/nope",
            "/api/tenants/demo",
            "/api/tenants/demo/x",
        ] {
            assert_eq!(
                resolve(&Method::Get, path).unwrap_err().status(),
                404,
                "{path}"
            );
        }
        for (method, path) in [
            (Method::Post, "/api/health"),
            (Method::Get, "/api/admin/tenants"),
            (Method::Patch, "/api/tenants/demo/orders/o-1"),
            // The literal segment wins: not an update of an order called "realtime-status".
            (Method::Put, "/api/tenants/demo/orders/realtime-status"),
        ] {
            assert_eq!(resolve(&method, path).unwrap_err().status(), 405, "{path}");
        }
    }
}
