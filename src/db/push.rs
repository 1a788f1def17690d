//! Web Push subscriptions: one row per browser endpoint (see `migrations/0005_push.sql`).
//! Registering an endpoint again updates its row; a user holds at most
//! [`MAX_SUBSCRIPTIONS_PER_USER`] per shop, checked in the same statement that writes, so two
//! browsers subscribing at once cannot both squeeze past the limit.

use serde::{Deserialize, Serialize};
use worker::D1Database;

use super::{num, stmt, text};
use crate::error::{ApiError, ApiResult};
use crate::push_rules::{
    prefs_json, stored_prefs, NewSubscription, Scope, MAX_RECIPIENTS_PER_EVENT,
    MAX_SUBSCRIPTIONS_PER_USER,
};

/// A stored subscription, with the keys delivery needs.
#[derive(Debug, Clone, Deserialize)]
pub struct SubscriptionRow {
    pub endpoint: String,
    pub user_id: String,
    pub p256dh: String,
    pub auth: String,
    pub events: String,
    pub created_at: String,
    pub updated_at: String,
}

/// What the owner sees of a subscription (no keys: they only matter to the push service).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionView {
    pub endpoint: String,
    pub events: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl SubscriptionRow {
    pub fn view(&self) -> SubscriptionView {
        SubscriptionView {
            endpoint: self.endpoint.clone(),
            events: stored_prefs(&self.events)
                .into_iter()
                .map(|p| p.as_str().to_string())
                .collect(),
            created_at: self.created_at.clone(),
            updated_at: self.updated_at.clone(),
        }
    }
}

const COLUMNS: &str = "endpoint, user_id, p256dh, auth, events, created_at, updated_at";

pub enum Saved {
    Created(SubscriptionRow),
    Updated(SubscriptionRow),
    /// The user already holds the maximum (another endpoint than this one).
    LimitReached,
    NoShop,
}

/// Stores `sub` for `user` of `tenant`: a new row, or the endpoint's row updated (keys, events;
/// and owner: a browser someone else signed in on belongs to its new user).
pub async fn save(
    db: &D1Database,
    tenant: &str,
    user: &str,
    sub: &NewSubscription,
    now: &str,
) -> ApiResult<Saved> {
    let existing = stmt(
        db,
        "SELECT tenant_id, user_id FROM push_subscriptions WHERE endpoint = ?1",
        &[text(&sub.endpoint)],
    )?;
    // SQLite wants a WHERE on an upsert's SELECT (https://sqlite.org/lang_upsert.html).
    let upsert = stmt(
        db,
        &format!(
            "INSERT INTO push_subscriptions (endpoint, tenant_id, user_id, p256dh, auth, events, \
             created_at, updated_at) \
             SELECT ?1, t.id, ?3, ?4, ?5, ?6, ?7, ?7 FROM tenants t \
             WHERE t.id = ?2 AND (SELECT COUNT(*) FROM push_subscriptions \
             WHERE tenant_id = ?2 AND user_id = ?3 AND endpoint <> ?1) < ?8 \
             ON CONFLICT (endpoint) DO UPDATE SET \
             created_at = CASE WHEN push_subscriptions.tenant_id = excluded.tenant_id \
             AND push_subscriptions.user_id = excluded.user_id \
             THEN push_subscriptions.created_at ELSE excluded.created_at END, \
             tenant_id = excluded.tenant_id, user_id = excluded.user_id, \
             p256dh = excluded.p256dh, auth = excluded.auth, events = excluded.events, \
             updated_at = excluded.updated_at \
             RETURNING {COLUMNS}"
        ),
        &[
            text(&sub.endpoint),
            text(tenant),
            text(user),
            text(&sub.p256dh),
            text(&sub.auth),
            text(&prefs_json(&sub.events)),
            text(now),
            num(i64::from(MAX_SUBSCRIPTIONS_PER_USER)),
        ],
    )?;
    let results = db.batch(vec![existing, upsert]).await?;
    let (Some(existing), Some(saved)) = (results.first(), results.get(1)) else {
        return Err(ApiError::internal(
            "push subscription batch returned too few results",
        ));
    };
    #[derive(Deserialize)]
    struct Owner {
        tenant_id: String,
        user_id: String,
    }
    let was_mine = existing
        .results::<Owner>()?
        .first()
        .is_some_and(|o| o.tenant_id == tenant && o.user_id == user);
    match saved.results::<SubscriptionRow>()?.into_iter().next() {
        Some(row) if was_mine => Ok(Saved::Updated(row)),
        Some(row) => Ok(Saved::Created(row)),
        None if super::get_tenant(db, tenant).await?.is_none() => Ok(Saved::NoShop),
        None => Ok(Saved::LimitReached),
    }
}

