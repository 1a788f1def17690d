//! The order change batches: create, update (a florist's patch), Shopify's update, delete. Each
//! is ONE D1 batch, one round trip: the conditions of the change (the lease, the status
//! machine, the `If-Match` merge) are checked by SQL inside the batch, against the state the
//! batch sees, so a write never loses a race and never needs a retry. The batch ends with a
//! snapshot of the order, from which [`crate::collab::explain_refusal`] says why a change that
//! did not apply was refused.
//!
//! Every change batch for an order starts with the lease-expiry sweep for that order
//! ([`expire_locks`]), so an `order_unlocked` (`expired`) event always comes before any later
//! event of the order. [`update_order`], the busiest, folds the sweep into its own statements
//! (same events, entries and row; 5 statements instead of 9).

use serde_json::Value;
use worker::{D1Database, D1PreparedStatement};

use super::{
    flag, num, opt_text, order_json_sql, order_json_sql_with, snapshot, stmt, text, OrderRow,
    COMMIT_TS,
};
use crate::collab::{FieldMeta, Precondition};
use crate::domain::{Order, OrderPatch};
use crate::error::{ApiError, ApiResult};
use crate::events::{Event, EventRow, EventType};

pub(super) const EVENT_RETURNING: &str =
    "RETURNING tenant_id, seq, type, order_id, ts, updated_by, changes, order_json, data";

/// Who makes a change, from where, when: what every change batch records.
#[derive(Debug, Clone, Copy)]
pub struct OrderWrite<'a> {
    pub tenant: &'a str,
    /// The user id events and activity name (`shopify`, `system` for those sources).
    pub user: &'a str,
    /// Activity source: `board`, `shopify`, `admin` or `system`.
    pub source: &'static str,
    /// Commit time, RFC 3339 (sorts as text).
    pub now: &'a str,
}

/// What a change batch did.
pub struct Outcome {
    /// Every event it committed, oldest first (lease expiries first, then the change's own).
    pub events: Vec<Event>,
    /// The change's own event; `None` = its conditions did not hold and it wrote nothing.
    pub main: Option<Event>,
    /// The order (with its field history) as the batch left it; `None` = no such order.
    pub current: Option<(Order, FieldMeta)>,
}

/// A batch under construction: which statements return events, which one is the change's
/// own event, and which reads the final state of the order.
#[derive(Default)]
pub(super) struct Batch {
    statements: Vec<D1PreparedStatement>,
    event_at: Vec<usize>,
    main_at: Option<usize>,
    /// When the main statement returns other events too: the main one's type.
    main_kind: Option<EventType>,
    snapshot_at: Option<usize>,
}

impl Batch {
    pub(super) fn push(&mut self, s: D1PreparedStatement) {
        self.statements.push(s);
    }

    pub(super) fn push_events(&mut self, s: D1PreparedStatement) {
        self.event_at.push(self.statements.len());
        self.statements.push(s);
    }

    pub(super) fn push_main_event(&mut self, s: D1PreparedStatement) {
        self.main_at = Some(self.statements.len());
        self.push_events(s);
    }

    /// A statement that returns the change's own event (the one of type `kind`) among others.
    fn push_events_with_main(&mut self, s: D1PreparedStatement, kind: EventType) {
        self.main_kind = Some(kind);
        self.push_main_event(s);
    }

    pub(super) fn push_snapshot(&mut self, s: D1PreparedStatement) {
        self.snapshot_at = Some(self.statements.len());
        self.statements.push(s);
    }

    pub(super) fn extend(&mut self, then: Vec<D1PreparedStatement>) {
        self.statements.extend(then);
    }

    pub(super) async fn run(self, db: &D1Database, now: &str) -> ApiResult<Outcome> {
        let results = db.batch(self.statements).await?;
        let mut events = Vec::new();
        let mut main = None;
        for &at in &self.event_at {
            let Some(result) = results.get(at) else {
                return Err(ApiError::internal("change batch returned too few results"));
            };
            for row in result.results::<EventRow>()? {
                let event = row.into_event();
                if Some(at) == self.main_at && self.main_kind.is_none_or(|k| k == event.kind) {
                    main = Some(event.clone());
                }
                events.push(event);
            }
        }
        events.sort_by_key(Event::seq);
        let current = match self.snapshot_at.and_then(|at| results.get(at)) {
            Some(result) => result
                .results::<OrderRow>()?
                .into_iter()
                .next()
                .map(|row| row.into_parts(now))
                .transpose()?,
            None => None,
        };
        Ok(Outcome {
            events,
            main,
            current,
        })
    }
}

