//! The opaque list cursor (base64url of `[updatedAt, id]` of the last order of a page), and
//! whether the event log can serve a resume position.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::error::{ApiError, ApiResult};

pub fn encode(updated_at: &str, id: &str) -> String {
    let json = serde_json::json!([updated_at, id]).to_string();
    URL_SAFE_NO_PAD.encode(json)
}

pub fn decode(cursor: &str) -> ApiResult<(String, String)> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<(String, String)>(&bytes).ok())
        .ok_or_else(|| ApiError::bad_request("invalid_cursor", "the cursor is not one we issued"))
}

/// Can the log answer "every change after `since`"? Only when nothing after it was pruned
/// (`oldest` is at most `since + 1`, or nothing happened since) and `since` is not past the head.
pub fn serves(since: u64, oldest: Option<u64>, head: u64) -> bool {
    if since > head {
        return false;
    }
    since == head || oldest.is_some_and(|o| o <= since + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_serves_a_position_only_when_nothing_after_it_was_pruned() {
        assert!(serves(0, Some(1), 5), "a full log");
        assert!(serves(4, Some(3), 9));
        assert!(serves(9, None, 9), "at the head, even with an empty log");
        assert!(!serves(0, Some(4), 9), "1..3 were pruned");
        assert!(!serves(2, None, 9), "everything was pruned");
        assert!(!serves(10, Some(1), 9), "never issued");
        assert!(serves(0, None, 0), "a new shop");
    }

    #[test]
    fn a_cursor_round_trips_and_garbage_is_400() {
        let c = encode("2026-11-24T10:00:00.000Z", "abc");
        assert_eq!(
            decode(&c).unwrap(),
            ("2026-11-24T10:00:00.000Z".to_string(), "abc".to_string())
        );
        assert_eq!(decode("nope!").unwrap_err().status(), 400);
        assert_eq!(
            decode(&URL_SAFE_NO_PAD.encode("[1]")).unwrap_err().status(),
            400
        );
    }
}
