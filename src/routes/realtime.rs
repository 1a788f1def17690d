//! The live routes: the SSE stream (`/api/tenants/{t}/realtime/orders`), the hub's stats, and
//! the polling fallback (`/api/tenants/{t}/orders/realtime-status`).

use serde_json::json;
use worker::Response;

use crate::app::App;
use crate::auth::Caller;
use crate::domain::{normalize_timestamp, Order, TenantId};
use crate::error::{ApiError, ApiResult};
use crate::http::{header, json_response, query, query_param, Request};
use crate::hub_do;
use crate::{cursor, db};

/// Where a live connection resumes: the `Last-Event-ID` header wins over `?lastEventId=`
/// (EventSource sends the header itself when it reconnects).
fn resume_id(req: &Request) -> Option<String> {
    header(req, "last-event-id")
        .or_else(|| query_param(&query(req), "lastEventId"))
        .filter(|s| !s.trim().is_empty())
}

/// GET /api/tenants/{t}/realtime/orders (SSE)
pub async fn subscribe(
    req: &Request,
    app: &App,
    tenant: &TenantId,
    caller: &Caller,
) -> ApiResult<Response> {
    hub_do::subscribe(app, tenant, caller, resume_id(req)).await
}

/// GET /api/tenants/{t}/realtime/ws (WebSocket)
pub async fn websocket(
    req: &Request,
    app: &App,
    tenant: &TenantId,
    caller: &Caller,
) -> ApiResult<Response> {
    let upgrade = header(req, "upgrade").unwrap_or_default();
    if !upgrade.eq_ignore_ascii_case("websocket") {
        return Err(ApiError::UpgradeRequired);
    }
    hub_do::websocket(app, tenant, caller, resume_id(req)).await
}

/// How long a ticket may wait to be used.
const TICKET_SECS: i64 = 30;

/// POST /api/tenants/{t}/realtime/tickets: a single-use, 30 s ticket that opens one live
/// connection (`?ticket=`) as the caller, so no token travels in a URL.
pub async fn ticket(app: &App, tenant: &TenantId, caller: &Caller) -> ApiResult<Response> {
    let ticket = crate::new_id()?.replace('-', "");
    let expires_at = app.now_ms / 1000 + TICKET_SECS;
    let holder = db::keys::TicketHolder {
        tenant_id: tenant.to_string(),
        user_id: caller.user_id.clone(),
        role: match caller.role {
            crate::domain::Role::Manager => "manager".into(),
            crate::domain::Role::Florist => "florist".into(),
        },
        token_exp: caller.expires_at as f64,
    };
    db::keys::issue_ticket(&app.db()?, &ticket, &holder, expires_at).await?;
    json_response(
        201,
        &json!({
            "ticket": ticket,
            "expiresAt": crate::domain::format_timestamp(expires_at * 1000),
        }),
    )
}

/// GET /api/tenants/{t}/presence
pub async fn presence(app: &App, tenant: &TenantId) -> ApiResult<Response> {
    hub_do::presence(app, tenant).await
}

/// GET /api/tenants/{t}/realtime/stats
pub async fn stats(app: &App, tenant: &TenantId) -> ApiResult<Response> {
    hub_do::stats(app, tenant).await
}

/// Events one polling answer covers; `hasMore` tells the client to ask again from `cursor`.
const POLL_WINDOW: u64 = 500;

/// GET /api/tenants/{t}/orders/realtime-status?since=
pub async fn poll(req: &Request, app: &App, tenant: &TenantId) -> ApiResult<Response> {
    let db = app.db()?;
    let since = match query_param(&query(req), "since").filter(|s| !s.is_empty()) {
        None => 0,
        Some(s) if s.bytes().all(|b| b.is_ascii_digit()) => s
            .parse::<u64>()
            .ok()
            .filter(|n| *n < (1 << 52))
            .ok_or_else(|| ApiError::bad_request("invalid_since", "since is too large"))?,
        Some(s) => {
            let ts = normalize_timestamp(&s).ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_since",
                    "since must be an event id or an RFC 3339 timestamp",
                )
            })?;
            db::seq_at_time(&db, tenant.as_str(), &ts).await?
        }
    };
    let poll = db::poll_window(&db, tenant.as_str(), since, POLL_WINDOW, &app.now()).await?;
    if !cursor::serves(since, poll.oldest, poll.head) {
        // Changes after `since` were pruned (a deletion among them would be lost), or `since`
        // was never issued: the client must reload the list and continue from the head.
        return json_response(
            200,
            &json!({ "resync": true, "cursor": poll.head.to_string() }),
        );
    }
    let end = since.saturating_add(POLL_WINDOW);
    let mut more = end < poll.head;
    let mut cursor = if more { end } else { poll.head };
    // Walk the changes oldest first: each order once, in the order things happened; an order
    // that is gone from the table was deleted. The answer is budgeted in bytes: once full, it
    // ends at the last change it holds and says `hasMore` (an order left out is sent, in its
    // latest state, by the next answer).
    let mut current: std::collections::HashMap<String, Order> =
        poll.orders.into_iter().map(|o| (o.id.clone(), o)).collect();
    let (mut orders, mut deleted) = (Vec::new(), Vec::new());
    let mut used = 0;
    let mut last_included = since;
    for (id, seq) in poll.changed {
        let order = current.remove(&id);
        let size = match &order {
            Some(o) => serde_json::to_string(o)?.len(),
            None => id.len() + 3,
        };
        if used + size > crate::http::PAGE_BYTES && used > 0 {
            more = true;
            cursor = last_included;
            break;
        }
        used += size;
        last_included = seq;
        match order {
            Some(order) => orders.push(order),
            None => deleted.push(id),
        }
    }
    json_response(
        200,
        &json!({
            "cursor": cursor.to_string(),
            "orders": orders,
            "deletedOrderIds": deleted,
            "hasMore": more,
        }),
    )
}
