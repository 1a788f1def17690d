//! The note thread of an order: append-only, so two florists adding at once both land. Adding
//! a note is a change (one batch: the note, the seq, a `note_added` event, the activity entry);
//! another user's live lease on the order blocks it.

use serde::{Deserialize, Serialize};
use worker::D1Database;

use super::changes::{bump_seq, expire_locks, Batch, OrderWrite, Outcome, EVENT_RETURNING};
use super::{order_json_sql, snapshot, stmt, text, COMMIT_TS};
use crate::error::ApiResult;

/// One note, as stored and as sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Note {
    pub id: String,
    pub order_id: String,
    pub text: String,
    pub author: String,
    pub created_at: String,
}

/// Adds note `note_id` with `text` to order `order_id`. `main: None` = no such order, or
/// another user holds its lease (`current` tells which).
pub async fn add(
    db: &D1Database,
    w: &OrderWrite<'_>,
    order_id: &str,
    note_id: &str,
    text_: &str,
) -> ApiResult<Outcome> {
    let mut batch = Batch::default();
    expire_locks(db, &mut batch, w.tenant, Some(order_id), w.now)?;
    batch.push(stmt(
        db,
        "INSERT INTO order_notes (tenant_id, id, order_id, text, author, created_at, seq) \
         SELECT t.id, ?5, o.id, ?6, ?4, ?3, t.last_seq + 1 \
         FROM tenants t JOIN orders o ON o.tenant_id = t.id AND o.id = ?2 \
         WHERE t.id = ?1 AND (o.lock_holder IS NULL OR o.lock_expires_at <= ?3 \
         OR o.lock_holder = ?4)",
        &[
            text(w.tenant),
            text(order_id),
            text(w.now),
            text(w.user),
            text(note_id),
            text(text_),
        ],
    )?);
    batch.push(bump_seq(db, w.tenant)?);
    batch.push_main_event(stmt(
        db,
        &format!(
            "INSERT INTO events (tenant_id, seq, type, order_id, ts, updated_by, changes, \
             order_json, data) \
             SELECT t.id, t.last_seq, 'note_added', o.id, {COMMIT_TS}, n.author, '[]', {}, \
             json_object('note', json_object('id', n.id, 'orderId', n.order_id, \
             'text', n.text, 'author', n.author, 'createdAt', n.created_at)) \
             FROM tenants t JOIN order_notes n ON n.tenant_id = t.id AND n.id = ?2 \
             JOIN orders o ON o.tenant_id = t.id AND o.id = n.order_id \
             WHERE t.id = ?1 AND changes() = 1 {EVENT_RETURNING}",
            order_json_sql("?3")
        ),
        &[text(w.tenant), text(note_id), text(w.now)],
    )?);
    batch.push(stmt(
        db,
        "INSERT INTO activity (tenant_id, seq, at, actor, source, action, order_id, changes) \
         SELECT tenant_id, seq, created_at, author, 'board', 'note_added', order_id, \
         json_object('note', json_object('from', NULL, 'to', text)) \
         FROM order_notes WHERE tenant_id = ?1 AND id = ?2 AND changes() = 1",
        &[text(w.tenant), text(note_id)],
    )?);
    batch.push_snapshot(snapshot(db, w.tenant, order_id)?);
    batch.run(db, w.now).await
}

/// The order's notes, oldest first (the thread is bounded by how fast people type; a page
/// of 500 keeps one answer bounded all the same).
pub async fn list(db: &D1Database, tenant: &str, order_id: &str) -> ApiResult<Vec<Note>> {
    #[derive(Deserialize)]
    struct Row {
        id: String,
        order_id: String,
        text: String,
        author: String,
        created_at: String,
    }
    let rows = stmt(
        db,
        "SELECT id, order_id, text, author, created_at FROM order_notes \
         WHERE tenant_id = ?1 AND order_id = ?2 ORDER BY seq LIMIT 500",
        &[text(tenant), text(order_id)],
    )?
    .all()
    .await?
    .results::<Row>()?;
    Ok(rows
        .into_iter()
        .map(|r| Note {
            id: r.id,
            order_id: r.order_id,
            text: r.text,
            author: r.author,
            created_at: r.created_at,
        })
        .collect())
}
