//! D1 access. Every statement is scoped by tenant id. Every change commits the order write,
//! the tenant's sequence bump and the event row in ONE `batch()` (atomic: a failing statement
//! rolls the whole batch back), so the event log and the orders can never disagree.
//!
//! The sequence number: `tenants.last_seq` is bumped inside the batch and the event row copies
//! it. D1 runs batches one after another, so seqs are 1, 2, 3, … in commit order with no gap.
//! The bump and the event insert are guarded by `changes() = 1`, i.e. "the order statement
//! before me touched exactly one row": a stale version writes nothing at all.

use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement};

use crate::domain::{Item, Order, OrderStatus, TenantId};
use crate::error::{ApiError, ApiResult};
use crate::events::{Event, EventRow, EventType};

fn text(s: &str) -> JsValue {
    JsValue::from_str(s)
}

fn opt_text(s: Option<&str>) -> JsValue {
    s.map(JsValue::from_str).unwrap_or(JsValue::NULL)
}

fn num(n: i64) -> JsValue {
    JsValue::from_f64(n as f64)
}

fn stmt(db: &D1Database, sql: &str, args: &[JsValue]) -> ApiResult<D1PreparedStatement> {
    Ok(db.prepare(sql).bind(args)?)
}

#[derive(Debug, Clone, Deserialize)]
pub struct TenantRow {
    pub id: String,
    pub name: String,
    pub shopify_domain: Option<String>,
    pub last_seq: f64,
    pub created_at: String,
}

impl TenantRow {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "name": self.name,
            "shopifyDomain": self.shopify_domain,
            "createdAt": self.created_at,
        })
    }
}

pub async fn insert_tenant(
    db: &D1Database,
    id: &TenantId,
    name: &str,
    shopify_domain: Option<&str>,
    now: &str,
) -> ApiResult<TenantRow> {
    let row = stmt(
        db,
        "INSERT INTO tenants (id, name, shopify_domain, created_at) VALUES (?1, ?2, ?3, ?4) \
         RETURNING id, name, shopify_domain, last_seq, created_at",
        &[
            text(id.as_str()),
            text(name),
            opt_text(shopify_domain),
            text(now),
        ],
    )?
    .first::<TenantRow>(None)
    .await
    .map_err(|e| match ApiError::from(e) {
        err if err.is_unique_violation("tenants.shopify_domain") => ApiError::Conflict {
            code: "shopify_domain_taken",
            message: "another shop already uses this Shopify domain".into(),
        },
        err if err.is_unique_violation("tenants.id") => ApiError::Conflict {
            code: "tenant_exists",
            message: format!("a shop with id '{id}' already exists"),
        },
        err => err,
    })?;
    row.ok_or_else(|| ApiError::internal("tenant insert returned no row"))
}

pub async fn get_tenant(db: &D1Database, id: &str) -> ApiResult<Option<TenantRow>> {
    Ok(stmt(
        db,
        "SELECT id, name, shopify_domain, last_seq, created_at FROM tenants WHERE id = ?1",
        &[text(id)],
    )?
    .first::<TenantRow>(None)
    .await?)
}

pub async fn tenant_by_shopify_domain(
    db: &D1Database,
    domain: &str,
) -> ApiResult<Option<TenantRow>> {
    Ok(stmt(
        db,
        "SELECT id, name, shopify_domain, last_seq, created_at FROM tenants \
         WHERE shopify_domain = ?1",
        &[text(&domain.to_ascii_lowercase())],
    )?
    .first::<TenantRow>(None)
    .await?)
}

/// The tenant's latest committed seq (0 for none or unknown tenant).
pub async fn head(db: &D1Database, tenant: &str) -> ApiResult<u64> {
    Ok(get_tenant(db, tenant)
        .await?
        .map(|t| t.last_seq as u64)
        .unwrap_or(0))
}

const ORDER_COLUMNS: &str = "id, order_number, source, shopify_order_id, customer_name, \
     customer_email, delivery_date, items, status, assigned_to, notes, card_message, \
     shopify_note, shopify_updated_at, version, created_at, updated_at, updated_by";

#[derive(Debug, Deserialize)]
struct OrderRow {
    id: String,
    order_number: String,
    source: String,
    shopify_order_id: Option<String>,
    customer_name: String,
    customer_email: Option<String>,
    delivery_date: Option<String>,
    items: String,
    status: String,
    assigned_to: Option<String>,
    notes: String,
    card_message: Option<String>,
    shopify_note: Option<String>,
    shopify_updated_at: Option<String>,
    version: f64,
    created_at: String,
    updated_at: String,
    updated_by: String,
}

