//! Collaboration rules, pure: `If-Match` preconditions, the field-level merge of a florist's
//! edit, edit leases, note text and activity paging. The D1 batches in [`crate::db`] apply the
//! same rules inside SQL (so a write needs one round trip and never loses a race); when a batch
//! writes nothing, [`explain_refusal`] tells the client why from the state that batch saw.

use serde::Serialize;
use serde_json::Value;

use crate::domain::{Order, OrderLock, OrderPatch};
use crate::error::{ApiError, ApiResult};

/// What `If-Match` asks of a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// No header: apply to the latest state (per-field last writer wins).
    Latest,
    /// `*`: the order must exist.
    Exists,
    /// `"<v>"`: the version the user's edit started from; fields changed after it conflict.
    StartedFrom(i64),
}

/// Parses `If-Match`: absent, `*`, or one entity tag `"<v>"` (also `W/"<v>"`). Anything else is
/// the client's 400.
pub fn parse_if_match(raw: Option<&str>) -> ApiResult<Precondition> {
    let Some(raw) = raw.map(str::trim) else {
        return Ok(Precondition::Latest);
    };
    if raw == "*" {
        return Ok(Precondition::Exists);
    }
    let tag = raw.strip_prefix("W/").unwrap_or(raw);
    tag.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|v| *v >= 1)
        .map(Precondition::StartedFrom)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_if_match",
                "If-Match must be * or the order's ETag, e.g. \"3\"",
            )
        })
}

/// When a florist field last changed: at which order version, by whom, when.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldChange {
    pub version: i64,
    pub by: Option<String>,
    pub at: Option<String>,
}

/// The change history the merge needs, one entry per field a `PUT` may set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldMeta {
    pub status: FieldChange,
    pub assigned_to: FieldChange,
    pub notes: FieldChange,
}

/// One field the user changed that someone else changed too since the edit started.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Conflict {
    pub field: &'static str,
    pub yours: Value,
    pub theirs: Value,
    pub changed_by: Option<String>,
    pub changed_at: Option<String>,
    pub version: i64,
}

/// The patch's fields as (name, wanted value, current value, history), for the fields it sets.
fn touched<'a>(
    patch: &'a OrderPatch,
    order: &'a Order,
    meta: &'a FieldMeta,
) -> Vec<(&'static str, Value, Value, &'a FieldChange)> {
    let mut fields = Vec::new();
    if let Some(status) = patch.status {
        fields.push((
            "status",
            Value::from(status.as_str()),
            Value::from(order.status.as_str()),
            &meta.status,
        ));
    }
    if let Some(assigned) = &patch.assigned_to {
        fields.push((
            "assignedTo",
            Value::from(assigned.clone()),
            Value::from(order.assigned_to.clone()),
            &meta.assigned_to,
        ));
    }
    if let Some(notes) = &patch.notes {
        fields.push((
            "notes",
            Value::from(notes.clone()),
            Value::from(order.notes.clone()),
            &meta.notes,
        ));
    }
    fields
}

/// The fields of `patch` that changed after version `started_from` and that the patch would set
/// to a different value than they have now (setting a field to its current value is no conflict).
pub fn conflicts(
    patch: &OrderPatch,
    started_from: i64,
    order: &Order,
    meta: &FieldMeta,
) -> Vec<Conflict> {
    touched(patch, order, meta)
        .into_iter()
        .filter(|(_, yours, theirs, history)| history.version > started_from && yours != theirs)
        .map(|(field, yours, theirs, history)| Conflict {
            field,
            yours,
            theirs,
            changed_by: history.by.clone(),
            changed_at: history.at.clone(),
            version: history.version,
        })
        .collect()
}

/// Why a write of `patch` did not happen, judged on the state the write saw.
#[derive(Debug)]
pub enum Refusal {
    /// 404: no such order.
    NotFound,
    /// 423: someone else holds a live lease.
    Locked(OrderLock),
    /// 412: the edit started from a version that never existed.
    UnknownVersion,
    /// 412 `edit_conflict`: fields the user changed were changed by someone else meanwhile.
    Conflicts(Vec<Conflict>),
    /// 422: the status cannot move from the current one.
    Transition(ApiError),
    /// 200 with no event: every field already has the value asked for.
    NoChange,
}

/// The live lease on `order` that `user` does not hold, if any.
pub fn blocking_lock<'a>(order: &'a Order, user: &str, now: &str) -> Option<&'a OrderLock> {
    order
        .lock
        .as_ref()
        .filter(|l| l.holder != user && l.expires_at.as_str() > now)
}

