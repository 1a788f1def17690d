//! `/api/tenants/{t}/orders/{id}/lock`: edit locks (leases). `POST` takes or renews the lease
//! (a manager's `{"force":true}` takes it over), `DELETE` releases it (holder) or breaks it
//! (manager). While a lease is live, other users' writes to the order get 423.

use worker::Response;

use super::orders::{board_write, lock_json, locked};
use crate::app::App;
use crate::auth::Caller;
use crate::collab::LockRequest;
use crate::commit;
use crate::db::locks;
use crate::domain::{format_timestamp, Role, TenantId};
use crate::error::{ApiError, ApiResult};
use crate::http::{json_response, optional_json_body, Request};

/// POST /api/tenants/{t}/orders/{id}/lock
pub async fn acquire(
    req: &mut Request,
    app: &App,
    tenant: &TenantId,
    id: &str,
    caller: &Caller,
) -> ApiResult<Response> {
    let ask = LockRequest::try_from(&optional_json_body(req).await?)?;
    if ask.force && caller.role != Role::Manager {
        return Err(ApiError::Forbidden(
            "only a manager can take over someone else's lock".into(),
        ));
    }
    let now = app.now();
    let expires_at = format_timestamp(app.now_ms + ask.ttl_seconds * 1000);
    let w = board_write(tenant, caller, &now);
    let outcome = locks::acquire(&app.db()?, &w, id, &expires_at, ask.force).await?;
    let outcome = commit::published(app, tenant, outcome);
    let Some((order, _)) = &outcome.current else {
        return Err(ApiError::NotFound("no such order".into()));
    };
    match &order.lock {
        Some(lock) if lock.holder == caller.user_id => json_response(200, &lock_json(id, lock)),
        Some(lock) => Err(locked(id, lock)),
        None => Err(ApiError::internal(format!("lock of {id} was not taken"))),
    }
}

/// DELETE /api/tenants/{t}/orders/{id}/lock
pub async fn release(
    app: &App,
    tenant: &TenantId,
    id: &str,
    caller: &Caller,
) -> ApiResult<Response> {
    let now = app.now();
    let w = board_write(tenant, caller, &now);
    let may_break = caller.role == Role::Manager;
    let outcome = locks::release(&app.db()?, &w, id, may_break).await?;
    let outcome = commit::published(app, tenant, outcome);
    if outcome.main.is_some() {
        return Ok(Response::empty()?.with_status(204));
    }
    match &outcome.current {
        None => Err(ApiError::NotFound("no such order".into())),
        Some((order, _)) if order.lock.is_none() => Err(ApiError::NotFoundCode {
            code: "not_locked",
            message: "the order is not locked".into(),
        }),
        Some(_) => Err(ApiError::Forbidden(
            "only the lock's holder or a manager can release it".into(),
        )),
    }
}
