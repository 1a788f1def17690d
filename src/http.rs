//! Small HTTP helpers shared by the handlers: reading JSON bodies within limits, query
//! parameters, JSON responses, and the clock.

use serde::Serialize;
use serde_json::Value;
use worker::{Headers, Request, Response};

use crate::error::{ApiError, ApiResult};

/// Largest accepted request body.
pub const MAX_BODY: usize = 1024 * 1024;

/// The most one page of a list or one polling answer holds (it ends early, with a cursor).
pub const PAGE_BYTES: usize = 512 * 1024;

/// Milliseconds since the epoch, from the runtime's clock.
pub fn now_millis() -> i64 {
    worker::Date::now().as_millis() as i64
}

/// A numeric `[vars]` setting (overridable in `.dev.vars`), or `default` when absent or not a
/// positive whole number. Shared by the Worker and the hub.
pub fn var_u64(env: &worker::Env, name: &str, default: u64) -> u64 {
    env.var(name)
        .ok()
        .and_then(|v| v.to_string().trim().parse::<u64>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

pub fn header(req: &Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten()
}

/// Reads the raw body chunk by chunk: 413 when it is over the limit, by `Content-Length` before
/// reading, or as soon as what arrives crosses it (a chunked body is never buffered whole).
pub async fn read_body(req: &mut Request) -> ApiResult<Vec<u8>> {
    use futures_util::StreamExt;
    let unreadable = || ApiError::bad_request("unreadable_body", "the body could not be read");
    if let Some(len) = header(req, "content-length").and_then(|l| l.trim().parse::<usize>().ok()) {
        if len > MAX_BODY {
            return Err(ApiError::PayloadTooLarge);
        }
        // The length is the message's framing (the runtime never hands over more than it says),
        // so a declared, allowed size is read in one call rather than a stream of chunks.
        return req.bytes().await.map_err(|_| unreadable());
    }
    let mut stream = match req.stream() {
        Ok(stream) => stream,
        // No body at all.
        Err(_) => return Ok(Vec::new()),
    };
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| unreadable())?;
        if body.len() + chunk.len() > MAX_BODY {
            return Err(ApiError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Parses JSON bytes; a syntax error is the client's 400 with serde's position message.
pub fn parse_json(bytes: &[u8]) -> ApiResult<Value> {
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request("invalid_json", format!("the body is not valid JSON: {e}"))
    })
}

/// Reads a JSON request body: 415 unless `Content-Type` is JSON, 413 over 1 MiB, 400 if malformed.
pub async fn json_body(req: &mut Request) -> ApiResult<Value> {
    let content_type = header(req, "content-type").unwrap_or_default();
    let media = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if media != "application/json" && !media.ends_with("+json") {
        return Err(ApiError::UnsupportedMediaType);
    }
    let bytes = read_body(req).await?;
    parse_json(&bytes)
}

/// Query parameters of the request URL.
pub fn query(req: &Request) -> Vec<(String, String)> {
    req.url()
        .map(|u| {
            u.query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

pub fn query_param(params: &[(String, String)], name: &str) -> Option<String> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

pub fn json_response<T: Serialize>(status: u16, body: &T) -> ApiResult<Response> {
    Ok(Response::from_json(body)?.with_status(status))
}

pub fn with_header(mut resp: Response, name: &str, value: &str) -> ApiResult<Response> {
    resp.headers_mut().set(name, value)?;
    Ok(resp)
}

pub fn error_response(err: &ApiError) -> worker::Result<Response> {
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    Ok(Response::ok(err.body().to_string())?
        .with_status(err.status())
        .with_headers(headers))
}

/// Reads an optional JSON body: an empty body is `null`; anything else must be JSON (415/413/400
/// as for [`json_body`]).
pub async fn optional_json_body(req: &mut Request) -> ApiResult<Value> {
    let declared = header(req, "content-length").is_some_and(|l| l.trim() != "0")
        || header(req, "transfer-encoding").is_some();
    if !declared {
        return Ok(Value::Null);
    }
    let has_json_type = header(req, "content-type").is_some_and(|t| {
        let media = t
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        media == "application/json" || media.ends_with("+json")
    });
    let bytes = read_body(req).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    if !has_json_type {
        return Err(ApiError::UnsupportedMediaType);
    }
    parse_json(&bytes)
}
