//! `Idempotency-Key` on create: the first answer is kept 24 h, written in the same batch as the
//! order it created, so a retry (or a twin request racing it) never creates a second order.

use serde::Deserialize;
use worker::{D1Database, D1PreparedStatement};

use super::{stmt, text};
use crate::error::ApiResult;

/// What was answered the first time.
#[derive(Debug, Deserialize)]
pub struct First {
    pub request_hash: String,
    /// The created order's JSON, as the first answer carried it.
    pub body: String,
}

/// The first answer to `key`, if it was given after `fresh_after`.
pub async fn find(
    db: &D1Database,
    tenant: &str,
    key: &str,
    fresh_after: &str,
) -> ApiResult<Option<First>> {
    Ok(stmt(
        db,
        "SELECT request_hash, body FROM idempotency_keys \
         WHERE tenant_id = ?1 AND key = ?2 AND created_at >= ?3",
        &[text(tenant), text(key), text(fresh_after)],
    )?
    .first::<First>(None)
    .await?)
}

/// The statements, run after the create in its batch, that remember its answer: a stale use of
/// the key (older than `fresh_after`) is forgotten first; a live one makes the insert (and so
/// the whole create) fail with a unique violation.
#[allow(clippy::too_many_arguments)]
pub fn remember(
    db: &D1Database,
    tenant: &str,
    key: &str,
    user: &str,
    request_hash: &str,
    order_id: &str,
    now: &str,
    fresh_after: &str,
) -> ApiResult<Vec<D1PreparedStatement>> {
    Ok(vec![
        stmt(
            db,
            "DELETE FROM idempotency_keys WHERE tenant_id = ?1 AND key = ?2 AND created_at < ?3",
            &[text(tenant), text(key), text(fresh_after)],
        )?,
        stmt(
            db,
            "INSERT INTO idempotency_keys \
             (tenant_id, key, user_id, request_hash, status, body, created_at) \
             SELECT ?1, ?2, ?3, ?4, 201, e.order_json, ?6 FROM events e \
             WHERE e.tenant_id = ?1 AND e.type = 'order_created' AND e.order_id = ?5",
            &[
                text(tenant),
                text(key),
                text(user),
                text(request_hash),
                text(order_id),
                text(now),
            ],
        )?,
    ])
}

/// Deletes up to `limit` keys older than `before`.
pub async fn prune(db: &D1Database, before: &str, limit: u32) -> ApiResult<u64> {
    let result = stmt(
        db,
        "DELETE FROM idempotency_keys WHERE (tenant_id, key) IN \
         (SELECT tenant_id, key FROM idempotency_keys WHERE created_at < ?1 LIMIT ?2)",
        &[text(before), super::num(i64::from(limit))],
    )?
    .run()
    .await?;
    Ok(super::changed_rows(&result))
}
