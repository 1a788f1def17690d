//! Shops' signing keys and token revocation, and the single-use realtime tickets.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use worker::{D1Database, D1PreparedStatement};

use super::{num, stmt, text};
use crate::auth::{SigningKey, TenantKeys};
use crate::error::{ApiError, ApiResult};

/// A new key: a random `kid` and 32 random bytes.
pub struct NewKey {
    pub kid: String,
    pub secret: String,
}

pub fn new_key() -> ApiResult<NewKey> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|e| ApiError::internal(format!("random: {e}")))?;
    let id = crate::new_id()?;
    Ok(NewKey {
        kid: id.split('-').next().unwrap_or(&id).to_string(),
        secret: URL_SAFE_NO_PAD.encode(bytes),
    })
}

/// The statement that adds `key` to the shop (current: it retires nothing by itself).
pub fn insert(
    db: &D1Database,
    tenant: &str,
    key: &NewKey,
    now: &str,
) -> ApiResult<D1PreparedStatement> {
    stmt(
        db,
        "INSERT INTO signing_keys (tenant_id, kid, secret, created_at) \
         SELECT id, ?2, ?3, ?4 FROM tenants WHERE id = ?1",
        &[text(tenant), text(&key.kid), text(&key.secret), text(now)],
    )
}

#[derive(Deserialize)]
struct Row {
    tokens_not_before: f64,
    kid: Option<String>,
    secret: Option<String>,
    retires_at: Option<f64>,
}

/// The shop's keys (oldest first) and revocation time; `None` = no such shop.
pub async fn tenant_keys(db: &D1Database, tenant: &str) -> ApiResult<Option<TenantKeys>> {
    let rows = stmt(
        db,
        "SELECT t.tokens_not_before, k.kid, k.secret, k.retires_at FROM tenants t \
         LEFT JOIN signing_keys k ON k.tenant_id = t.id WHERE t.id = ?1 ORDER BY k.created_at",
        &[text(tenant)],
    )?
    .all()
    .await?
    .results::<Row>()?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let tokens_not_before = first.tokens_not_before as i64;
    let keys = rows
        .into_iter()
        .filter_map(|r| {
            let secret = URL_SAFE_NO_PAD.decode(r.secret?).ok()?;
            Some(SigningKey {
                kid: r.kid?,
                secret,
                retires_at: r.retires_at.map(|a| a as i64),
            })
        })
        .collect();
    Ok(Some(TenantKeys {
        keys,
        tokens_not_before,
    }))
}

/// Adds a new current key; the keys current until now retire at `retire_at` (unix seconds).
/// `false` = no such shop.
pub async fn rotate(
    db: &D1Database,
    tenant: &str,
    key: &NewKey,
    retire_at: i64,
    now: &str,
) -> ApiResult<bool> {
    let results = db
        .batch(vec![
            stmt(
                db,
                "UPDATE signing_keys SET retires_at = ?2 WHERE tenant_id = ?1 AND retires_at IS NULL",
                &[text(tenant), num(retire_at)],
            )?,
            insert(db, tenant, key, now)?,
        ])
        .await?;
    Ok(results
        .get(1)
        .and_then(|r| r.meta().ok().flatten())
        .and_then(|m| m.changes)
        .is_some_and(|c| c == 1))
}

/// Revokes every token of the shop issued before `at` (unix seconds). `false` = no such shop.
pub async fn set_tokens_not_before(db: &D1Database, tenant: &str, at: i64) -> ApiResult<bool> {
    let result = stmt(
        db,
        "UPDATE tenants SET tokens_not_before = ?2 WHERE id = ?1",
        &[text(tenant), num(at)],
    )?
    .run()
    .await?;
    Ok(super::changed_rows(&result) == 1)
}

/// A ticket's holder, as it was issued.
#[derive(Debug, Clone, Deserialize)]
pub struct TicketHolder {
    pub tenant_id: String,
    pub user_id: String,
    pub role: String,
    pub token_exp: f64,
}

pub async fn issue_ticket(
    db: &D1Database,
    ticket: &str,
    holder: &TicketHolder,
    expires_at: i64,
) -> ApiResult<()> {
    stmt(
        db,
        "INSERT INTO realtime_tickets (ticket, tenant_id, user_id, role, token_exp, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        &[
            text(ticket),
            text(&holder.tenant_id),
            text(&holder.user_id),
            text(&holder.role),
            num(holder.token_exp as i64),
            num(expires_at),
        ],
    )?
    .run()
    .await?;
    Ok(())
}

/// Uses a ticket up: deleted as it is read, so it works once. `None` = unknown, used or expired.
pub async fn redeem_ticket(
    db: &D1Database,
    ticket: &str,
    now: i64,
) -> ApiResult<Option<TicketHolder>> {
    Ok(stmt(
        db,
        "DELETE FROM realtime_tickets WHERE ticket = ?1 AND expires_at > ?2 \
         RETURNING tenant_id, user_id, role, token_exp",
        &[text(ticket), num(now)],
    )?
    .first::<TicketHolder>(None)
    .await?)
}

/// Deletes up to `limit` expired tickets.
pub async fn prune_tickets(db: &D1Database, now: i64, limit: u32) -> ApiResult<u64> {
    let result = stmt(
        db,
        "DELETE FROM realtime_tickets WHERE ticket IN \
         (SELECT ticket FROM realtime_tickets WHERE expires_at <= ?1 LIMIT ?2)",
        &[num(now), num(i64::from(limit))],
    )?
    .run()
    .await?;
    Ok(super::changed_rows(&result))
}