/// The same checks the update batch makes in SQL, in the order a user needs to hear them.
/// `None` = the write should have applied (the caller treats that as our error).
pub fn explain_refusal(
    patch: &OrderPatch,
    pre: Precondition,
    user: &str,
    now: &str,
    current: Option<(&Order, &FieldMeta)>,
) -> Option<Refusal> {
    let Some((order, meta)) = current else {
        return Some(Refusal::NotFound);
    };
    if let Some(lock) = blocking_lock(order, user, now) {
        return Some(Refusal::Locked(lock.clone()));
    }
    if let Precondition::StartedFrom(v) = pre {
        if v > order.version {
            return Some(Refusal::UnknownVersion);
        }
        let found = conflicts(patch, v, order, meta);
        if !found.is_empty() {
            return Some(Refusal::Conflicts(found));
        }
    }
    let mut probe = order.clone();
    match patch.apply(&mut probe) {
        Err(err) => Some(Refusal::Transition(err)),
        Ok(changes) if changes.is_empty() => Some(Refusal::NoChange),
        Ok(_) => None,
    }
}

/// What identifies a create request for `Idempotency-Key`: the user and the body's JSON (as
/// parsed, so whitespace does not matter), hashed.
pub fn request_fingerprint(user: &str, body: &Value) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(user.as_bytes());
    hash.update([0]);
    hash.update(body.to_string().as_bytes());
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Lease lengths a client may ask for.
pub const LOCK_TTL_SECONDS: std::ops::RangeInclusive<i64> = 10..=300;
pub const DEFAULT_LOCK_TTL_SECONDS: i64 = 60;

/// `POST …/lock` body: `{"ttlSeconds"?: 10..300, "force"?: bool}` (an empty body is fine).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockRequest {
    pub ttl_seconds: i64,
    pub force: bool,
}

impl TryFrom<&Value> for LockRequest {
    type Error = ApiError;

    fn try_from(body: &Value) -> ApiResult<Self> {
        let empty = serde_json::Map::new();
        let obj = match body {
            Value::Null => &empty,
            Value::Object(obj) => obj,
            _ => {
                return Err(ApiError::bad_request(
                    "invalid_body",
                    "the body must be a JSON object",
                ))
            }
        };
        let ttl_seconds = match obj.get("ttlSeconds") {
            None | Some(Value::Null) => DEFAULT_LOCK_TTL_SECONDS,
            Some(v) => v
                .as_i64()
                .filter(|t| LOCK_TTL_SECONDS.contains(t))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_field",
                        "ttlSeconds must be a whole number between 10 and 300",
                    )
                })?,
        };
        let force = match obj.get("force") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(ApiError::bad_request(
                    "invalid_field",
                    "force must be true or false",
                ))
            }
        };
        Ok(Self { ttl_seconds, force })
    }
}

/// Longest note, in characters (Unicode scalar values).
pub const MAX_NOTE_CHARS: usize = 2_000;

/// `POST …/notes` body `{"text"}`: 1–2,000 characters, not only whitespace, kept byte for byte.
pub fn parse_note_text(body: &Value) -> ApiResult<String> {
    match body.get("text") {
        Some(Value::String(t)) if !t.trim().is_empty() && t.chars().count() <= MAX_NOTE_CHARS => {
            Ok(t.clone())
        }
        Some(Value::String(_)) => Err(ApiError::bad_request(
            "invalid_field",
            "text must be 1 to 2000 characters and not only spaces",
        )),
        _ => Err(ApiError::bad_request(
            "invalid_field",
            "send {\"text\": \"…\"} with the note",
        )),
    }
}

/// One page request of the activity log: newest first, entries with `seq < before`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityPage {
    pub before: Option<u64>,
    pub limit: u32,
    pub actor: Option<String>,
    pub order_id: Option<String>,
}

impl ActivityPage {
    pub const DEFAULT_LIMIT: u32 = 50;

