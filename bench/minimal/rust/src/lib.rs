//! GET /health → {"status":"ok"}; GET /health-log → the same plus one `console_log!` of a
//! ~150-byte JSON line (the shape of the main Worker's request log line).
use worker::{console_log, event, Context, Env, Method, Request, Response};

const BODY: &str = r#"{"status":"ok"}"#;
const LOG_LINE: &str = r#"{"requestId":"3f2b6c1e-8a4d-4f7b-9c2e-1d5a6b7c8d9e","tenant":null,"method":"GET","route":"/api/health","status":200,"ms":0,"note":"minimal-bench-log-line"}"#;

fn ok() -> worker::Result<Response> {
    let mut resp = Response::ok(BODY)?;
    resp.headers_mut().set("content-type", "application/json")?;
    Ok(resp)
}

#[event(fetch)]
async fn fetch(req: Request, _env: Env, _ctx: Context) -> worker::Result<Response> {
    if req.method() != Method::Get {
        return Response::error("method not allowed", 405);
    }
    match req.path().as_str() {
        // `/api/health` too, so `loadgen wait-ready` can time its cold start.
        "/health" | "/api/health" => ok(),
        "/health-log" => {
            console_log!("{LOG_LINE}");
            ok()
        }
        _ => Response::error("not found", 404),
    }
}
