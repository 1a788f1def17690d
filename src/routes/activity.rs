//! The activity log ("who did what when"): `GET /api/tenants/{t}/orders/{id}/activity` for an
//! order (still answers after the order was deleted) and `GET /api/tenants/{t}/activity` for the
//! whole shop (managers; filters `actor`, `orderId`). Newest first, paged by `before`.

use serde_json::json;
use worker::Response;

use crate::app::App;
use crate::collab::ActivityPage;
use crate::db::{self, activity};
use crate::domain::TenantId;
use crate::error::{ApiError, ApiResult};
use crate::http::{json_response, query, Request};

/// GET /api/tenants/{t}/orders/{id}/activity
pub async fn for_order(
    req: &Request,
    app: &App,
    tenant: &TenantId,
    order_id: &str,
) -> ApiResult<Response> {
    let mut q = ActivityPage::parse(&query(req), false)?;
    q.order_id = Some(order_id.to_string());
    let db = app.db()?;
    let page = activity::page(&db, tenant.as_str(), &q).await?;
    // An order that never existed here (another shop's, or made up) has no history at all.
    if page.entries.is_empty()
        && q.before.is_none()
        && !db::order_exists(&db, tenant.as_str(), order_id).await?
    {
        return Err(ApiError::NotFound("no such order".into()));
    }
    respond(page)
}

/// GET /api/tenants/{t}/activity
pub async fn for_shop(req: &Request, app: &App, tenant: &TenantId) -> ApiResult<Response> {
    let q = ActivityPage::parse(&query(req), true)?;
    respond(activity::page(&app.db()?, tenant.as_str(), &q).await?)
}

fn respond(page: activity::Page) -> ApiResult<Response> {
    json_response(
        200,
        &json!({
            "entries": page.entries,
            "nextBefore": page.next_before.map(|b| b.to_string()),
        }),
    )
}
