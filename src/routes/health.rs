//! `GET /api/health`: is the Worker up, which build, which schema, is D1 reachable.

use serde_json::json;
use worker::Response;

use crate::app::App;
use crate::error::ApiResult;
use crate::http::json_response;

/// GET /api/health
pub async fn health(app: &App) -> ApiResult<Response> {
    let db_ok = match app.db() {
        Ok(db) => db
            .prepare("SELECT 1 AS ok")
            .first::<f64>(Some("ok"))
            .await
            .is_ok(),
        Err(_) => false,
    };
    let body = json!({
        "status": if db_ok { "ok" } else { "degraded" },
        "version": env!("BUILD_VERSION"),
        "schemaVersion": env!("SCHEMA_VERSION").parse::<u32>().unwrap_or(0),
        "heartbeatSeconds": app.var_u64("HEARTBEAT_SECONDS", 30),
        "database": if db_ok { "ok" } else { "unreachable" },
    });
    json_response(if db_ok { 200 } else { 503 }, &body)
}
