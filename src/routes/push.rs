//! Web Push: `GET /api/push/vapid-public-key` (the browser's `applicationServerKey`) and
//! `/api/tenants/{t}/push/subscriptions` (the caller's own subscriptions). Delivery is the
//! hub's job ([`crate::push_delivery`]); these routes only store what a browser hands over.

use serde_json::json;
use worker::Response;

use crate::app::App;
use crate::auth::Caller;
use crate::db::push::{self, Saved};
use crate::domain::TenantId;
use crate::error::{ApiError, ApiResult};
use crate::http::{json_body, json_response, query, query_param, Request};
use crate::push_delivery;
use crate::push_rules::{NewSubscription, MAX_SUBSCRIPTIONS_PER_USER};

/// GET /api/push/vapid-public-key
pub fn vapid_public_key(app: &App) -> ApiResult<Response> {
    let key = push_delivery::vapid_key(&app.env)?;
    json_response(200, &json!({ "publicKey": key.public_key_b64url() }))
}

/// POST /api/tenants/{t}/push/subscriptions
pub async fn subscribe(
    req: &mut Request,
    app: &App,
    tenant: &TenantId,
    caller: &Caller,
) -> ApiResult<Response> {
    let body = json_body(req).await?;
    let sub = NewSubscription::parse(&body, push_delivery::allow_localhost(&app.env))?;
    let saved = push::save(
        &app.db()?,
        tenant.as_str(),
        &caller.user_id,
        &sub,
        &app.now(),
    )
    .await?;
    match saved {
        Saved::Created(row) => json_response(201, &row.view()),
        Saved::Updated(row) => json_response(200, &row.view()),
        Saved::LimitReached => Err(ApiError::Conflict {
            code: "too_many_subscriptions",
            message: format!(
                "you already have {MAX_SUBSCRIPTIONS_PER_USER} push subscriptions; remove one first"
            ),
        }),
        Saved::NoShop => Err(ApiError::NotFound("no such shop".into())),
    }
}

/// GET /api/tenants/{t}/push/subscriptions
pub async fn list(app: &App, tenant: &TenantId, caller: &Caller) -> ApiResult<Response> {
    let rows = push::list_for_user(&app.db()?, tenant.as_str(), &caller.user_id).await?;
    let views: Vec<_> = rows.iter().map(push::SubscriptionRow::view).collect();
    json_response(200, &json!({ "subscriptions": views }))
}

/// DELETE /api/tenants/{t}/push/subscriptions?endpoint=
pub async fn unsubscribe(
    req: &Request,
    app: &App,
    tenant: &TenantId,
    caller: &Caller,
) -> ApiResult<Response> {
    let endpoint = query_param(&query(req), "endpoint")
        .filter(|e| !e.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request("invalid_query", "name the subscription: ?endpoint=<url>")
        })?;
    if push::delete_for_user(&app.db()?, tenant.as_str(), &caller.user_id, &endpoint).await? {
        Ok(Response::empty()?.with_status(204))
    } else {
        Err(ApiError::NotFound(
            "you have no push subscription with this endpoint".into(),
        ))
    }
}