/// The statement that bumps the tenant's seq, guarded by the statement before it.
pub(super) fn bump_seq(db: &D1Database, tenant: &str) -> ApiResult<D1PreparedStatement> {
    stmt(
        db,
        "UPDATE tenants SET last_seq = last_seq + 1 WHERE id = ?1 AND changes() = 1",
        &[text(tenant)],
    )
}

/// Which leases a sweep ends, as a condition on the order row `o` with `?1` the tenant, `?2`
/// an order or user id, `?3` the time; and how the ending is recorded.
pub(super) struct LeaseSweep<'a> {
    pub filter: &'a str,
    /// Activity action (`lock_expired`, `unlocked`).
    pub action: &'a str,
    /// Event reason (`expired`, `released`).
    pub reason: &'a str,
    /// The SQL time the event's order JSON is read at (past every lease → `lock: null`).
    pub order_time: &'a str,
}

/// The row `$p` (`"o."` or `""`) holds a lease whose time is up at `?3`: the one condition of the
/// [`EXPIRED`] sweep and of the sweep folded into [`update_order`] (`lease_expired!`).
macro_rules! lease_run_out {
    ($p:literal) => {
        concat!(
            "(",
            $p,
            "lock_holder IS NOT NULL AND ",
            $p,
            "lock_expires_at <= ?3)"
        )
    };
}

/// [`lease_run_out!`] as 0 or 1, never NULL.
macro_rules! lease_expired {
    ($p:literal) => {
        concat!("(", lease_run_out!($p), " IS TRUE)")
    };
}

/// Leases (of one order, or of the whole shop when `?2` is NULL) whose time is up.
const EXPIRED: LeaseSweep<'static> = LeaseSweep {
    filter: concat!(
        "o.tenant_id = ?1 AND (?2 IS NULL OR o.id = ?2) AND ",
        lease_run_out!("o.")
    ),
    action: "lock_expired",
    reason: "expired",
    order_time: "?3",
};

/// The first seq of a sweep's entries is the tenant's next; one each, in order of order id.
const SWEEP_NUMBERED: &str = "t.last_seq + ROW_NUMBER() OVER (ORDER BY o.id)";

impl LeaseSweep<'_> {
    /// The rows of the activity entries a sweep logs (columns of `activity`, `seq` to `changes`).
    fn activity_select(&self) -> String {
        let LeaseSweep { filter, action, .. } = self;
        format!(
            "SELECT t.id, {SWEEP_NUMBERED}, ?3, 'system', 'system', '{action}', o.id, \
             json_object('lock', json_object('from', o.lock_holder, 'to', NULL)) \
             FROM tenants t JOIN orders o ON o.tenant_id = t.id WHERE t.id = ?1 AND {filter}"
        )
    }

    /// The rows of the `order_unlocked` events a sweep commits (every column of `events`).
    fn event_select(&self) -> String {
        let LeaseSweep {
            filter,
            reason,
            order_time,
            ..
        } = self;
        format!(
            "SELECT t.id, {SWEEP_NUMBERED}, 'order_unlocked', o.id, {COMMIT_TS}, 'system', '[]', \
             {}, json_object('reason', '{reason}', 'previousHolder', o.lock_holder, \
             'lockVersion', o.lock_version) \
             FROM tenants t JOIN orders o ON o.tenant_id = t.id WHERE t.id = ?1 AND {filter}",
            order_json_sql(order_time)
        )
    }
}

const ACTIVITY_INSERT: &str =
    "INSERT INTO activity (tenant_id, seq, at, actor, source, action, order_id, changes)";
const EVENT_INSERT: &str =
    "INSERT INTO events (tenant_id, seq, type, order_id, ts, updated_by, changes, order_json, data)";

