//! The one path a change takes: commit it to D1 (one atomic batch: the order row, the tenant's
//! sequence, the event row) and hand the committed event to the tenant's hub. The REST routes
//! and the Shopify webhook both call it, so every change is logged and broadcast the same way.

use crate::app::App;
use crate::db;
use crate::domain::{Order, TenantId};
use crate::error::{ApiError, ApiResult};
use crate::events::Event;
use crate::hub_do;

/// Commits a new order (404 if the shop does not exist) and publishes its event. `then` runs in
/// the same batch after the event insert (e.g. the webhook's delivery record).
pub async fn create(
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
