//! Small HTTP helpers shared by the handlers: reading JSON bodies within limits, query
//! parameters, JSON responses, and the clock.

use serde::Serialize;
use serde_json::Value;
use worker::{Headers, Method, Response};

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

/// An incoming request, read only as far as a route needs it. workers-rs's `Request` reads the
/// method, URL, headers and `request.cf` of every request into Wasm before any code runs; this
/// keeps the runtime's request and asks it for a header or the body when a handler does
/// (issue #14: −20 µs of runtime CPU per request, BENCHMARKS.md).
pub struct Request {
    raw: web_sys::Request,
    method: Method,
    url: String,
}

impl Request {
    pub fn new(raw: web_sys::Request) -> Self {
        Self {
            method: Method::from(raw.method()),
            url: raw.url(),
            raw,
        }
    }

    pub fn method(&self) -> Method {
        self.method.clone()
    }

    /// The URL as the client sent it, absolute (`https://host/path?query`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL's path, still percent-encoded (as routes are matched).
    pub fn path(&self) -> String {
        path_of(&self.url).to_string()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.raw.headers().get(name).ok().flatten()
    }

    /// The whole body in one read (its size already checked by the caller).
    async fn bytes(&self) -> Option<Vec<u8>> {
        let buffer = wasm_bindgen_futures::JsFuture::from(self.raw.array_buffer().ok()?)
            .await
            .ok()?;
        Some(js_sys::Uint8Array::new(&buffer).to_vec())
    }

    /// workers-rs's request, for what needs one: a body streamed in chunks, a request passed on
    /// to another Worker.
    pub fn into_worker(self) -> worker::Request {
        worker::Request::from(self.raw)
    }

    fn to_worker(&self) -> worker::Request {
        // A second handle on the same JS object (`web_sys::Request::clone` would copy the request).
        worker::Request::from(<web_sys::Request as Clone>::clone(&self.raw))
    }
}

/// The path of an absolute URL (`/` when it has none), without query or fragment.
pub fn path_of(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let Some(start) = after_scheme.find(['/', '?', '#']) else {
        return "/";
    };
    let rest = &after_scheme[start..];
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    if end == 0 {
        "/"
    } else {
        &rest[..end]
    }
}

pub fn header(req: &Request, name: &str) -> Option<String> {
    req.header(name)
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
        return req.bytes().await.ok_or_else(unreadable);
    }
    let mut stream = match req.to_worker().stream() {
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
    query_pairs(req.url())
}

/// The `name=value` pairs of a URL's query, decoded as `application/x-www-form-urlencoded`
/// (`+` is a space, `%XY` a byte, invalid UTF-8 replaced), as `url`'s `query_pairs` does. Read
/// from the URL text so the `url` crate, and its IDNA tables, stay out of the Wasm (issue #14).
pub fn query_pairs(url: &str) -> Vec<(String, String)> {
    let url = url.split('#').next().unwrap_or_default();
    let Some((_, query)) = url.split_once('?') else {
        return Vec::new();
    };
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(name), form_decode(value))
        })
        .collect()
}

fn form_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |at: usize| bytes.get(at).and_then(|b| (*b as char).to_digit(16));
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (hex(i + 1), hex(i + 2)) {
                (Some(hi), Some(lo)) => {
                    out.push((hi * 16 + lo) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_is_read_from_the_url_as_sent() {
        for (url, path) in [
            ("https://board.example/api/health", "/api/health"),
            (
                "http://127.0.0.1:8787/api/tenants/demo/orders?status=new",
                "/api/tenants/demo/orders",
            ),
            ("http://127.0.0.1:8787/?token=x", "/"),
            ("http://127.0.0.1:8787", "/"),
            ("http://127.0.0.1:8787#top", "/"),
            ("https://h/board.js#x?y", "/board.js"),
            ("https://h/a%20b/c?d=/e", "/a%20b/c"),
        ] {
            assert_eq!(path_of(url), path, "{url}");
        }
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn query_pairs_decode_like_a_form() {
        assert_eq!(
            query_pairs("https://h.example/p?a=1&b=x+y&c=%41%2B%zz&&d&e=&a=2#f=3"),
            pairs(&[
                ("a", "1"),
                ("b", "x y"),
                ("c", "A+%zz"),
                ("d", ""),
                ("e", ""),
                ("a", "2")
            ])
        );
    }

    #[test]
    fn query_pairs_of_a_url_without_query_are_none() {
        assert!(query_pairs("https://h.example/p").is_empty());
        assert!(query_pairs("https://h.example/p?").is_empty());
        assert!(query_pairs("https://h.example/p#a=1").is_empty());
    }

    #[test]
    fn query_pairs_keep_utf8_and_replace_invalid_bytes() {
        assert_eq!(
            query_pairs("/p?name=Ren%C3%A9e&last%5Bid%5D=%FF&token=a=b"),
            pairs(&[
                ("name", "Renée"),
                ("last[id]", "\u{FFFD}"),
                ("token", "a=b")
            ])
        );
    }
}