/// Appends a lease sweep: for each lease it ends, an activity entry, an `order_unlocked` event
/// with the next seq, and the lease cleared — one statement each for all of them.
pub(super) fn end_leases(
    db: &D1Database,
    batch: &mut Batch,
    sweep: &LeaseSweep<'_>,
    args: &[wasm_bindgen::JsValue; 3],
) -> ApiResult<()> {
    let filter = sweep.filter;
    batch.push(stmt(
        db,
        &format!("{ACTIVITY_INSERT} {}", sweep.activity_select()),
        args,
    )?);
    batch.push_events(stmt(
        db,
        &format!("{EVENT_INSERT} {} {EVENT_RETURNING}", sweep.event_select()),
        args,
    )?);
    batch.push(stmt(
        db,
        &format!(
            "UPDATE tenants SET last_seq = last_seq + \
             (SELECT COUNT(*) FROM orders o WHERE {filter}) WHERE id = ?1"
        ),
        args,
    )?);
    batch.push(stmt(
        db,
        &format!(
            "UPDATE orders SET lock_holder = NULL, lock_acquired_at = NULL, lock_expires_at = NULL \
             WHERE (tenant_id, id) IN (SELECT o.tenant_id, o.id FROM orders o WHERE {filter})"
        ),
        args,
    )?);
    Ok(())
}

/// Appends the lease-expiry sweep (of one order, or of the whole shop when `order` is `None`).
pub(super) fn expire_locks(
    db: &D1Database,
    batch: &mut Batch,
    tenant: &str,
    order: Option<&str>,
    now: &str,
) -> ApiResult<()> {
    end_leases(
        db,
        batch,
        &EXPIRED,
        &[text(tenant), opt_text(order), text(now)],
    )
}

/// The statement that logs an activity entry for the change whose event was just inserted
/// (guarded by it), with `changes` given as JSON.
fn activity_after_event(
    db: &D1Database,
    w: &OrderWrite<'_>,
    action: &str,
    order_id: &str,
    changes: &str,
) -> ApiResult<D1PreparedStatement> {
    stmt(
        db,
        "INSERT INTO activity (tenant_id, seq, at, actor, source, action, order_id, changes) \
         SELECT id, last_seq, ?2, ?3, ?4, ?5, ?6, json(?7) FROM tenants \
         WHERE id = ?1 AND changes() = 1",
        &[
            text(w.tenant),
            text(w.now),
            text(w.user),
            text(w.source),
            text(action),
            text(order_id),
            text(changes),
        ],
    )
}

/// Inserts a new order and its `order_created` event. `order.order_number` empty means
/// "generate `M-<n>`" from the tenant's counter, inside the same batch. `main: None` = there
/// is no such tenant (the insert selects from its row, so nothing was written).
pub async fn create_order(
    db: &D1Database,
    w: &OrderWrite<'_>,
    order: &Order,
    then: Vec<D1PreparedStatement>,
) -> ApiResult<Outcome> {
    let tenant = w.tenant;
    let number = Some(order.order_number.as_str()).filter(|n| !n.is_empty());
    let items = serde_json::to_string(&order.items)?;
    let mut batch = Batch::default();
    batch.push(stmt(
        db,
        "UPDATE tenants SET manual_counter = manual_counter + (?2 IS NULL) WHERE id = ?1",
        &[text(tenant), opt_text(number)],
    )?);
    // The creator set every florist field: each "last changed" at version 1.
    batch.push(stmt(
        db,
        "INSERT INTO orders (tenant_id, id, order_number, source, shopify_order_id, customer_name, \
         customer_email, delivery_date, items, status, assigned_to, notes, card_message, \
         shopify_note, shopify_updated_at, version, created_at, updated_at, updated_by, \
         status_v, status_by, status_at, assigned_to_v, assigned_to_by, assigned_to_at, \
         notes_v, notes_by, notes_at, shopify_triggered_at) \
         SELECT ?1, ?2, COALESCE(?3, 'M-' || manual_counter), ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, \
         ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, 1, ?19, ?17, 1, ?19, ?17, 1, ?19, ?17, ?20 \
         FROM tenants WHERE id = ?1",
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
            opt_text(order.shopify_triggered_at.as_deref()),
        ],
    )?);
    batch.push(bump_seq(db, tenant)?);
    batch.push_main_event(stmt(
        db,
        &format!(
            "INSERT INTO events (tenant_id, seq, type, order_id, ts, updated_by, changes, order_json) \
             SELECT t.id, t.last_seq, 'order_created', o.id, {COMMIT_TS}, o.updated_by, '[]', {} \
             FROM tenants t JOIN orders o ON o.tenant_id = t.id AND o.id = ?2 \
             WHERE t.id = ?1 AND changes() = 1 {EVENT_RETURNING}",
            order_json_sql("?3")
        ),
        &[text(tenant), text(&order.id), text(w.now)],
    )?);
    batch.push(activity_after_event(db, w, "created", &order.id, "{}")?);
    batch.extend(then);
    batch.run(db, w.now).await
}

