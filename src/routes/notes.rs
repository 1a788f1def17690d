//! `/api/tenants/{t}/orders/{id}/notes`: the order's note thread. Notes are appended, never
//! edited, so two florists adding at once both land.

use serde_json::json;
use worker::Response;

use super::orders::{board_write, locked};
use crate::app::App;
use crate::auth::Caller;
use crate::collab::{self, parse_note_text};
use crate::commit;
use crate::db::{self, notes};
use crate::domain::TenantId;
use crate::error::{ApiError, ApiResult};
use crate::http::{json_body, json_response, Request};

/// POST /api/tenants/{t}/orders/{id}/notes
pub async fn add(
    req: &mut Request,
    app: &App,
    tenant: &TenantId,
    order_id: &str,
    caller: &Caller,
) -> ApiResult<Response> {
    let text = parse_note_text(&json_body(req).await?)?;
    let now = app.now();
    let w = board_write(tenant, caller, &now);
    let note_id = crate::new_id()?;
    let outcome = notes::add(&app.db()?, &w, order_id, &note_id, &text).await?;
    let outcome = commit::published(app, tenant, outcome);
    if let Some(note) = outcome.main.as_ref().and_then(|e| e.data.get("note")) {
        return json_response(201, note);
    }
    match &outcome.current {
        None => Err(ApiError::NotFound("no such order".into())),
        Some((order, _)) => match collab::blocking_lock(order, &caller.user_id, &now) {
            Some(lock) => Err(locked(order_id, lock)),
            None => Err(ApiError::internal(format!(
                "note on {order_id} not written"
            ))),
        },
    }
}

/// GET /api/tenants/{t}/orders/{id}/notes
pub async fn list(app: &App, tenant: &TenantId, order_id: &str) -> ApiResult<Response> {
    let db = app.db()?;
    let notes = notes::list(&db, tenant.as_str(), order_id).await?;
    if notes.is_empty() && !db::order_exists(&db, tenant.as_str(), order_id).await? {
        return Err(ApiError::NotFound("no such order".into()));
    }
    json_response(200, &json!({ "notes": notes }))
}