impl OrderRow {
    fn into_order(self) -> Order {
        Order {
            id: self.id,
            order_number: self.order_number,
            source: self.source,
            shopify_order_id: self.shopify_order_id,
            customer_name: self.customer_name,
            customer_email: self.customer_email,
            delivery_date: self.delivery_date,
            items: serde_json::from_str::<Vec<Item>>(&self.items).unwrap_or_default(),
            status: OrderStatus::parse(&self.status).unwrap_or(OrderStatus::New),
            assigned_to: self.assigned_to,
            notes: self.notes,
            card_message: self.card_message,
            shopify_note: self.shopify_note,
            shopify_updated_at: self.shopify_updated_at,
            version: self.version as i64,
            created_at: self.created_at,
            updated_at: self.updated_at,
            updated_by: self.updated_by,
        }
    }
}

pub async fn get_order(db: &D1Database, tenant: &str, id: &str) -> ApiResult<Option<Order>> {
    let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE tenant_id = ?1 AND id = ?2");
    Ok(stmt(db, &sql, &[text(tenant), text(id)])?
        .first::<OrderRow>(None)
        .await?
        .map(OrderRow::into_order))
}

pub async fn get_order_by_shopify_id(
    db: &D1Database,
    tenant: &str,
    shopify_id: &str,
) -> ApiResult<Option<Order>> {
    let sql = format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE tenant_id = ?1 AND shopify_order_id = ?2"
    );
    Ok(stmt(db, &sql, &[text(tenant), text(shopify_id)])?
        .first::<OrderRow>(None)
        .await?
        .map(OrderRow::into_order))
}

pub struct ListQuery {
    pub status: Option<OrderStatus>,
    pub assigned_to: Option<String>,
    pub limit: u32,
    /// Position after which to continue: (updated_at, id) of the last order of the previous page.
    pub after: Option<(String, String)>,
}

/// Orders newest change first; returns one page and whether more follow.
pub async fn list_orders(
    db: &D1Database,
    tenant: &str,
    q: &ListQuery,
) -> ApiResult<(Vec<Order>, bool)> {
    let mut sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE tenant_id = ?1");
    let mut args = vec![text(tenant)];
    if let Some(status) = q.status {
        args.push(text(status.as_str()));
        sql.push_str(&format!(" AND status = ?{}", args.len()));
    }
    if let Some(who) = &q.assigned_to {
        args.push(text(who));
        sql.push_str(&format!(" AND assigned_to = ?{}", args.len()));
    }
    if let Some((updated_at, id)) = &q.after {
        args.push(text(updated_at));
        args.push(text(id));
        sql.push_str(&format!(
            " AND (updated_at, id) < (?{}, ?{})",
            args.len() - 1,
            args.len()
        ));
    }
    args.push(num(i64::from(q.limit) + 1));
    sql.push_str(&format!(
        " ORDER BY updated_at DESC, id DESC LIMIT ?{}",
        args.len()
    ));
    let rows = stmt(db, &sql, &args)?.all().await?.results::<OrderRow>()?;
    let more = rows.len() > q.limit as usize;
    let orders = rows
        .into_iter()
        .take(q.limit as usize)
        .map(OrderRow::into_order)
        .collect();
    Ok((orders, more))
}

/// The statement that bumps the tenant's seq, guarded by the order statement before it.
fn bump_seq(db: &D1Database, tenant: &str) -> ApiResult<D1PreparedStatement> {
    stmt(
        db,
        "UPDATE tenants SET last_seq = last_seq + 1 WHERE id = ?1 AND changes() = 1",
        &[text(tenant)],
    )
}

const EVENT_RETURNING: &str =
    "RETURNING tenant_id, seq, type, order_id, ts, updated_by, changes, order_json";

/// What an event row says besides its seq.
struct EventFields<'a> {
    kind: EventType,
    order_id: &'a str,
    ts: &'a str,
    user: &'a str,
    changes: &'a [&'a str],
    order_json: Option<&'a str>,
}

/// The statement that appends the event row with the freshly bumped seq.
fn insert_event(
    db: &D1Database,
    tenant: &str,
    e: EventFields<'_>,
) -> ApiResult<D1PreparedStatement> {
    let changes = serde_json::to_string(e.changes)?;
    stmt(
        db,
        &format!(
            "INSERT INTO events (tenant_id, seq, type, order_id, ts, updated_by, changes, order_json) \
             SELECT id, last_seq, ?2, ?3, ?4, ?5, ?6, ?7 FROM tenants WHERE id = ?1 AND changes() = 1 \
             {EVENT_RETURNING}"
        ),
        &[
            text(tenant),
            text(e.kind.as_str()),
            text(e.order_id),
            text(e.ts),
            text(e.user),
            text(&changes),
            opt_text(e.order_json),
        ],
    )
}