/// The conditions under which a florist's patch applies, on the row `{p}` (`o.` or nothing).
/// Parameters: ?1 tenant, ?2 id, ?3 now, ?4 user, ?5 status or NULL, ?6 the statuses it may be
/// reached from (JSON array), ?7 1 = set assignee, ?8 assignee, ?9 notes or NULL, ?10 the
/// version the edit started from or NULL. The same rules as [`crate::collab::explain_refusal`].
fn patch_applies(p: &str) -> String {
    format!(
        "{p}tenant_id = ?1 AND {p}id = ?2 \
         AND ({p}lock_holder IS NULL OR {p}lock_expires_at <= ?3 OR {p}lock_holder = ?4) \
         AND (?5 IS NULL OR {p}status IN (SELECT value FROM json_each(?6))) \
         AND (?10 IS NULL OR ({p}version >= ?10 \
              AND NOT (?5 IS NOT NULL AND {p}status_v > ?10 AND {p}status IS NOT ?5) \
              AND NOT (?7 = 1 AND {p}assigned_to_v > ?10 AND {p}assigned_to IS NOT ?8) \
              AND NOT (?9 IS NOT NULL AND {p}notes_v > ?10 AND {p}notes IS NOT ?9))) \
         AND ((?5 IS NOT NULL AND {p}status IS NOT ?5) \
              OR (?7 = 1 AND {p}assigned_to IS NOT ?8) \
              OR (?9 IS NOT NULL AND {p}notes IS NOT ?9))"
    )
}

/// `field = new value` plus its history columns, for one florist field of the UPDATE.
fn set_field(col: &str, changed: &str, value: &str) -> String {
    format!(
        "{col} = CASE WHEN {changed} THEN {value} ELSE {col} END, \
         {col}_v = CASE WHEN {changed} THEN version + 1 ELSE {col}_v END, \
         {col}_by = CASE WHEN {changed} THEN ?4 ELSE {col}_by END, \
         {col}_at = CASE WHEN {changed} THEN ?3 ELSE {col}_at END"
    )
}

