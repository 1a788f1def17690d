//! Retention: what is deleted when, in bounded batches so one run stays within an invocation's
//! limits (what is left over goes on the next run). The `[triggers] crons` handler runs all of
//! it whether or not anyone is connected; the admin maintenance routes run one part on demand.

use worker::D1Database;

use crate::db;
use crate::domain::{format_timestamp, TenantId};
use crate::error::ApiResult;

/// Rows deleted per statement.
pub const BATCH: u32 = 1_000;
/// Statements per part per run.
const ROUNDS: u32 = 20;
/// Longest `olderThanSeconds` accepted (larger would wrap the clock).
pub const MAX_AGE_SECS: u64 = 100 * 365 * 86_400;
/// Webhook delivery records are kept while Shopify may retry (48 h), with a margin; deliveries
/// parked for an unknown shop as long.
pub const WEBHOOK_RECORD_SECS: u64 = 7 * 86_400;

/// The cut-off `older_than_secs` before `now_ms`.
pub fn cutoff(now_ms: i64, older_than_secs: u64) -> String {
    let age_ms = older_than_secs.min(MAX_AGE_SECS) as i64 * 1000;
    format_timestamp(now_ms.saturating_sub(age_ms).max(0))
}

/// Repeats one bounded delete until it deletes less than a batch (or the rounds run out).
async fn drain<F, Fut>(mut once: F) -> ApiResult<u64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ApiResult<u64>>,
{
    let mut total = 0;
    for _ in 0..ROUNDS {
        let n = once().await?;
        total += n;
        if n < u64::from(BATCH) {
            break;
        }
    }
    Ok(total)
}

pub async fn prune_events(
    db: &D1Database,
    tenant: Option<&TenantId>,
    before: &str,
) -> ApiResult<u64> {
    let tenant = tenant.map(TenantId::as_str);
    drain(|| db::prune_events(db, tenant, before, BATCH)).await
}

pub async fn prune_activity(
    db: &D1Database,
    tenant: Option<&TenantId>,
    before: &str,
) -> ApiResult<u64> {
    let tenant = tenant.map(TenantId::as_str);
    drain(|| db::activity::prune(db, tenant, before, BATCH)).await
}

/// Idempotency keys are remembered a day.
pub const IDEMPOTENCY_SECS: u64 = 86_400;

pub async fn prune_idempotency_keys(db: &D1Database, before: &str) -> ApiResult<u64> {
    drain(|| db::idempotency::prune(db, before, BATCH)).await
}

pub async fn prune_webhook_records(db: &D1Database, before: &str) -> ApiResult<u64> {
    let records = drain(|| db::prune_webhook_records(db, before, BATCH)).await?;
    let parked = drain(|| db::prune_parked(db, before, BATCH)).await?;
    Ok(records + parked)
}

/// Everything the cron prunes, with each part's retention in seconds.
pub struct Retention {
    pub events_secs: u64,
    pub activity_secs: u64,
}

impl Retention {
    pub fn from_env(env: &worker::Env) -> Self {
        Self {
            events_secs: crate::http::var_u64(env, "EVENT_RETENTION_DAYS", 7) * 86_400,
            activity_secs: crate::http::var_u64(env, "ACTIVITY_RETENTION_DAYS", 90) * 86_400,
        }
    }
}

/// The scheduled run: every part, each bounded; returns (events, activity, webhook records)
/// deleted.
pub async fn run(db: &D1Database, now_ms: i64, r: &Retention) -> ApiResult<(u64, u64, u64)> {
    let events = prune_events(db, None, &cutoff(now_ms, r.events_secs)).await?;
    let activity = prune_activity(db, None, &cutoff(now_ms, r.activity_secs)).await?;
    let webhooks = prune_webhook_records(db, &cutoff(now_ms, WEBHOOK_RECORD_SECS)).await?;
    let keys = prune_idempotency_keys(db, &cutoff(now_ms, IDEMPOTENCY_SECS)).await?;
    let tickets = drain(|| db::keys::prune_tickets(db, now_ms / 1000, BATCH)).await?;
    Ok((events, activity, webhooks + keys + tickets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutoffs_never_wrap() {
        assert_eq!(cutoff(86_400_000, 3_600), "1970-01-01T23:00:00.000Z");
        assert_eq!(cutoff(1_000, u64::MAX), "1970-01-01T00:00:00.000Z");
    }
}