/// Runs a change batch: `statements` end with the event insert, `then` run after it in the
/// same batch (guarded by `changes() = 1` themselves when they must only follow a change).
/// Returns the committed event, or `None` when the guarded order statement touched no row.
async fn commit(
    db: &D1Database,
    mut statements: Vec<D1PreparedStatement>,
    then: Vec<D1PreparedStatement>,
) -> ApiResult<Option<Event>> {
    let event_index = statements.len() - 1;
    statements.extend(then);
    let results = db.batch(statements).await?;
    let Some(result) = results.get(event_index) else {
        return Ok(None);
    };
    Ok(result
        .results::<EventRow>()?
        .into_iter()
        .next()
        .map(EventRow::into_event))
}

fn order_json(order: &Order) -> ApiResult<String> {
    Ok(serde_json::to_string(order)?)
}

/// Inserts a new order and its `order_created` event. `order.order_number` empty means
/// "generate `M-<n>`" from the tenant's counter, inside the same batch. `None` = there is no
/// such tenant (the insert selects from its row, so nothing was written).
pub async fn create_order(
    db: &D1Database,
    tenant: &str,
    order: &Order,
    then: Vec<D1PreparedStatement>,
) -> ApiResult<Option<Event>> {
    let number = Some(order.order_number.as_str()).filter(|n| !n.is_empty());
    let items = serde_json::to_string(&order.items)?;
    let mut statements = Vec::new();
    statements.push(stmt(
        db,
        "UPDATE tenants SET manual_counter = manual_counter + (?2 IS NULL) WHERE id = ?1",
        &[text(tenant), opt_text(number)],
    )?);
    statements.push(stmt(
        db,
        "INSERT INTO orders (tenant_id, id, order_number, source, shopify_order_id, customer_name, \
         customer_email, delivery_date, items, status, assigned_to, notes, card_message, \
         shopify_note, shopify_updated_at, version, created_at, updated_at, updated_by) \
         SELECT ?1, ?2, COALESCE(?3, 'M-' || manual_counter), ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, \
         ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19 FROM tenants WHERE id = ?1",
        &[
            text(tenant),
            text(&order.id),
            opt_text(number),
            text(&order.source),
            opt_text(order.shopify_order_id.as_deref()),
            text(&order.customer_name),
            opt_text(order.customer_email.as_deref()),
            opt_text(order.delivery_date.as_deref()),
            text(&items),
            text(order.status.as_str()),
            opt_text(order.assigned_to.as_deref()),
            text(&order.notes),
            opt_text(order.card_message.as_deref()),
            opt_text(order.shopify_note.as_deref()),
            opt_text(order.shopify_updated_at.as_deref()),
            num(order.version),
            text(&order.created_at),
            text(&order.updated_at),
            text(&order.updated_by),
        ],
    )?);
    statements.push(bump_seq(db, tenant)?);
    // The event's order is the one we built, with the generated number filled in from the row.
    statements.push(stmt(
        db,
        &format!(
            "INSERT INTO events (tenant_id, seq, type, order_id, ts, updated_by, changes, order_json) \
             SELECT t.id, t.last_seq, 'order_created', o.id, o.created_at, o.updated_by, '[]', \
             json_set(?3, '$.orderNumber', o.order_number) \
             FROM tenants t JOIN orders o ON o.tenant_id = t.id AND o.id = ?2 \
             WHERE t.id = ?1 AND changes() = 1 {EVENT_RETURNING}"
        ),
        &[text(tenant), text(&order.id), text(&order_json(order)?)],
    )?);
    commit(db, statements, then).await
}