/// Applies a florist's patch to the latest state in one batch (see [`patch_applies`]). Fields
/// the patch leaves out keep whatever others wrote: per-field last writer wins.
///
/// The order's lease-expiry sweep is folded into the change's own statements, so the batch is
/// 5 statements where a sweep and a change would be 9 (every statement is work on D1's one
/// writer). With `N` the tenant's `last_seq` and `E` = 1 when the order's lease ran out:
/// 1. the activity entries: `lock_expired` (seq N+1, if the lease ran out), then `updated`
///    (seq N+1+E, if the patch applies), read from the row as it was;
/// 2. the events, under the same conditions and with the same seqs: `order_unlocked` with the
///    order as it was, then `order_updated` with the order as statement 3 leaves it;
/// 3. the order row: the patch applied when statement 2 committed more events than the expiry
///    accounts for, and an expired lease cleared, applied or not;
/// 4. the tenant's seq moved past the events of statement 2;
/// 5. the snapshot, from which a refusal is explained.
///
/// So the events, the activity entries and the row are exactly those of an expiry sweep
/// followed by the change.
pub async fn update_order(
    db: &D1Database,
    w: &OrderWrite<'_>,
    id: &str,
    patch: &OrderPatch,
    pre: Precondition,
) -> ApiResult<Outcome> {
    let reachable: Vec<&str> = patch
        .status
        .map(|s| s.reachable_from().into_iter().map(|f| f.as_str()).collect())
        .unwrap_or_default();
    let started_from = match pre {
        Precondition::StartedFrom(v) => num(v),
        Precondition::Latest | Precondition::Exists => wasm_bindgen::JsValue::NULL,
    };
    let args = [
        text(w.tenant),
        text(id),
        text(w.now),
        text(w.user),
        opt_text(patch.status.map(|s| s.as_str())),
        text(&serde_json::to_string(&reachable)?),
        flag(patch.assigned_to.is_some()),
        opt_text(patch.assigned_to.clone().flatten().as_deref()),
        opt_text(patch.notes.as_deref()),
        started_from,
    ];
    // Whether the patch changes each field of the row `p` (`o.` or nothing).
    let status_changed = |p: &str| format!("(?5 IS NOT NULL AND {p}status IS NOT ?5)");
    let assignee_changed = |p: &str| format!("(?7 = 1 AND {p}assigned_to IS NOT ?8)");
    let notes_changed = |p: &str| format!("(?9 IS NOT NULL AND {p}notes IS NOT ?9)");
    let (s, a, n) = (
        status_changed("o."),
        assignee_changed("o."),
        notes_changed("o."),
    );
    let expired = lease_expired!("o.");
    let the_order = "FROM tenants t JOIN orders o ON o.tenant_id = t.id WHERE t.id = ?1";
    let cond = patch_applies("o.");

    let mut batch = Batch::default();
    // Each field's value before the change. `ORDER BY seq`: the expiry's entry comes first.
    batch.push(stmt(
        db,
        &format!(
            "{ACTIVITY_INSERT} {expiry} UNION ALL \
             SELECT t.id, t.last_seq + 1 + {expired}, ?3, ?4, '{source}', 'updated', o.id, \
             json('{{' || rtrim(\
             CASE WHEN {s} THEN '\"status\":' || json_object('from', o.status, 'to', ?5) || ',' ELSE '' END || \
             CASE WHEN {a} THEN '\"assignedTo\":' || json_object('from', o.assigned_to, 'to', ?8) || ',' ELSE '' END || \
             CASE WHEN {n} THEN '\"notes\":' || json_object('from', o.notes, 'to', ?9) || ',' ELSE '' END, \
             ',') || '}}') {the_order} AND {cond} ORDER BY 2",
            expiry = EXPIRED.activity_select(),
            source = source_sql(w.source)?,
        ),
        &args,
    )?);
    // The order as statement 3 will leave it (its lease, cleared or not, reads as at ?3).
    let after = order_json_sql_with("?3", |column| match column {
        "status" => format!("CASE WHEN {s} THEN ?5 ELSE o.status END"),
        "assigned_to" => format!("CASE WHEN {a} THEN ?8 ELSE o.assigned_to END"),
        "notes" => format!("CASE WHEN {n} THEN ?9 ELSE o.notes END"),
        "version" => "o.version + 1".into(),
        "updated_at" => "?3".into(),
        "updated_by" => "?4".into(),
        other => format!("o.{other}"),
    });
    batch.push_events_with_main(
        stmt(
            db,
            &format!(
                "{EVENT_INSERT} {expiry} UNION ALL \
                 SELECT t.id, t.last_seq + 1 + {expired}, 'order_updated', o.id, {COMMIT_TS}, ?4, \
                 json('[' || rtrim(\
                 CASE WHEN {s} THEN '\"status\",' ELSE '' END || \
                 CASE WHEN {a} THEN '\"assignedTo\",' ELSE '' END || \
                 CASE WHEN {n} THEN '\"notes\",' ELSE '' END, ',') || ']'), {after}, NULL \
                 {the_order} AND {cond} {EVENT_RETURNING}",
                expiry = EXPIRED.event_select(),
            ),
            &args,
        )?,
        EventType::OrderUpdated,
    );
    // Statement 2 inserted E + (1 if the patch applies) events; the row is touched iff any.
    let applied = format!("(changes() > {})", lease_expired!(""));
    let clear_expired = |col: &str| {
        format!(
            "{col} = CASE WHEN {} THEN NULL ELSE {col} END",
            lease_expired!("")
        )
    };
    batch.push(stmt(
        db,
        &format!(
            "UPDATE orders SET {}, {}, {}, version = version + {applied}, \
             updated_at = CASE WHEN {applied} THEN ?3 ELSE updated_at END, \
             updated_by = CASE WHEN {applied} THEN ?4 ELSE updated_by END, {}, {}, {} \
             WHERE tenant_id = ?1 AND id = ?2 AND changes() > 0",
            set_field(
                "status",
                &format!("{applied} AND {}", status_changed("")),
                "?5"
            ),
            set_field(
                "assigned_to",
                &format!("{applied} AND {}", assignee_changed("")),
                "?8"
            ),
            set_field(
                "notes",
                &format!("{applied} AND {}", notes_changed("")),
                "?9"
            ),
            clear_expired("lock_holder"),
            clear_expired("lock_acquired_at"),
            clear_expired("lock_expires_at"),
        ),
        // ?6 and ?10 are not used here: ?9 is the last parameter.
        &args[..9],
    )?);
    batch.push(stmt(
        db,
        "UPDATE tenants SET last_seq = last_seq + \
         (SELECT COUNT(*) FROM events e WHERE e.tenant_id = ?1 AND e.seq > tenants.last_seq) \
         WHERE id = ?1 AND changes() = 1",
        &[text(w.tenant)],
    )?);
    batch.push_snapshot(snapshot(db, w.tenant, id)?);
    batch.run(db, w.now).await
}

