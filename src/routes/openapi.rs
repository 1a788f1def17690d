//! `GET /api/openapi.json`: the HTTP contract (OpenAPI 3.1), the same bytes as
//! `docs/openapi.json`. `make contract` fuzzes the running Worker against it, and a unit test
//! checks it lists exactly the routes of [`super::ROUTES`].
//!
//! The document is not built into the Worker: `make build` copies it to the static assets
//! (`public/openapi.json`) and this route reads it through the `ASSETS` binding. Inside the Wasm
//! it was 168 KB of the module (15 KB gzip) for one rarely read route (issue #14).

use worker::{Headers, Response};

use crate::app::App;
use crate::error::{ApiError, ApiResult};

/// Where `make build` puts the document among the static assets (the host is ignored).
const ASSET: &str = "https://assets.invalid/openapi.json";

/// The document, for the unit tests that hold it against the routes.
#[cfg(test)]
pub const DOCUMENT: &str = include_str!("../../docs/openapi.json");

/// GET /api/openapi.json
pub async fn document(app: &App) -> ApiResult<Response> {
    let mut asset = app.env.assets("ASSETS")?.fetch(ASSET, None).await?;
    if asset.status_code() != 200 {
        return Err(ApiError::internal(format!(
            "openapi.json is not among the static assets (status {}); run make build",
            asset.status_code()
        )));
    }
    let body = asset.bytes().await?;
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    headers.set("cache-control", "public, max-age=300")?;
    Ok(Response::from_bytes(body)?.with_headers(headers))
}