/// Writes `order` (the full new state, version already bumped) if the stored version is still
/// `expected_version`. `None` = someone else changed it first; nothing was written.
pub async fn update_order(
    db: &D1Database,
    tenant: &str,
    order: &Order,
    expected_version: i64,
    changes: &[&str],
    then: Vec<D1PreparedStatement>,
) -> ApiResult<Option<Event>> {
    let items = serde_json::to_string(&order.items)?;
    let mut statements = Vec::new();
    statements.push(stmt(
        db,
        "UPDATE orders SET order_number = ?4, customer_name = ?5, customer_email = ?6, \
         delivery_date = ?7, items = ?8, status = ?9, assigned_to = ?10, notes = ?11, \
         card_message = ?12, shopify_note = ?13, shopify_updated_at = ?14, version = ?15, \
         updated_at = ?16, updated_by = ?17 \
         WHERE tenant_id = ?1 AND id = ?2 AND version = ?3",
        &[
            text(tenant),
            text(&order.id),
            num(expected_version),
            text(&order.order_number),
            text(&order.customer_name),
            opt_text(order.customer_email.as_deref()),
            opt_text(order.delivery_date.as_deref()),
            text(&items),
            text(order.status.as_str()),
            opt_text(order.assigned_to.as_deref()),
            text(&order.notes),
            opt_text(order.card_message.as_deref()),
            opt_text(order.shopify_note.as_deref()),
            opt_text(order.shopify_updated_at.as_deref()),
            num(order.version),
            text(&order.updated_at),
            text(&order.updated_by),
        ],
    )?);
    statements.push(bump_seq(db, tenant)?);
    let json = order_json(order)?;
    statements.push(insert_event(
        db,
        tenant,
        EventFields {
            kind: EventType::OrderUpdated,
            order_id: &order.id,
            ts: &order.updated_at,
            user: &order.updated_by,
            changes,
            order_json: Some(&json),
        },
    )?);
    commit(db, statements, then).await
}

/// Deletes an order and logs `order_deleted`. `None` = there was no such order.
pub async fn delete_order(
    db: &D1Database,
    tenant: &str,
    id: &str,
    user: &str,
    now: &str,
    then: Vec<D1PreparedStatement>,
) -> ApiResult<Option<Event>> {
    let mut statements = Vec::new();
    statements.push(stmt(
        db,
        "DELETE FROM orders WHERE tenant_id = ?1 AND id = ?2",
        &[text(tenant), text(id)],
    )?);
    statements.push(bump_seq(db, tenant)?);
    statements.push(insert_event(
        db,
        tenant,
        EventFields {
            kind: EventType::OrderDeleted,
            order_id: id,
            ts: now,
            user,
            changes: &[],
            order_json: None,
        },
    )?);
    commit(db, statements, then).await
}

/// Events with `after < seq <= until`, oldest first, at most `limit`.
pub async fn events_between(
    db: &D1Database,
    tenant: &str,
    after: u64,
    until: u64,
    limit: u32,
) -> ApiResult<Vec<Event>> {
    let rows = stmt(
        db,
        "SELECT tenant_id, seq, type, order_id, ts, updated_by, changes, order_json FROM events \
         WHERE tenant_id = ?1 AND seq > ?2 AND seq <= ?3 ORDER BY seq LIMIT ?4",
        &[
            text(tenant),
            num(after as i64),
            num(until.min(i64::MAX as u64) as i64),
            num(i64::from(limit)),
        ],
    )?
    .all()
    .await?
    .results::<EventRow>()?;
    Ok(rows.into_iter().map(EventRow::into_event).collect())
}

/// The oldest seq still in the log, if any.
pub async fn oldest_seq(db: &D1Database, tenant: &str) -> ApiResult<Option<u64>> {
    let v = stmt(
        db,
        "SELECT MIN(seq) AS seq FROM events WHERE tenant_id = ?1",
        &[text(tenant)],
    )?
    .first::<Option<f64>>(Some("seq"))
    .await?;
    Ok(v.flatten().map(|s| s as u64))
}

/// The newest seq committed at or before `ts` (for clients that poll by time).
pub async fn seq_at_time(db: &D1Database, tenant: &str, ts: &str) -> ApiResult<u64> {
    let v = stmt(
        db,
        "SELECT MAX(seq) AS seq FROM events WHERE tenant_id = ?1 AND ts <= ?2",
        &[text(tenant), text(ts)],
    )?
    .first::<Option<f64>>(Some("seq"))
    .await?;
    Ok(v.flatten().map(|s| s as u64).unwrap_or(0))
}

/// The event range one poll reads: after `since` (?2), at most `window` (?3) events, never past
/// the tenant's head. Bounded, so a poll costs at most `window` events whatever the shop's size.
macro_rules! poll_range {
    () => {
        "tenant_id = ?1 AND seq > ?2 \
         AND seq <= MIN(?2 + ?3, (SELECT last_seq FROM tenants WHERE id = ?1))"
    };
}

/// The polling query (public so a test can show its query plan: a primary-key range scan).
pub const CHANGED_SINCE_SQL: &str = concat!(
    "SELECT order_id, MAX(seq) AS last_seq FROM events WHERE ",
    poll_range!(),
    " GROUP BY order_id ORDER BY last_seq"
);

#[derive(Debug, Deserialize)]
struct ChangedRow {
    order_id: String,
    last_seq: f64,
}

