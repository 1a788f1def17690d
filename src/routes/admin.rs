//! `/api/admin/…`: the platform operator's routes (bearer `ADMIN_TOKEN`): shops, tokens,
//! maintenance.

use serde_json::{json, Value};
use worker::Response;

use super::require_admin;
use crate::app::App;
use crate::auth::{self, Claims};
use crate::db;
use crate::domain::{format_timestamp, Role, TenantId, MAX_SHORT};
use crate::error::{ApiError, ApiResult};
use crate::http::{self, json_body, json_response, with_header, Request};
use crate::retention::{self, Retention};

fn str_field<'a>(body: &'a Value, key: &str) -> Option<&'a str> {
    body.get(key).and_then(Value::as_str)
}

/// POST /api/admin/tenants
pub async fn create_tenant(req: &mut Request, app: &App) -> ApiResult<Response> {
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
    let key = db::keys::new_key()?;
    let tenant =
        db::insert_tenant(&app.db()?, &id, name, domain.as_deref(), &key, &app.now()).await?;
    let mut body = tenant.to_json();
    // The shop's own login service signs its users' tokens with this (HS256, header `kid`).
    body["signingKey"] = json!({ "kid": key.kid, "secret": key.secret });
    if let Some(domain) = &domain {
        // Orders Shopify sent before the shop was connected arrive now.
        body["replayedWebhooks"] = json!(super::webhooks::replay_parked(app, &id, domain).await?);
    }
    let resp = json_response(201, &body)?;
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
pub async fn mint_token(req: &mut Request, app: &App, tenant: &str) -> ApiResult<Response> {
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
    let now = app.now_ms / 1000;
    let exp = now + ttl;
    let claims = Claims {
        sub: user_id.to_string(),
        tenant: tenant.to_string(),
        role,
        exp,
        iss: Some(auth::ISSUER.to_string()),
        aud: Some(auth::audience(tenant)),
        iat: Some(now),
    };
    // Signed with the shop's current key, like its own login service would.
    let keys = db::keys::tenant_keys(&db, tenant)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no shop with id '{tenant}'")))?;
    let key = keys
        .current()
        .ok_or_else(|| ApiError::internal(format!("shop {tenant} has no current signing key")))?;
    let token = auth::sign_with(&claims, &key.secret, Some(&key.kid));
    json_response(
        201,
        &json!({ "token": token, "expiresAt": format_timestamp(exp * 1000) }),
    )
}

/// POST /api/admin/maintenance/prune-events
pub async fn prune_events(req: &mut Request, app: &App) -> ApiResult<Response> {
    require_admin(req, app)?;
    let body = maintenance_body(req).await?;
    let default = Retention::from_env(&app.env).events_secs;
    let before = retention::cutoff(app.now_ms, older_than(&body, default)?);
    let tenant = optional_tenant(&body)?;
    let deleted = retention::prune_events(&app.db()?, tenant.as_ref(), &before).await?;
    json_response(200, &json!({ "deleted": deleted, "before": before }))
}

/// A maintenance body: optional, a JSON object when present.
async fn maintenance_body(req: &mut Request) -> ApiResult<Value> {
    match http::optional_json_body(req).await? {
        Value::Null => Ok(json!({})),
        body @ Value::Object(_) => Ok(body),
        _ => Err(ApiError::bad_request(
            "invalid_body",
            "the body must be a JSON object",
        )),
    }
}

/// POST /api/admin/maintenance/prune-activity
pub async fn prune_activity(req: &mut Request, app: &App) -> ApiResult<Response> {
    require_admin(req, app)?;
    let body = maintenance_body(req).await?;
    let default = Retention::from_env(&app.env).activity_secs;
    let before = retention::cutoff(app.now_ms, older_than(&body, default)?);
    let tenant = optional_tenant(&body)?;
    let deleted = retention::prune_activity(&app.db()?, tenant.as_ref(), &before).await?;
    json_response(200, &json!({ "deleted": deleted, "before": before }))
}

/// The optional `tenantId` of a maintenance body (all shops when absent).
fn optional_tenant(body: &Value) -> ApiResult<Option<TenantId>> {
    match body.get("tenantId") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(t)) => Ok(Some(TenantId::parse(t)?)),
        Some(_) => Err(ApiError::bad_request(
            "invalid_field",
            "tenantId must be a string",
        )),
    }
}

/// `olderThanSeconds` of a maintenance body: a whole number of at most 100 years (a larger one
/// would reach before the epoch and delete everything).
fn older_than(body: &Value, default: u64) -> ApiResult<u64> {
    match body.get("olderThanSeconds") {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_u64()
            .filter(|s| *s <= retention::MAX_AGE_SECS)
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_field",
                    "olderThanSeconds must be a whole number of at most 100 years",
                )
            }),
    }
}

/// POST /api/admin/tenants/{tenantId}/signing-keys
pub async fn rotate_signing_key(req: &mut Request, app: &App, tenant: &str) -> ApiResult<Response> {
    require_admin(req, app)?;
    let body = maintenance_body(req).await?;
    let grace = match body.get("graceSeconds") {
        None | Some(Value::Null) => 86_400,
        Some(v) => v
            .as_i64()
            .filter(|g| (0..=7 * 86_400).contains(g))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_field",
                    "graceSeconds must be between 0 and 604800 (7 days)",
                )
            })?,
    };
    let key = db::keys::new_key()?;
    let retire_at = app.now_ms / 1000 + grace;
    if !db::keys::rotate(&app.db()?, tenant, &key, retire_at, &app.now()).await? {
        return Err(ApiError::NotFound(format!("no shop with id '{tenant}'")));
    }
    json_response(
        201,
        &json!({
            "kid": key.kid,
            "secret": key.secret,
            "createdAt": app.now(),
            "previousKeysRetireAt": format_timestamp(retire_at * 1000),
        }),
    )
}

/// PUT /api/admin/tenants/{tenantId}/tokens-not-before
pub async fn set_tokens_not_before(
    req: &mut Request,
    app: &App,
    tenant: &str,
) -> ApiResult<Response> {
    require_admin(req, app)?;
    let body = maintenance_body(req).await?;
    let at = match body.get("tokensNotBefore") {
        None | Some(Value::Null) => app.now_ms / 1000,
        Some(Value::String(t)) => chrono::DateTime::parse_from_rfc3339(t)
            .map(|t| t.timestamp())
            .map_err(|_| {
                ApiError::bad_request("invalid_field", "tokensNotBefore must be RFC 3339")
            })?,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_field",
                "tokensNotBefore must be RFC 3339",
            ))
        }
    };
    if !db::keys::set_tokens_not_before(&app.db()?, tenant, at).await? {
        return Err(ApiError::NotFound(format!("no shop with id '{tenant}'")));
    }
    crate::routes::forget_keys(tenant);
    json_response(
        200,
        &json!({ "tokensNotBefore": format_timestamp(at * 1000) }),
    )
}
