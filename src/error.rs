//! The one error type at the HTTP boundary. Every variant names its status; the JSON body is
//! built in one place (`ApiError::to_response`). Internal causes are logged, never sent.

use serde_json::{json, Value};

#[derive(Debug)]
pub enum ApiError {
    /// 400: the request is malformed (bad JSON, bad field, bad query parameter).
    BadRequest { code: &'static str, message: String },
    /// 401: no credentials, or credentials that do not verify.
    Unauthorized(String),
    /// 403: valid credentials that may not do this.
    Forbidden(String),
    /// 404: no such route or resource (also for another tenant's resources).
    NotFound(String),
    /// 404 with a more specific code (e.g. `not_locked`: the order exists, its lock does not).
    NotFoundCode { code: &'static str, message: String },
    /// 404: a Shopify webhook from a shop no tenant is connected to (Shopify retries it).
    UnknownShop(String),
    /// 405: the route exists but not with this method.
    MethodNotAllowed,
    /// 409: the resource already exists.
    Conflict { code: &'static str, message: String },
    /// 412 `version_mismatch`: `If-Match` names a version that never existed; carries the
    /// current order.
    PreconditionFailed { current: Value },
    /// 412 `edit_conflict`: fields the user changed were changed by someone else since the
    /// version the edit started from; carries the current order and each conflict.
    EditConflict { current: Value, conflicts: Value },
    /// 423 `locked`: someone else holds a live edit lock on the order; carries the lock.
    Locked { lock: Value },
    /// 413: the body is larger than the limit.
    PayloadTooLarge,
    /// 415: the body is not JSON.
    UnsupportedMediaType,
    /// 422: well-formed but not allowed (unknown status, forbidden transition).
    Unprocessable { code: &'static str, message: String },
    /// 426: a WebSocket route called without `Upgrade: websocket`.
    UpgradeRequired,
    /// 429: too many live connections (per shop or per user).
    TooManyRequests { code: &'static str, message: String },
    /// 500: our fault. The cause is logged; the client sees a generic message.
    Internal(String),
    /// 503: a feature this deployment has not configured (e.g. `push_not_configured`).
    ServiceUnavailable { code: &'static str, message: String },
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unprocessable {
            code,
            message: message.into(),
        }
    }

    /// 404 for a path nothing here serves: no API route, no static file.
    pub fn no_route(path: &str) -> Self {
        Self::NotFound(format!("no route for {path}"))
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }

    pub fn status(&self) -> u16 {
        match self {
            Self::BadRequest { .. } => 400,
            Self::Unauthorized(_) => 401,
            Self::Forbidden(_) => 403,
            Self::NotFound(_) | Self::NotFoundCode { .. } | Self::UnknownShop(_) => 404,
            Self::MethodNotAllowed => 405,
            Self::Conflict { .. } => 409,
            Self::PreconditionFailed { .. } | Self::EditConflict { .. } => 412,
            Self::Locked { .. } => 423,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::Unprocessable { .. } => 422,
            Self::UpgradeRequired => 426,
            Self::TooManyRequests { .. } => 429,
            Self::Internal(_) => 500,
            Self::ServiceUnavailable { .. } => 503,
        }
    }

    /// The JSON body the client receives.
    pub fn body(&self) -> Value {
        let (code, message): (&str, String) = match self {
            Self::BadRequest { code, message }
            | Self::NotFoundCode { code, message }
            | Self::TooManyRequests { code, message }
            | Self::Conflict { code, message }
            | Self::ServiceUnavailable { code, message }
            | Self::Unprocessable { code, message } => (code, message.clone()),
            Self::Unauthorized(m) => ("unauthorized", m.clone()),
            Self::Forbidden(m) => ("forbidden", m.clone()),
            Self::NotFound(m) => ("not_found", m.clone()),
            Self::UnknownShop(m) => ("unknown_shop", m.clone()),
            Self::MethodNotAllowed => (
                "method_not_allowed",
                "this route does not accept that method".into(),
            ),
            Self::PreconditionFailed { .. } => (
                "version_mismatch",
                "the order was changed by someone else; here is the current version".into(),
            ),
            Self::EditConflict { .. } => (
                "edit_conflict",
                "someone else changed the same fields since your edit started; nothing was saved"
                    .into(),
            ),
            Self::Locked { lock } => (
                "locked",
                format!(
                    "{} is editing this order; try again when they are done",
                    lock.get("holder")
                        .and_then(Value::as_str)
                        .unwrap_or("someone")
                ),
            ),
            Self::PayloadTooLarge => ("payload_too_large", "the body is larger than 1 MiB".into()),
            Self::UnsupportedMediaType => (
                "unsupported_media_type",
                "send the body as application/json".into(),
            ),
            Self::UpgradeRequired => (
                "upgrade_required",
                "this route speaks WebSocket: send Upgrade: websocket".into(),
            ),
            Self::Internal(_) => ("internal", "something went wrong on our side".into()),
        };
        let mut body = json!({ "error": { "code": code, "message": message } });
        match self {
            Self::PreconditionFailed { current } => body["order"] = current.clone(),
            Self::EditConflict { current, conflicts } => {
                body["order"] = current.clone();
                body["conflicts"] = conflicts.clone();
            }
            Self::Locked { lock } => body["lock"] = lock.clone(),
            _ => {}
        }
        body
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Internal(cause) => write!(f, "internal error: {cause}"),
            other => write!(f, "{} {}", other.status(), other.body()),
        }
    }
}

impl From<worker::Error> for ApiError {
    fn from(err: worker::Error) -> Self {
        Self::Internal(err.to_string())
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(err: serde_json::Error) -> Self {
        Self::Internal(format!("json: {err}"))
    }
}

impl ApiError {
    /// Is this a database unique-constraint failure on `target` (e.g. `"tenants.id"`)? The one
    /// place that knows how D1 spells it.
    pub fn is_unique_violation(&self, target: &str) -> bool {
        matches!(self, Self::Internal(cause)
            if cause.contains("UNIQUE constraint failed") && cause.contains(target))
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_hide_their_cause_from_the_client() {
        let err = ApiError::internal("SQLITE_CONSTRAINT: secret table name");
        assert_eq!(err.status(), 500);
        assert!(!err.body().to_string().contains("SQLITE"));
    }

    #[test]
    fn unique_violations_are_recognised_by_target() {
        let err =
            ApiError::internal("D1_ERROR: UNIQUE constraint failed: tenants.id: SQLITE_CONSTRAINT");
        assert!(err.is_unique_violation("tenants.id"));
        assert!(!err.is_unique_violation("orders.id"));
        assert!(!ApiError::NotFound("tenants.id".into()).is_unique_violation("tenants.id"));
    }

    #[test]
    fn conflicts_and_locks_carry_what_the_client_needs() {
        let err = ApiError::EditConflict {
            current: json!({"version": 7}),
            conflicts: json!([{"field": "notes"}]),
        };
        assert_eq!(err.status(), 412);
        assert_eq!(err.body()["error"]["code"], "edit_conflict");
        assert_eq!(err.body()["conflicts"][0]["field"], "notes");
        assert_eq!(err.body()["order"]["version"], 7);
        let err = ApiError::Locked {
            lock: json!({"holder": "florist-a"}),
        };
        assert_eq!(err.status(), 423);
        assert_eq!(err.body()["lock"]["holder"], "florist-a");
        assert!(err.body()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("florist-a"));
    }

    #[test]
    fn precondition_failed_carries_the_current_order() {
        let err = ApiError::PreconditionFailed {
            current: json!({"id": "o1", "version": 3}),
        };
        assert_eq!(err.status(), 412);
        assert_eq!(err.body()["order"]["version"], 3);
        assert_eq!(err.body()["error"]["code"], "version_mismatch");
    }
}