#[derive(Debug, Deserialize)]
struct HeadRow {
    last_seq: f64,
}

/// One polling answer's data, read in one batch (one consistent snapshot, one round trip).
pub struct PollWindow {
    pub head: u64,
    /// Orders changed in the window with their latest seq, oldest change first.
    pub changed: Vec<(String, u64)>,
    /// The current state of those still present (the others were deleted).
    pub orders: Vec<Order>,
}

pub async fn poll_window(
    db: &D1Database,
    tenant: &str,
    since: u64,
    window: u64,
) -> ApiResult<PollWindow> {
    let range = [text(tenant), num(since as i64), num(window as i64)];
    let results = db
        .batch(vec![
            stmt(
                db,
                "SELECT last_seq FROM tenants WHERE id = ?1",
                &[text(tenant)],
            )?,
            stmt(db, CHANGED_SINCE_SQL, &range)?,
            stmt(
                db,
                &format!(
                    "SELECT {ORDER_COLUMNS} FROM orders WHERE tenant_id = ?1 AND id IN \
                     (SELECT order_id FROM events WHERE {})",
                    poll_range!()
                ),
                &range,
            )?,
        ])
        .await?;
    let (Some(head), Some(changed), Some(orders)) =
        (results.first(), results.get(1), results.get(2))
    else {
        return Err(ApiError::internal("poll batch returned too few results"));
    };
    Ok(PollWindow {
        head: head
            .results::<HeadRow>()?
            .first()
            .map(|r| r.last_seq as u64)
            .unwrap_or(0),
        changed: changed
            .results::<ChangedRow>()?
            .into_iter()
            .map(|r| (r.order_id, r.last_seq as u64))
            .collect(),
        orders: orders
            .results::<OrderRow>()?
            .into_iter()
            .map(OrderRow::into_order)
            .collect(),
    })
}

/// Deletes events older than `before` (RFC 3339), for one tenant or all; returns how many.
pub async fn prune_events(db: &D1Database, tenant: Option<&str>, before: &str) -> ApiResult<u64> {
    let result = match tenant {
        Some(t) => stmt(
            db,
            "DELETE FROM events WHERE tenant_id = ?1 AND ts < ?2",
            &[text(t), text(before)],
        )?,
        None => stmt(db, "DELETE FROM events WHERE ts < ?1", &[text(before)])?,
    }
    .run()
    .await?;
    Ok(result
        .meta()?
        .and_then(|m| m.changes)
        .map(|c| c as u64)
        .unwrap_or(0))
}

/// Has this webhook delivery been processed already?
pub async fn webhook_seen(db: &D1Database, webhook_id: &str) -> ApiResult<bool> {
    Ok(stmt(
        db,
        "SELECT webhook_id FROM shopify_webhooks WHERE webhook_id = ?1",
        &[text(webhook_id)],
    )?
    .first::<String>(Some("webhook_id"))
    .await?
    .is_some())
}

/// The statement that records a webhook delivery. `after_change`: only if the statement
/// before it in the batch (the event insert) wrote a row, so a delivery is marked done exactly
/// when its change commits.
pub fn record_webhook(
    db: &D1Database,
    webhook_id: &str,
    tenant: &str,
    topic: &str,
    now: &str,
    after_change: bool,
) -> ApiResult<D1PreparedStatement> {
    let guard = if after_change {
        " WHERE changes() = 1"
    } else {
        ""
    };
    stmt(
        db,
        &format!(
            "INSERT INTO shopify_webhooks (webhook_id, tenant_id, topic, received_at) \
             SELECT ?1, ?2, ?3, ?4{guard}"
        ),
        &[text(webhook_id), text(tenant), text(topic), text(now)],
    )
}

/// Remembers the newest Shopify `updated_at` seen for an order even when the payload changed
/// nothing, so an older payload arriving later is still recognised as stale.
pub fn note_shopify_updated_at(
    db: &D1Database,
    tenant: &str,
    order_id: &str,
    updated_at: &str,
) -> ApiResult<D1PreparedStatement> {
    stmt(
        db,
        "UPDATE orders SET shopify_updated_at = ?3 WHERE tenant_id = ?1 AND id = ?2 \
         AND (shopify_updated_at IS NULL OR shopify_updated_at < ?3)",
        &[text(tenant), text(order_id), text(updated_at)],
    )
}

/// Runs statements as one atomic batch (used when a webhook changes nothing but is recorded).
pub async fn run_batch(db: &D1Database, statements: Vec<D1PreparedStatement>) -> ApiResult<()> {
    db.batch(statements).await?;
    Ok(())
}