/// The user's own subscriptions, oldest first.
pub async fn list_for_user(
    db: &D1Database,
    tenant: &str,
    user: &str,
) -> ApiResult<Vec<SubscriptionRow>> {
    Ok(stmt(
        db,
        &format!(
            "SELECT {COLUMNS} FROM push_subscriptions WHERE tenant_id = ?1 AND user_id = ?2 \
             ORDER BY created_at, endpoint"
        ),
        &[text(tenant), text(user)],
    )?
    .all()
    .await?
    .results::<SubscriptionRow>()?)
}

/// Deletes the user's subscription with this endpoint; false when they have none such.
pub async fn delete_for_user(
    db: &D1Database,
    tenant: &str,
    user: &str,
    endpoint: &str,
) -> ApiResult<bool> {
    let deleted = stmt(
        db,
        "DELETE FROM push_subscriptions WHERE endpoint = ?1 AND tenant_id = ?2 AND user_id = ?3 \
         RETURNING endpoint",
        &[text(endpoint), text(tenant), text(user)],
    )?
    .all()
    .await?
    .results::<serde_json::Value>()?;
    Ok(!deleted.is_empty())
}

/// The push service said the subscription is gone (404/410). Only the row with the keys that
/// push was made for: a browser that subscribed again meanwhile keeps its new row.
pub async fn delete_gone(
    db: &D1Database,
    tenant: &str,
    endpoint: &str,
    p256dh: &str,
) -> ApiResult<()> {
    stmt(
        db,
        "DELETE FROM push_subscriptions WHERE endpoint = ?1 AND tenant_id = ?2 AND p256dh = ?3",
        &[text(endpoint), text(tenant), text(p256dh)],
    )?
    .run()
    .await?;
    Ok(())
}

/// The subscriptions an event may concern (the rules then decide each one): the shop's
/// `order_created` subscribers and the new order's assignee, or one user's. At most
/// [`MAX_RECIPIENTS_PER_EVENT`].
pub async fn candidates(
    db: &D1Database,
    tenant: &str,
    scope: &Scope,
) -> ApiResult<Vec<SubscriptionRow>> {
    let limit = num(i64::from(MAX_RECIPIENTS_PER_EVENT));
    let query = match scope {
        Scope::Shop { assignee } => stmt(
            db,
            &format!(
                "SELECT {COLUMNS} FROM push_subscriptions WHERE tenant_id = ?1 \
                 AND (instr(events, '\"order_created\"') > 0 OR user_id = ?2) \
                 ORDER BY user_id, created_at LIMIT ?3"
            ),
            &[
                text(tenant),
                text(assignee.as_deref().unwrap_or_default()),
                limit,
            ],
        )?,
        Scope::User(user) => stmt(
            db,
            &format!(
                "SELECT {COLUMNS} FROM push_subscriptions WHERE tenant_id = ?1 AND user_id = ?2 \
                 ORDER BY created_at LIMIT ?3"
            ),
            &[text(tenant), text(user), limit],
        )?,
    };
    Ok(query.all().await?.results::<SubscriptionRow>()?)
}
