//! Edit locks (leases) on orders: take, renew, release, break, and the expiry sweep. A take or
//! a release is a change like any other: one batch with the activity entry and an event
//! (`order_locked` / `order_unlocked`) in the shop's gap-free sequence. A renewal by the holder
//! only moves the expiry (no event: others see the holder, not the minute).

use worker::D1Database;

use super::changes::{
    bump_seq, end_leases, expire_locks, Batch, LeaseSweep, OrderWrite, Outcome, EVENT_RETURNING,
};
use super::{flag, order_json_sql, snapshot, stmt, text, COMMIT_TS};
use crate::error::ApiResult;
use crate::events::Event;

/// Takes the lease on order `id` for `w.user` until `expires_at`, or renews it if the user
/// holds it. With `force` (managers) a live lease of someone else is taken over. The outcome's
/// `current` shows who holds it afterwards.
pub async fn acquire(
    db: &D1Database,
    w: &OrderWrite<'_>,
    id: &str,
    expires_at: &str,
    force: bool,
) -> ApiResult<Outcome> {
    // ?1 tenant, ?2 id, ?3 now, ?4 user, ?5 expiry, ?6 force
    let args = [
        text(w.tenant),
        text(id),
        text(w.now),
        text(w.user),
        text(expires_at),
        flag(force),
    ];
    let live = |p: &str| format!("({p}lock_holder IS NOT NULL AND {p}lock_expires_at > ?3)");
    let takes = |p: &str| {
        format!(
            "{p}tenant_id = ?1 AND {p}id = ?2 AND (NOT {} OR (?6 = 1 AND {p}lock_holder <> ?4))",
            live(p)
        )
    };
    let mut batch = Batch::default();
    expire_locks(db, &mut batch, w.tenant, Some(id), w.now)?;
    batch.push(stmt(
        db,
        &format!(
            "INSERT INTO activity (tenant_id, seq, at, actor, source, action, order_id, changes) \
             SELECT t.id, t.last_seq + 1, ?3, ?4, 'board', \
             CASE WHEN {l} THEN 'lock_taken_over' ELSE 'locked' END, o.id, \
             json_object('lock', json_object('from', CASE WHEN {l} THEN o.lock_holder END, \
             'to', ?4)) \
             FROM tenants t JOIN orders o ON o.tenant_id = t.id WHERE t.id = ?1 AND {take}",
            l = live("o."),
            take = takes("o.")
        ),
        &args,
    )?);
    batch.push(stmt(
        db,
        &format!(
            "UPDATE orders SET lock_holder = ?4, lock_acquired_at = ?3, lock_expires_at = ?5, \
             lock_version = lock_version + 1 WHERE {}",
            takes("")
        ),
        &args,
    )?);
    batch.push(bump_seq(db, w.tenant)?);
    batch.push_main_event(stmt(
        db,
        &format!(
            "INSERT INTO events (tenant_id, seq, type, order_id, ts, updated_by, changes, \
             order_json, data) \
             SELECT t.id, t.last_seq, 'order_locked', o.id, {COMMIT_TS}, ?4, '[]', {}, \
             json_object('lock', json_object('holder', o.lock_holder, \
             'acquiredAt', o.lock_acquired_at, 'expiresAt', o.lock_expires_at, \
             'lockVersion', o.lock_version), \
             'previousHolder', json_extract(a.changes, '$.lock.from')) \
             FROM tenants t JOIN orders o ON o.tenant_id = t.id AND o.id = ?2 \
             JOIN activity a ON a.tenant_id = t.id AND a.seq = t.last_seq \
             WHERE t.id = ?1 AND changes() = 1 {EVENT_RETURNING}",
            order_json_sql("?3")
        ),
        &[text(w.tenant), text(id), text(w.now), text(w.user)],
    )?);
    // The holder's renewal (after a take this rewrites the same expiry).
    batch.push(stmt(
        db,
        "UPDATE orders SET lock_expires_at = ?5 WHERE tenant_id = ?1 AND id = ?2 \
         AND lock_holder = ?4 AND lock_expires_at > ?3",
        &[
            text(w.tenant),
            text(id),
            text(w.now),
            text(w.user),
            text(expires_at),
        ],
    )?);
    batch.push_snapshot(snapshot(db, w.tenant, id)?);
    batch.run(db, w.now).await
}

