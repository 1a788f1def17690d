//! `GET /api/openapi.json`: the HTTP contract (OpenAPI 3.1), the same bytes as
//! `docs/openapi.json`. `make contract` fuzzes the running Worker against it, and a unit test
//! checks it lists exactly the routes of [`super::ROUTES`].

use worker::{Headers, Response};

use crate::error::ApiResult;

/// The document, built into the Worker.
pub const DOCUMENT: &str = include_str!("../../docs/openapi.json");

/// GET /api/openapi.json
pub fn document() -> ApiResult<Response> {
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    headers.set("cache-control", "public, max-age=300")?;
    Ok(Response::ok(DOCUMENT)?.with_headers(headers))
}
