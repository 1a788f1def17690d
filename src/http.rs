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
    query_pairs(&req.inner().url())
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