/// Ends the live lease on order `id`: by its holder (`released`) or, with `may_break`, by a
/// manager (`broken`). `main: None` = no live lease, or not the caller's to end.
pub async fn release(
    db: &D1Database,
    w: &OrderWrite<'_>,
    id: &str,
    may_break: bool,
) -> ApiResult<Outcome> {
    // ?1 tenant, ?2 id, ?3 now, ?4 user, ?5 may break
    let args = [
        text(w.tenant),
        text(id),
        text(w.now),
        text(w.user),
        flag(may_break),
    ];
    let ends = |p: &str| {
        format!(
            "{p}tenant_id = ?1 AND {p}id = ?2 AND {p}lock_holder IS NOT NULL \
             AND {p}lock_expires_at > ?3 AND ({p}lock_holder = ?4 OR ?5 = 1)"
        )
    };
    let mut batch = Batch::default();
    expire_locks(db, &mut batch, w.tenant, Some(id), w.now)?;
    batch.push(stmt(
        db,
        &format!(
            "INSERT INTO activity (tenant_id, seq, at, actor, source, action, order_id, changes) \
             SELECT t.id, t.last_seq + 1, ?3, ?4, 'board', \
             CASE WHEN o.lock_holder = ?4 THEN 'unlocked' ELSE 'lock_broken' END, o.id, \
             json_object('lock', json_object('from', o.lock_holder, 'to', NULL)) \
             FROM tenants t JOIN orders o ON o.tenant_id = t.id WHERE t.id = ?1 AND {}",
            ends("o.")
        ),
        &args,
    )?);
    batch.push(stmt(
        db,
        &format!(
            "UPDATE orders SET lock_holder = NULL, lock_acquired_at = NULL, \
             lock_expires_at = NULL WHERE {}",
            ends("")
        ),
        &args,
    )?);
    batch.push(bump_seq(db, w.tenant)?);
    batch.push_main_event(stmt(
        db,
        &format!(
            "INSERT INTO events (tenant_id, seq, type, order_id, ts, updated_by, changes, \
             order_json, data) \
             SELECT t.id, t.last_seq, 'order_unlocked', o.id, {COMMIT_TS}, ?4, '[]', {}, \
             json_object('reason', CASE WHEN a.action = 'unlocked' THEN 'released' \
             ELSE 'broken' END, 'previousHolder', json_extract(a.changes, '$.lock.from')) \
             FROM tenants t JOIN orders o ON o.tenant_id = t.id AND o.id = ?2 \
             JOIN activity a ON a.tenant_id = t.id AND a.seq = t.last_seq \
             WHERE t.id = ?1 AND changes() = 1 {EVENT_RETURNING}",
            order_json_sql("?3")
        ),
        &[text(w.tenant), text(id), text(w.now), text(w.user)],
    )?);
    batch.push_snapshot(snapshot(db, w.tenant, id)?);
    batch.run(db, w.now).await
}

/// Ends every lease of the shop whose time is up (the hub runs it on its heartbeat); returns
/// the `order_unlocked` (`expired`) events committed.
pub async fn expire(db: &D1Database, tenant: &str, now: &str) -> ApiResult<Vec<Event>> {
    let mut batch = Batch::default();
    expire_locks(db, &mut batch, tenant, None, now)?;
    Ok(batch.run(db, now).await?.events)
}

/// Releases every live lease `user` holds in the shop (their last connection left, after the
/// reconnect grace): like the holder's own release, reason `released`, attributed to `system`.
pub async fn release_held_by(
    db: &D1Database,
    tenant: &str,
    user: &str,
    now: &str,
) -> ApiResult<Vec<Event>> {
    let sweep = LeaseSweep {
        filter: "o.tenant_id = ?1 AND o.lock_holder = ?2 AND o.lock_expires_at > ?3",
        action: "unlocked",
        reason: "released",
        order_time: "'9999'",
    };
    let mut batch = Batch::default();
    end_leases(
        db,
        &mut batch,
        &sweep,
        &[text(tenant), text(user), text(now)],
    )?;
    Ok(batch.run(db, now).await?.events)
}
