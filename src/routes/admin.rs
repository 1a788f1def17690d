//! `/api/admin/…`: the platform operator's routes (bearer `ADMIN_TOKEN`): shops, tokens,
//! maintenance.

use serde_json::{json, Value};
use worker::{Request, Response};

use super::require_admin;
use crate::app::App;
use crate::auth::{self, Claims};
use crate::db;
use crate::domain::{format_timestamp, Role, TenantId, MAX_SHORT};
use crate::error::{ApiError, ApiResult};
use crate::http::{self, json_body, json_response, with_header};

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
pub async fn prune_events(req: &mut Request, app: &App) -> ApiResult<Response> {
    require_admin(req, app)?;
    let body = maintenance_body(req).await?;
    let default = app.var_u64("EVENT_RETENTION_DAYS", 7) * 86_400;
    let older_than = match body.get("olderThanSeconds") {
        None | Some(Value::Null) => default,
        Some(v) => v.as_u64().ok_or_else(|| {
            ApiError::bad_request("invalid_field", "olderThanSeconds must be a whole number")
        })?,
    };
    let tenant = optional_tenant(&body)?;
    let before = format_timestamp(app.now_ms - (older_than as i64) * 1000);
    let deleted =
        db::prune_events(&app.db()?, tenant.as_ref().map(TenantId::as_str), &before).await?;
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

/// Activity entries deleted per statement, so one run stays within a request's limits.
pub const ACTIVITY_PRUNE_BATCH: u32 = 1_000;
/// Statements per run: the cron catches up on the next run if more is due.
const ACTIVITY_PRUNE_ROUNDS: u32 = 20;

/// Deletes activity entries older than `older_than_secs`, in bounded batches; returns how many
/// and the cut-off. Shared by the maintenance route and the scheduled handler.
pub async fn prune_activity_older_than(
    app_db: &worker::D1Database,
    tenant: Option<&TenantId>,
    now_ms: i64,
    older_than_secs: u64,
) -> ApiResult<(u64, String)> {
    let before = format_timestamp(now_ms - (older_than_secs as i64) * 1000);
    let mut deleted = 0;
    for _ in 0..ACTIVITY_PRUNE_ROUNDS {
        let n = db::activity::prune(
            app_db,
            tenant.map(TenantId::as_str),
            &before,
            ACTIVITY_PRUNE_BATCH,
        )
        .await?;
        deleted += n;
        if n < u64::from(ACTIVITY_PRUNE_BATCH) {
            break;
        }
    }
    Ok((deleted, before))
}

/// The retention of the activity log, in seconds (`ACTIVITY_RETENTION_DAYS`, default 90).
pub fn activity_retention_secs(env: &worker::Env) -> u64 {
    http::var_u64(env, "ACTIVITY_RETENTION_DAYS", 90) * 86_400
}

/// POST /api/admin/maintenance/prune-activity
pub async fn prune_activity(req: &mut Request, app: &App) -> ApiResult<Response> {
    require_admin(req, app)?;
    let body = maintenance_body(req).await?;
    let older_than = match body.get("olderThanSeconds") {
        None | Some(Value::Null) => activity_retention_secs(&app.env),
        Some(v) => v
            .as_u64()
            .filter(|s| *s <= 100 * 365 * 86_400)
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_field",
                    "olderThanSeconds must be a whole number of at most 100 years",
                )
            })?,
    };
    let tenant = optional_tenant(&body)?;
    let (deleted, before) =
        prune_activity_older_than(&app.db()?, tenant.as_ref(), app.now_ms, older_than).await?;
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
