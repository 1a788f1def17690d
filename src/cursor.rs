//! The opaque list cursor: base64url of `[updatedAt, id]` of the last order of a page.

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

#[cfg(test)]
mod tests {
    use super::*;

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
