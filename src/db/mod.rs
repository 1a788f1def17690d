//! D1 access. Every statement is scoped by tenant id. Every change commits the order write,
//! the tenant's sequence bump, the event row and the activity entry in ONE `batch()` (atomic: a
//! failing statement rolls the whole batch back), so the event log, the activity log and the
//! orders can never disagree. The change batches are in [`changes`], [`locks`] and [`notes`];
//! the activity log's reads in [`activity`]; this module holds the shared pieces and the reads.
//!
//! The sequence number: `tenants.last_seq` is bumped inside the batch and the event row copies
//! it. D1 runs batches one after another, so seqs are 1, 2, 3, … in commit order with no gap.
//! The bump and the event insert are guarded by `changes() = 1`, i.e. "the statement before me
//! touched exactly one row": a change whose conditions do not hold writes nothing at all.

pub mod activity;
pub mod changes;
pub mod idempotency;
pub mod keys;
pub mod locks;
pub mod notes;
pub mod push;

pub use changes::{create_order, delete_order, update_order, update_shopify_order, OrderWrite};

use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement};

use crate::collab::{FieldChange, FieldMeta};
use crate::domain::{Item, Order, OrderLock, OrderStatus, TenantId};
use crate::error::{ApiError, ApiResult};
use crate::events::{Event, EventRow};

fn text(s: &str) -> JsValue {
    JsValue::from_str(s)
}

fn opt_text(s: Option<&str>) -> JsValue {
    s.map(JsValue::from_str).unwrap_or(JsValue::NULL)
}

fn num(n: i64) -> JsValue {
    JsValue::from_f64(n as f64)
}

fn flag(b: bool) -> JsValue {
    num(i64::from(b))
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
    key: &keys::NewKey,
    now: &str,
) -> ApiResult<TenantRow> {
    // The shop and its first signing key, atomically.
    let results = db
        .batch(vec![
            stmt(
                db,
                "INSERT INTO tenants (id, name, shopify_domain, created_at) VALUES (?1, ?2, ?3, ?4) \
                 RETURNING id, name, shopify_domain, last_seq, created_at",
                &[
                    text(id.as_str()),
                    text(name),
                    opt_text(shopify_domain),
                    text(now),
                ],
            )?,
            keys::insert(db, id.as_str(), key, now)?,
        ])
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
    results
        .first()
        .map(|r| r.results::<TenantRow>())
        .transpose()?
        .and_then(|rows| rows.into_iter().next())
        .ok_or_else(|| ApiError::internal("tenant insert returned no row"))
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
     shopify_note, shopify_updated_at, version, created_at, updated_at, updated_by, \
     lock_holder, lock_acquired_at, lock_expires_at, lock_version, status_v, status_by, status_at, \
     assigned_to_v, assigned_to_by, assigned_to_at, notes_v, notes_by, notes_at, \
     shopify_triggered_at";

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
    lock_holder: Option<String>,
    lock_acquired_at: Option<String>,
    lock_expires_at: Option<String>,
    lock_version: f64,
    status_v: f64,
    status_by: Option<String>,
    status_at: Option<String>,
    assigned_to_v: f64,
    assigned_to_by: Option<String>,
    assigned_to_at: Option<String>,
    notes_v: f64,
    notes_by: Option<String>,
    notes_at: Option<String>,
    shopify_triggered_at: Option<String>,
}

impl OrderRow {
    /// The order as of `now`: a lease that ran out reads as no lock, whatever cleanup has run.
    fn into_order(self, now: &str) -> ApiResult<Order> {
        Ok(self.into_parts(now)?.0)
    }

