//! `GET /api/health`: is the Worker up, which build, which schema; with `?deep=1`, also is D1
//! reachable. The plain form touches nothing but the isolate (a load balancer's or uptime
//! probe's liveness check, answered in well under a millisecond of CPU); the deep form is the
//! readiness check a deploy runs once.

use serde_json::json;
use worker::Response;

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::http::{json_response, query, query_param, Request};

/// GET /api/health[?deep=1]
pub async fn health(req: &Request, app: &App) -> ApiResult<Response> {
    let deep = match query_param(&query(req), "deep").as_deref() {
        None | Some("0") | Some("false") => false,
        Some("1") | Some("true") => true,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_deep",
                "deep is 1 (also check the database) or 0",
            ))
        }
    };
    let mut body = json!({
        "status": "ok",
        "version": env!("BUILD_VERSION"),
        "schemaVersion": env!("SCHEMA_VERSION").parse::<u32>().unwrap_or(0),
        "heartbeatSeconds": app.var_u64("HEARTBEAT_SECONDS", 30),
    });
    if !deep {
        return json_response(200, &body);
    }
    let db_ok = match app.db() {
        Ok(db) => db
            .prepare("SELECT 1 AS ok")
            .first::<f64>(Some("ok"))
            .await
            .is_ok(),
        Err(_) => false,
    };
    body["status"] = json!(if db_ok { "ok" } else { "degraded" });
    body["database"] = json!(if db_ok { "ok" } else { "unreachable" });
    json_response(if db_ok { 200 } else { 503 }, &body)
}