/// Activity sources are a closed set; checked so the value can be inlined in SQL.
fn source_sql(source: &str) -> ApiResult<&str> {
    match source {
        "board" | "shopify" | "admin" | "system" => Ok(source),
        other => Err(ApiError::internal(format!(
            "unknown activity source {other}"
        ))),
    }
}

/// Shopify's fields of an order as the webhook wants them, and what it changes.
pub struct ShopifyWrite<'a> {
    /// The order with Shopify's fields applied (florist fields are not written).
    pub next: &'a Order,
    /// The `shopify_updated_at` the decision was made on: the write applies only if it is still
    /// the stored one (another delivery of the same order got in between → decide again).
    pub decided_on: Option<&'a str>,
    /// Cancel the order (sets status `cancelled`).
    pub cancel: bool,
    /// The changed field names (the event's `changes`).
    pub changes: &'a [&'a str],
    /// `{"field":{"from","to"}}` for the activity log.
    pub activity: &'a Value,
    /// Shopify asked to cancel a delivered order: refused, and logged as such.
    pub cancel_refused: bool,
}

/// Writes Shopify's fields of an order. Florists' concurrent writes never make it fail: only a
/// concurrent delivery for the same Shopify order does (`main: None`).
pub async fn update_shopify_order(
    db: &D1Database,
    w: &OrderWrite<'_>,
    s: ShopifyWrite<'_>,
    then: Vec<D1PreparedStatement>,
) -> ApiResult<Outcome> {
    let o = s.next;
    let items = serde_json::to_string(&o.items)?;
    let guard = "tenant_id = ?1 AND id = ?2 AND shopify_updated_at IS ?3";
    let mut batch = Batch::default();
    expire_locks(db, &mut batch, w.tenant, Some(&o.id), w.now)?;
    batch.push(stmt(
        db,
        &format!(
            "INSERT INTO activity (tenant_id, seq, at, actor, source, action, order_id, changes) \
             SELECT t.id, t.last_seq + 1, ?4, ?5, '{}', 'updated', ?2, json(?6) FROM tenants t \
             WHERE t.id = ?1 AND EXISTS (SELECT 1 FROM orders WHERE {guard})",
            source_sql(w.source)?
        ),
        &[
            text(w.tenant),
            text(&o.id),
            opt_text(s.decided_on),
            text(w.now),
            text(w.user),
            text(&s.activity.to_string()),
        ],
    )?);
    // A delivered order is never cancelled by Shopify (checked on the current status).
    let cancels = "(?12 = 1 AND status NOT IN ('cancelled', 'delivered'))";
    batch.push(stmt(
        db,
        &format!(
            "UPDATE orders SET order_number = ?4, customer_name = ?5, customer_email = ?6, \
             delivery_date = ?7, items = ?8, card_message = ?9, shopify_note = ?10, \
             shopify_updated_at = ?11, shopify_triggered_at = ?15, \
             status = CASE WHEN {cancels} THEN 'cancelled' ELSE status END, \
             status_v = CASE WHEN {cancels} THEN version + 1 ELSE status_v END, \
             status_by = CASE WHEN {cancels} THEN ?14 ELSE status_by END, \
             status_at = CASE WHEN {cancels} THEN ?13 ELSE status_at END, \
             version = version + 1, updated_at = ?13, updated_by = ?14 WHERE {guard}"
        ),
        &[
            text(w.tenant),
            text(&o.id),
            opt_text(s.decided_on),
            text(&o.order_number),
            text(&o.customer_name),
            opt_text(o.customer_email.as_deref()),
            opt_text(o.delivery_date.as_deref()),
            text(&items),
            opt_text(o.card_message.as_deref()),
            opt_text(o.shopify_note.as_deref()),
            opt_text(o.shopify_updated_at.as_deref()),
            flag(s.cancel),
            text(w.now),
            text(w.user),
            opt_text(o.shopify_triggered_at.as_deref()),
        ],
    )?);
    batch.push(bump_seq(db, w.tenant)?);
    batch.push_main_event(stmt(
        db,
        &format!(
            "INSERT INTO events (tenant_id, seq, type, order_id, ts, updated_by, changes, order_json) \
             SELECT t.id, t.last_seq, 'order_updated', o.id, {COMMIT_TS}, ?4, ?5, {} \
             FROM tenants t JOIN orders o ON o.tenant_id = t.id AND o.id = ?2 \
             WHERE t.id = ?1 AND changes() = 1 {EVENT_RETURNING}",
            order_json_sql("?3")
        ),
        &[
            text(w.tenant),
            text(&o.id),
            text(w.now),
            text(w.user),
            text(&serde_json::to_string(s.changes)?),
        ],
    )?);
    batch.extend(then);
    if s.cancel_refused {
        // Logged with the change (guarded by the statement before it: the event, or the
        // delivery record that follows it).
        batch.push(super::cancel_refused(db, w.tenant, &o.id, w.now, true)?);
    }
    batch.push_snapshot(snapshot(db, w.tenant, &o.id)?);
    batch.run(db, w.now).await
}