    /// A row whose items or status do not parse is corrupt: our error (logged, 500), never
    /// silently shown as a `new` order with no items.
    fn into_parts(self, now: &str) -> ApiResult<(Order, FieldMeta)> {
        let corrupt =
            |what: &str| ApiError::internal(format!("order {} has corrupt {what}", self.id));
        let items = serde_json::from_str::<Vec<Item>>(&self.items).map_err(|_| corrupt("items"))?;
        let status = OrderStatus::parse(&self.status).ok_or_else(|| corrupt("status"))?;
        let lock = match (self.lock_holder, self.lock_expires_at) {
            (Some(holder), Some(expires_at)) if expires_at.as_str() > now => Some(OrderLock {
                holder,
                expires_at,
                lock_version: self.lock_version as i64,
                acquired_at: self.lock_acquired_at.unwrap_or_default(),
            }),
            _ => None,
        };
        let meta = FieldMeta {
            status: FieldChange {
                version: self.status_v as i64,
                by: self.status_by,
                at: self.status_at,
            },
            assigned_to: FieldChange {
                version: self.assigned_to_v as i64,
                by: self.assigned_to_by,
                at: self.assigned_to_at,
            },
            notes: FieldChange {
                version: self.notes_v as i64,
                by: self.notes_by,
                at: self.notes_at,
            },
        };
        let order = Order {
            id: self.id,
            order_number: self.order_number,
            source: self.source,
            shopify_order_id: self.shopify_order_id,
            customer_name: self.customer_name,
            customer_email: self.customer_email,
            delivery_date: self.delivery_date,
            items,
            status,
            assigned_to: self.assigned_to,
            notes: self.notes,
            card_message: self.card_message,
            shopify_note: self.shopify_note,
            shopify_updated_at: self.shopify_updated_at,
            shopify_triggered_at: self.shopify_triggered_at,
            version: self.version as i64,
            created_at: self.created_at,
            updated_at: self.updated_at,
            updated_by: self.updated_by,
            lock,
        };
        Ok((order, meta))
    }
}

/// An event's `ts`: the commit time, taken inside the batch, and never before the shop's previous
/// event, so `ts` grows with `seq` (pruning by time never cuts a hole in the log, and polling by
/// time never skips an event). Needs the tenant id as `?1`.
pub(crate) const COMMIT_TS: &str = "MAX(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), \
     COALESCE((SELECT MAX(ts) FROM events WHERE tenant_id = ?1), ''))";

/// The order's JSON (the same shape as [`Order`]'s) built by SQLite from the row aliased `o`,
/// so an event carries the state its own batch wrote. `now` is the SQL parameter holding the
/// commit time (an expired lease is `null`).
fn order_json_sql(now: &str) -> String {
    order_json_sql_with(now, |column| format!("o.{column}"))
}

/// [`order_json_sql`] with each column read through `column` (the SQL of its value by name):
/// the JSON of a row as a statement that has not run yet will leave it.
fn order_json_sql_with(now: &str, column: impl Fn(&str) -> String) -> String {
    let c = column;
    format!(
        "json_object('id', {}, 'orderNumber', {}, 'source', {}, \
         'shopifyOrderId', {}, 'customerName', {}, \
         'customerEmail', {}, 'deliveryDate', {}, \
         'items', json({}), 'status', {}, 'assignedTo', {}, \
         'notes', {}, 'cardMessage', {}, 'shopifyNote', {}, \
         'version', {}, 'createdAt', {}, 'updatedAt', {}, \
         'updatedBy', {}, 'lock', json(CASE WHEN {} IS NOT NULL \
         AND {} > {now} THEN json_object('holder', {}, \
         'expiresAt', {}, 'lockVersion', {}) END))",
        c("id"),
        c("order_number"),
        c("source"),
        c("shopify_order_id"),
        c("customer_name"),
        c("customer_email"),
        c("delivery_date"),
        c("items"),
        c("status"),
        c("assigned_to"),
        c("notes"),
        c("card_message"),
        c("shopify_note"),
        c("version"),
        c("created_at"),
        c("updated_at"),
        c("updated_by"),
        c("lock_holder"),
        c("lock_expires_at"),
        c("lock_holder"),
        c("lock_expires_at"),
        c("lock_version"),
    )
}

