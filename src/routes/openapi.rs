//! `GET /api/openapi.json`: the HTTP contract (OpenAPI 3.1), the same bytes as
//! `docs/openapi.json`. `make contract` fuzzes the running Worker against it, and a unit test
//! checks it lists exactly the routes of [`super::ROUTES`].
//!
//! The document is not built into the Worker: `make build` copies it to the static files
//! (`public/openapi.json`) and this route reads it from the web Worker ([`super::web`]). Inside
//! the Wasm it was 168 KB of the module (15 KB gzip) for one rarely read route (issue #14).

use worker::{Headers, Response};

use crate::app::App;
use crate::error::{ApiError, ApiResult};

/// Where `make build` puts the document among the static files.
const FILE: &str = "/openapi.json";

/// The document, for the unit tests that hold it against the routes.
#[cfg(test)]
pub const DOCUMENT: &str = include_str!("../../docs/openapi.json");

/// GET /api/openapi.json
pub async fn document(app: &App) -> ApiResult<Response> {
    let Some(body) = super::web::file(app, FILE).await? else {
        return Err(ApiError::internal(
            "openapi.json is not among the static files; run make build",
        ));
    };
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    headers.set("cache-control", "public, max-age=300")?;
    Ok(Response::from_bytes(body)?.with_headers(headers))
}