    /// From query parameters `before`, `limit`, and (for the shop-wide log) `actor`, `orderId`.
    pub fn parse(params: &[(String, String)], filters: bool) -> ApiResult<Self> {
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let before = match get("before").filter(|b| !b.is_empty()) {
            None => None,
            Some(b) => Some(
                b.parse::<u64>()
                    .ok()
                    .filter(|n| *n >= 1 && *n < (1 << 52))
                    .ok_or_else(|| {
                        ApiError::bad_request("invalid_query", "before must be an activity seq")
                    })?,
            ),
        };
        let limit = match get("limit") {
            None => Self::DEFAULT_LIMIT,
            Some(l) => l
                .parse::<u32>()
                .ok()
                .filter(|l| (1..=100).contains(l))
                .ok_or_else(|| {
                    ApiError::bad_request("invalid_query", "limit must be between 1 and 100")
                })?,
        };
        let text = |name: &str| -> ApiResult<Option<String>> {
            match get(name) {
                None | Some("") => Ok(None),
                Some(v) if filters && v.chars().count() <= 200 => Ok(Some(v.to_string())),
                Some(_) if filters => Err(ApiError::bad_request(
                    "invalid_query",
                    format!("{name} is at most 200 characters"),
                )),
                Some(_) => Ok(None),
            }
        };
        Ok(Self {
            before,
            limit,
            actor: text("actor")?,
            order_id: text("orderId")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn order() -> Order {
        Order {
            notes: "Customer requested pink roses".into(),
            version: 7,
            updated_at: "2026-11-24T10:05:00.000Z".into(),
            updated_by: "florist-a".into(),
            ..crate::domain::sample_order()
        }
    }

    fn meta() -> FieldMeta {
        FieldMeta {
            status: FieldChange {
                version: 1,
                by: Some("shopify".into()),
                at: Some("2026-11-24T10:00:00.000Z".into()),
            },
            assigned_to: FieldChange::default(),
            notes: FieldChange {
                version: 7,
                by: Some("florist-a".into()),
                at: Some("2026-11-24T10:05:00.000Z".into()),
            },
        }
    }

    fn patch(body: Value) -> OrderPatch {
        OrderPatch::try_from(&body).unwrap()
    }

    const NOW: &str = "2026-11-24T10:06:00.000Z";

    #[test]
    fn if_match_accepts_star_and_etags_and_refuses_the_rest() {
        assert_eq!(parse_if_match(None).unwrap(), Precondition::Latest);
        assert_eq!(parse_if_match(Some("*")).unwrap(), Precondition::Exists);
        assert_eq!(
            parse_if_match(Some("\"3\"")).unwrap(),
            Precondition::StartedFrom(3)
        );
        assert_eq!(
            parse_if_match(Some(" W/\"12\" ")).unwrap(),
            Precondition::StartedFrom(12)
        );
        for bad in ["3", "\"x\"", "\"\"", "\"0\"", "\"-1\"", "\"3\", \"4\"", ""] {
            assert_eq!(
                parse_if_match(Some(bad)).unwrap_err().status(),
                400,
                "{bad}"
            );
        }
    }

    #[test]
    fn a_field_changed_after_the_start_conflicts_with_who_and_when() {
        let found = conflicts(&patch(json!({"notes": "mine"})), 5, &order(), &meta());
        assert_eq!(found.len(), 1);
        let c = &found[0];
        assert_eq!(c.field, "notes");
        assert_eq!(c.yours, json!("mine"));
        assert_eq!(c.theirs, json!("Customer requested pink roses"));
        assert_eq!(c.changed_by.as_deref(), Some("florist-a"));
        assert_eq!(c.version, 7);
    }

    #[test]
    fn untouched_or_identical_fields_never_conflict() {
        // status changed long ago, assignee never: both merge cleanly.
        assert!(conflicts(
            &patch(json!({"status": "in_progress", "assignedTo": "b"})),
            5,
            &order(),
            &meta()
        )
        .is_empty());
        // notes changed after 5, but to exactly what the user wants.
        assert!(conflicts(
            &patch(json!({"notes": "Customer requested pink roses"})),
            5,
            &order(),
            &meta()
        )
        .is_empty());
        // the edit started after the change: no conflict.
        assert!(conflicts(&patch(json!({"notes": "mine"})), 7, &order(), &meta()).is_empty());
    }

    #[test]
    fn refusals_are_explained_in_the_order_a_user_needs() {
        let p = patch(json!({"notes": "mine"}));
        assert!(matches!(
            explain_refusal(&p, Precondition::Latest, "b", NOW, None),
            Some(Refusal::NotFound)
        ));
        let mut locked = order();
        locked.lock = Some(OrderLock {
            holder: "florist-a".into(),
            expires_at: "2026-11-24T10:07:00.000Z".into(),
            lock_version: 2,
            acquired_at: NOW.into(),
        });
        assert!(matches!(
            explain_refusal(&p, Precondition::Latest, "b", NOW, Some((&locked, &meta()))),
            Some(Refusal::Locked(l)) if l.holder == "florist-a"
        ));
        // The holder herself, and anyone once the lease ran out, pass the lock check.
        assert!(explain_refusal(
            &p,
            Precondition::Latest,
            "florist-a",
            NOW,
            Some((&locked, &meta()))
        )
        .is_none());
        assert!(explain_refusal(
            &p,
            Precondition::Latest,
            "b",
            "2026-11-24T10:08:00.000Z",
            Some((&locked, &meta()))
        )
        .is_none());
        assert!(matches!(
            explain_refusal(
                &p,
                Precondition::StartedFrom(9),
                "b",
                NOW,
                Some((&order(), &meta()))
            ),
            Some(Refusal::UnknownVersion)
        ));
        assert!(matches!(
            explain_refusal(&p, Precondition::StartedFrom(5), "b", NOW, Some((&order(), &meta()))),
            Some(Refusal::Conflicts(c)) if c.len() == 1
        ));
        let skip = patch(json!({"status": "delivered"}));
        assert!(matches!(
            explain_refusal(&skip, Precondition::Latest, "b", NOW, Some((&order(), &meta()))),
            Some(Refusal::Transition(e)) if e.status() == 422
        ));
        let same = patch(json!({"notes": "Customer requested pink roses"}));
        assert!(matches!(
            explain_refusal(
                &same,
                Precondition::StartedFrom(2),
                "b",
                NOW,
                Some((&order(), &meta()))
            ),
            Some(Refusal::NoChange)
        ));
    }

    #[test]
    fn a_fingerprint_names_the_user_and_the_body_not_its_spacing() {
        let a = request_fingerprint("ana", &json!({"customerName": "Ada", "items": []}));
        let spaced: Value =
            serde_json::from_str(r#"{ "customerName" : "Ada", "items": [ ] }"#).unwrap();
        assert_eq!(a, request_fingerprint("ana", &spaced));
        assert_ne!(a, request_fingerprint("bo", &spaced));
        assert_ne!(
            a,
            request_fingerprint("ana", &json!({"customerName": "Bea", "items": []}))
        );
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn lock_requests_default_to_a_minute_and_bound_the_lease() {
        assert_eq!(
            LockRequest::try_from(&Value::Null).unwrap(),
            LockRequest {
                ttl_seconds: 60,
                force: false
            }
        );
        assert_eq!(
            LockRequest::try_from(&json!({"ttlSeconds": 300, "force": true})).unwrap(),
            LockRequest {
                ttl_seconds: 300,
                force: true
            }
        );
        for bad in [
            json!({"ttlSeconds": 9}),
            json!({"ttlSeconds": 301}),
            json!({"ttlSeconds": "60"}),
            json!({"ttlSeconds": 1.5}),
            json!({"force": "yes"}),
            json!([1]),
        ] {
            assert_eq!(
                LockRequest::try_from(&bad).unwrap_err().status(),
                400,
                "{bad}"
            );
        }
    }

    #[test]
    fn note_text_is_kept_exactly_within_bounds() {
        let text = "  Customer requested pink roses 🌹\n\"no lilies\"  ";
        assert_eq!(parse_note_text(&json!({ "text": text })).unwrap(), text);
        assert!(parse_note_text(&json!({ "text": "🌹".repeat(2000) })).is_ok());
        for bad in [
            json!({"text": ""}),
            json!({"text": "   \n"}),
            json!({"text": "x".repeat(2001)}),
            json!({"text": 5}),
            json!({}),
        ] {
            assert_eq!(parse_note_text(&bad).unwrap_err().status(), 400);
        }
    }

    #[test]
    fn activity_pages_are_bounded() {
        let q = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let page = ActivityPage::parse(&q(&[]), true).unwrap();
        assert_eq!((page.before, page.limit), (None, 50));
        let page = ActivityPage::parse(
            &q(&[("before", "17"), ("limit", "100"), ("actor", "ana")]),
            true,
        )
        .unwrap();
        assert_eq!(page.before, Some(17));
        assert_eq!(page.actor.as_deref(), Some("ana"));
        assert_eq!(
            ActivityPage::parse(&q(&[("actor", "ana")]), false)
                .unwrap()
                .actor,
            None
        );
        for bad in [
            [("limit", "0")],
            [("limit", "101")],
            [("before", "x")],
            [("before", "0")],
        ] {
            assert_eq!(
                ActivityPage::parse(&q(&bad), true).unwrap_err().status(),
                400
            );
        }
    }
}
