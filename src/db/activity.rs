//! Reads and retention of the activity log ("who did what when"). Entries are written by the
//! change batches themselves (see [`super::changes`]); here they are paged newest first and
//! pruned in bounded batches.

use serde_json::Value;
use worker::D1Database;

use super::{num, opt_text, stmt, text};
use crate::collab::ActivityPage;
use crate::error::ApiResult;

/// One page of entries, newest first, and the `before` of the next page (`None` at the end).
pub struct Page {
    pub entries: Vec<Value>,
    pub next_before: Option<u64>,
}

#[derive(serde::Deserialize)]
struct Row {
    id: f64,
    entry: String,
}

/// Entries of the shop, optionally of one order and/or one actor, with `seq < before`.
pub async fn page(db: &D1Database, tenant: &str, q: &ActivityPage) -> ApiResult<Page> {
    let rows = stmt(
        db,
        "SELECT id, json_object('seq', CAST(id AS TEXT), 'eventId', CAST(seq AS TEXT), \
         'at', at, 'actor', actor, 'source', source, 'action', action, 'orderId', order_id, \
         'changes', json(changes)) AS entry FROM activity \
         WHERE tenant_id = ?1 AND (?2 IS NULL OR order_id = ?2) AND (?3 IS NULL OR actor = ?3) \
         AND id < ?4 ORDER BY id DESC LIMIT ?5",
        &[
            text(tenant),
            opt_text(q.order_id.as_deref()),
            opt_text(q.actor.as_deref()),
            num(q.before.map_or(i64::MAX >> 11, |b| b as i64)),
            num(i64::from(q.limit) + 1),
        ],
    )?
    .all()
    .await?
    .results::<Row>()?;
    let more = rows.len() > q.limit as usize;
    let mut entries = Vec::with_capacity(rows.len().min(q.limit as usize));
    let mut last = None;
    for row in rows.into_iter().take(q.limit as usize) {
        last = Some(row.id as u64);
        entries.push(serde_json::from_str(&row.entry)?);
    }
    Ok(Page {
        entries,
        next_before: if more { last } else { None },
    })
}

/// Deletes up to `limit` entries older than `before` (RFC 3339), of one shop or all; returns
/// how many.
pub async fn prune(
    db: &D1Database,
    tenant: Option<&str>,
    before: &str,
    limit: u32,
) -> ApiResult<u64> {
    let result = stmt(
        db,
        "DELETE FROM activity WHERE id IN \
         (SELECT id FROM activity WHERE at < ?1 AND (?3 IS NULL OR tenant_id = ?3) LIMIT ?2)",
        &[text(before), num(i64::from(limit)), opt_text(tenant)],
    )?
    .run()
    .await?;
    Ok(result
        .meta()?
        .and_then(|m| m.changes)
        .map(|c| c as u64)
        .unwrap_or(0))
}