/// The statement that reads one order with its field history (the last statement of a change
/// batch: the state the batch left, from which a refusal is explained).
fn snapshot(db: &D1Database, tenant: &str, id: &str) -> ApiResult<D1PreparedStatement> {
    stmt(
        db,
        &format!("SELECT {ORDER_COLUMNS} FROM orders WHERE tenant_id = ?1 AND id = ?2"),
        &[text(tenant), text(id)],
    )
}

pub async fn get_order(
    db: &D1Database,
    tenant: &str,
    id: &str,
    now: &str,
) -> ApiResult<Option<Order>> {
    snapshot(db, tenant, id)?
        .first::<OrderRow>(None)
        .await?
        .map(|row| row.into_order(now))
        .transpose()
}

pub async fn get_order_by_shopify_id(
    db: &D1Database,
    tenant: &str,
    shopify_id: &str,
    now: &str,
) -> ApiResult<Option<Order>> {
    let sql = format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE tenant_id = ?1 AND shopify_order_id = ?2"
    );
    stmt(db, &sql, &[text(tenant), text(shopify_id)])?
        .first::<OrderRow>(None)
        .await?
        .map(|row| row.into_order(now))
        .transpose()
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
    now: &str,
) -> ApiResult<(Vec<Order>, bool, u64)> {
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
    // The head in the same batch: a snapshot of the list and the event position it reflects,
    // so a client can load the list and then apply every event after `head`.
    let results = db
        .batch(vec![
            stmt(
                db,
                "SELECT last_seq FROM tenants WHERE id = ?1",
                &[text(tenant)],
            )?,
            stmt(db, &sql, &args)?,
        ])
        .await?;
    let head = results
        .first()
        .map(|r| r.results::<HeadOnly>())
        .transpose()?
        .and_then(|rows| rows.into_iter().next())
        .map_or(0, |r| r.last_seq as u64);
    let rows = match results.get(1) {
        Some(r) => r.results::<OrderRow>()?,
        None => Vec::new(),
    };
    let more = rows.len() > q.limit as usize;
    let orders = rows
        .into_iter()
        .take(q.limit as usize)
        .map(|row| row.into_order(now))
        .collect::<ApiResult<_>>()?;
    Ok((orders, more, head))
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
        "SELECT tenant_id, seq, type, order_id, ts, updated_by, changes, order_json, data FROM events \
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
struct HeadOnly {
    last_seq: f64,
}

#[derive(Debug, Deserialize)]
struct HeadRow {
    last_seq: f64,
    oldest: Option<f64>,
}

/// One polling answer's data, read in one batch (one consistent snapshot, one round trip).
pub struct PollWindow {
    pub head: u64,
    /// The oldest event still in the log (`None`: the log is empty).
    pub oldest: Option<u64>,
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
    now: &str,
) -> ApiResult<PollWindow> {
    let range = [text(tenant), num(since as i64), num(window as i64)];
    let results = db
        .batch(vec![
            stmt(
                db,
                "SELECT last_seq, (SELECT MIN(seq) FROM events WHERE tenant_id = ?1) AS oldest \
                 FROM tenants WHERE id = ?1",
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
    let head = head.results::<HeadRow>()?.into_iter().next();
    Ok(PollWindow {
        oldest: head.as_ref().and_then(|r| r.oldest).map(|o| o as u64),
        head: head.map(|r| r.last_seq as u64).unwrap_or(0),
        changed: changed
            .results::<ChangedRow>()?
            .into_iter()
            .map(|r| (r.order_id, r.last_seq as u64))
            .collect(),
        orders: orders
            .results::<OrderRow>()?
            .into_iter()
            .map(|row| row.into_order(now))
            .collect::<ApiResult<_>>()?,
    })
}

/// Deletes up to `limit` events committed before `before` (RFC 3339), of one shop or all;
/// returns how many. `ts` grows with `seq`, so this removes a prefix of each shop's log and
/// never cuts a hole in it.
pub async fn prune_events(
    db: &D1Database,
    tenant: Option<&str>,
    before: &str,
    limit: u32,
) -> ApiResult<u64> {
    let result = stmt(
        db,
        "DELETE FROM events WHERE (tenant_id, seq) IN \
         (SELECT tenant_id, seq FROM events WHERE ts < ?1 AND (?2 IS NULL OR tenant_id = ?2) \
         LIMIT ?3)",
        &[text(before), opt_text(tenant), num(i64::from(limit))],
    )?
    .run()
    .await?;
    Ok(changed_rows(&result))
}

fn changed_rows(result: &worker::D1Result) -> u64 {
    result
        .meta()
        .ok()
        .flatten()
        .and_then(|m| m.changes)
        .map(|c| c as u64)
        .unwrap_or(0)
}

/// Deletes up to `limit` webhook delivery records received before `before` (dedupe only needs
/// them while Shopify may still retry).
pub async fn prune_webhook_records(db: &D1Database, before: &str, limit: u32) -> ApiResult<u64> {
    let result = stmt(
        db,
        "DELETE FROM shopify_webhooks WHERE webhook_id IN \
         (SELECT webhook_id FROM shopify_webhooks WHERE received_at < ?1 LIMIT ?2)",
        &[text(before), num(i64::from(limit))],
    )?
    .run()
    .await?;
    Ok(changed_rows(&result))
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

/// The `WHERE` that makes an `INSERT … SELECT` run only when the statement before it in the
/// batch wrote a row (empty when `after_change` is false).
fn after_change_guard(after_change: bool) -> &'static str {
    if after_change {
        " WHERE changes() = 1"
    } else {
        ""
    }
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
    let guard = after_change_guard(after_change);
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
    triggered_at: Option<&str>,
) -> ApiResult<D1PreparedStatement> {
    stmt(
        db,
        "UPDATE orders SET shopify_updated_at = ?3, shopify_triggered_at = ?4 \
         WHERE tenant_id = ?1 AND id = ?2 \
         AND (shopify_updated_at IS NULL OR shopify_updated_at < ?3)",
        &[
            text(tenant),
            text(order_id),
            text(updated_at),
            opt_text(triggered_at),
        ],
    )
}

/// Runs statements as one atomic batch (used when a webhook changes nothing but is recorded).
pub async fn run_batch(db: &D1Database, statements: Vec<D1PreparedStatement>) -> ApiResult<()> {
    db.batch(statements).await?;
    Ok(())
}

/// Does order `id` exist in the shop?
pub async fn order_exists(db: &D1Database, tenant: &str, id: &str) -> ApiResult<bool> {
    Ok(stmt(
        db,
        "SELECT 1 AS found FROM orders WHERE tenant_id = ?1 AND id = ?2",
        &[text(tenant), text(id)],
    )?
    .first::<f64>(Some("found"))
    .await?
    .is_some())
}

/// Was this Shopify order deleted here (by Shopify or a manager)? Then no webhook brings it back.
pub async fn is_tombstoned(db: &D1Database, tenant: &str, shopify_id: &str) -> ApiResult<bool> {
    Ok(stmt(
        db,
        "SELECT 1 AS found FROM shopify_tombstones WHERE tenant_id = ?1 AND shopify_order_id = ?2",
        &[text(tenant), text(shopify_id)],
    )?
    .first::<f64>(Some("found"))
    .await?
    .is_some())
}

/// The statement that remembers a Shopify order as deleted (for a deletion that arrives before
/// its order, too).
pub fn tombstone(
    db: &D1Database,
    tenant: &str,
    shopify_id: &str,
    now: &str,
) -> ApiResult<D1PreparedStatement> {
    stmt(
        db,
        "INSERT OR IGNORE INTO shopify_tombstones (tenant_id, shopify_order_id, deleted_at) \
         VALUES (?1, ?2, ?3)",
        &[text(tenant), text(shopify_id), text(now)],
    )
}

/// The statement that logs a refused Shopify cancellation of a delivered order (an activity
/// entry that is no event: nothing others see changed).
/// With `after_change`, only if the statement before it in the batch wrote a row.
pub fn cancel_refused(
    db: &D1Database,
    tenant: &str,
    order_id: &str,
    now: &str,
    after_change: bool,
) -> ApiResult<D1PreparedStatement> {
    let guard = after_change_guard(after_change);
    stmt(
        db,
        &format!(
            "INSERT INTO activity (tenant_id, seq, at, actor, source, action, order_id, changes) \
             SELECT ?1, NULL, ?3, 'shopify', 'shopify', 'cancel_refused', ?2, \
             json_object('status', json_object('from', 'delivered', 'to', 'cancelled')){guard}"
        ),
        &[text(tenant), text(order_id), text(now)],
    )
}

/// A webhook delivery kept for a shop no tenant is connected to yet.
#[derive(Debug, Clone, Deserialize)]
pub struct Parked {
    pub id: f64,
    pub topic: String,
    pub dedupe_key: String,
    pub webhook_id: String,
    pub triggered_at: Option<String>,
    pub body: String,
}

/// Most deliveries kept per unknown shop (each up to 1 MiB; Shopify retries what is refused).
pub const MAX_PARKED_PER_SHOP: u64 = 1_000;

/// Keeps a delivery for an unknown shop. `Ok(false)` when that shop already has
/// [`MAX_PARKED_PER_SHOP`] waiting. A repeated dedupe key is kept once.
#[allow(clippy::too_many_arguments)]
pub async fn park_webhook(
    db: &D1Database,
    shop: &str,
    topic: &str,
    dedupe_key: &str,
    webhook_id: &str,
    triggered_at: Option<&str>,
    body: &str,
    now: &str,
) -> ApiResult<bool> {
    let result = stmt(
        db,
        "INSERT OR IGNORE INTO shopify_parked \
         (shop_domain, topic, dedupe_key, webhook_id, triggered_at, body, received_at) \
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 \
         WHERE (SELECT COUNT(*) FROM shopify_parked WHERE shop_domain = ?1) < ?8",
        &[
            text(shop),
            text(topic),
            text(dedupe_key),
            text(webhook_id),
            opt_text(triggered_at),
            text(body),
            text(now),
            num(MAX_PARKED_PER_SHOP as i64),
        ],
    )?
    .run()
    .await?;
    if changed_rows(&result) == 1 {
        return Ok(true);
    }
    // Nothing inserted: a duplicate of one already kept is fine, a full shop is not.
    let kept = stmt(
        db,
        "SELECT 1 AS found FROM shopify_parked WHERE dedupe_key = ?1",
        &[text(dedupe_key)],
    )?
    .first::<f64>(Some("found"))
    .await?;
    Ok(kept.is_some())
}

/// The deliveries kept for `shop`, oldest first, at most `limit`.
pub async fn parked_for(db: &D1Database, shop: &str, limit: u32) -> ApiResult<Vec<Parked>> {
    Ok(stmt(
        db,
        "SELECT id, topic, dedupe_key, webhook_id, triggered_at, body FROM shopify_parked \
         WHERE shop_domain = ?1 ORDER BY id LIMIT ?2",
        &[text(shop), num(i64::from(limit))],
    )?
    .all()
    .await?
    .results::<Parked>()?)
}

pub async fn unpark(db: &D1Database, id: f64) -> ApiResult<()> {
    stmt(
        db,
        "DELETE FROM shopify_parked WHERE id = ?1",
        &[JsValue::from_f64(id)],
    )?
    .run()
    .await?;
    Ok(())
}

/// Deletes up to `limit` parked deliveries received before `before`.
pub async fn prune_parked(db: &D1Database, before: &str, limit: u32) -> ApiResult<u64> {
    let result = stmt(
        db,
        "DELETE FROM shopify_parked WHERE id IN \
         (SELECT id FROM shopify_parked WHERE received_at < ?1 LIMIT ?2)",
        &[text(before), num(i64::from(limit))],
    )?
    .run()
    .await?;
    Ok(changed_rows(&result))
}
