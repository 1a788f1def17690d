//! Everything outside `/api/`: the board page, its script and styles, the service worker and the
//! contract (`openapi.json`). They are static files (`public/`, built by `make build`) served by
//! an assets-only Worker of their own, `florist-board-web` (`web/wrangler.toml`), which this
//! Worker reaches through the `WEB` service binding.
//!
//! Why not `[assets]` on this Worker: then every request, the API's too, first passes the
//! platform's asset router, a Worker of its own. Locally that was +275 µs of CPU and +0.35 ms
//! of latency on every API call, about a third of the write path's gap to the JavaScript
//! baseline (issue #14, BENCHMARKS.md). With the files behind a binding, only a page load pays
//! the hop.

use worker::Response;

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::http::Request;

/// The paths this module serves: all but the API's.
pub fn is_static(path: &str) -> bool {
    path != "/api" && !path.starts_with("/api/")
}

/// GET (or HEAD) of a static file: the web Worker's answer as it is (its `content-type`, `etag`,
/// `cache-control`, a `304` to a conditional request); a file it does not have is our JSON 404.
pub async fn serve(req: Request, app: &App) -> ApiResult<Response> {
    let path = req.path();
    let resp = app
        .env
        .service("WEB")?
        .fetch_request(req.into_worker())
        .await?;
    if resp.status_code() == 404 {
        return Err(ApiError::no_route(&path));
    }
    Ok(resp)
}

/// One static file by its path (`/openapi.json`), for a route that serves it under `/api/`;
/// `None` when the web Worker does not have it.
pub async fn file(app: &App, path: &str) -> ApiResult<Option<Vec<u8>>> {
    // The host is ignored: the binding names the Worker.
    let url = format!("https://web.invalid{path}");
    let mut resp = app.env.service("WEB")?.fetch(url, None).await?;
    if resp.status_code() != 200 {
        return Ok(None);
    }
    Ok(Some(resp.bytes().await?))
}
