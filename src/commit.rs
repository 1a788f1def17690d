//! The one path a change takes: its D1 batch (the order row, the tenant's sequence, the event
//! row and the activity entry, atomically; see [`crate::db`]) and then every event that batch
//! committed handed to the tenant's hub, in seq order. The REST routes and the Shopify webhook
//! both go through here, so every change is logged and broadcast the same way.

use crate::app::App;
use crate::db::{self, changes::Outcome, OrderWrite};
use crate::domain::{Order, TenantId};
use crate::error::{ApiError, ApiResult};
use crate::events::Event;
use crate::hub_do;

/// Publishes every event a change batch committed (lease expiries included) and hands the
/// outcome back to the route, which answers from it.
pub fn published(app: &App, tenant: &TenantId, outcome: Outcome) -> Outcome {
    for event in &outcome.events {
        hub_do::publish(app, tenant, event);
    }
    outcome
}

/// Commits a new order (404 if the shop does not exist) and publishes its event. `then` runs in
/// the same batch after the event insert (e.g. the webhook's delivery record).
pub async fn create(
    app: &App,
    w: &OrderWrite<'_>,
    tenant: &TenantId,
    order: &Order,
    then: Vec<worker::D1PreparedStatement>,
) -> ApiResult<Event> {
    // One round trip: the batch inserts from the tenant's row, so an unknown shop writes nothing.
    let outcome = published(
        app,
        tenant,
        db::create_order(&app.db()?, w, order, then).await?,
    );
    outcome
        .main
        .ok_or_else(|| ApiError::NotFound("no such shop".into()))
}