/// Deletes an order, its notes, and logs `order_deleted`. With `respect_lock`, another user's
/// live lease blocks it (a florist's or manager's DELETE); Shopify's deletions are not blocked.
pub async fn delete_order(
    db: &D1Database,
    w: &OrderWrite<'_>,
    id: &str,
    respect_lock: bool,
    then: Vec<D1PreparedStatement>,
) -> ApiResult<Outcome> {
    let allowed = |p: &str| {
        format!(
            "{p}tenant_id = ?1 AND {p}id = ?2 AND (?5 = 0 OR {p}lock_holder IS NULL \
             OR {p}lock_expires_at <= ?3 OR {p}lock_holder = ?4)"
        )
    };
    let args = [
        text(w.tenant),
        text(id),
        text(w.now),
        text(w.user),
        flag(respect_lock),
    ];
    let mut batch = Batch::default();
    expire_locks(db, &mut batch, w.tenant, Some(id), w.now)?;
    batch.push(stmt(
        db,
        &format!(
            "INSERT INTO activity (tenant_id, seq, at, actor, source, action, order_id, changes) \
             SELECT t.id, t.last_seq + 1, ?3, ?4, '{}', 'deleted', ?2, \
             json_object('orderNumber', json_object('from', o.order_number, 'to', NULL)) \
             FROM tenants t JOIN orders o ON o.tenant_id = t.id \
             WHERE t.id = ?1 AND {}",
            source_sql(w.source)?,
            allowed("o.")
        ),
        &args,
    )?);
    // A Shopify order deleted here never comes back from a later webhook.
    batch.push(stmt(
        db,
        &format!(
            "INSERT OR IGNORE INTO shopify_tombstones (tenant_id, shopify_order_id, deleted_at) \
             SELECT tenant_id, shopify_order_id, ?3 FROM orders WHERE {} \
             AND shopify_order_id IS NOT NULL",
            allowed("")
        ),
        &args,
    )?);
    batch.push(stmt(
        db,
        &format!("DELETE FROM orders WHERE {}", allowed("")),
        &args,
    )?);
    batch.push(bump_seq(db, w.tenant)?);
    batch.push_main_event(stmt(
        db,
        &format!(
            "INSERT INTO events (tenant_id, seq, type, order_id, ts, updated_by, changes, order_json) \
             SELECT id, last_seq, 'order_deleted', ?2, {COMMIT_TS}, ?4, '[]', NULL FROM tenants \
             WHERE id = ?1 AND changes() = 1 {EVENT_RETURNING}"
        ),
        &[text(w.tenant), text(id), text(w.now), text(w.user)],
    )?);
    batch.extend(then);
    // The thread goes with its order (only once the order is really gone).
    batch.push(stmt(
        db,
        "DELETE FROM order_notes WHERE tenant_id = ?1 AND order_id = ?2 \
         AND NOT EXISTS (SELECT 1 FROM orders WHERE tenant_id = ?1 AND id = ?2)",
        &[text(w.tenant), text(id)],
    )?);
    batch.push_snapshot(snapshot(db, w.tenant, id)?);
    batch.run(db, w.now).await
}
