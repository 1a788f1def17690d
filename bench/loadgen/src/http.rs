//! A tiny HTTP/1.1 client over hyper's connection API: one TCP connection per `Conn`, kept alive,
//! no pool, no TLS. Every SSE subscriber owns its own `Conn`, so N subscribers are N sockets.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

pub type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Where the server is: socket address plus the `Host` header value.
#[derive(Clone, Debug)]
pub struct Target {
    pub addr: SocketAddr,
    pub host: String,
}

impl Target {
    /// Accepts `http://127.0.0.1:8787` (loopback only; anything else is refused).
    pub fn parse(base_url: &str) -> Res<Target> {
        let rest = base_url
            .strip_prefix("http://")
            .ok_or("base URL must start with http://")?;
        let host = rest.trim_end_matches('/').to_string();
        let addr: SocketAddr = host
            .parse()
            .map_err(|_| format!("base URL host must be IP:port, got {host}"))?;
        if !addr.ip().is_loopback() {
            return Err("the load generator only talks to loopback addresses".into());
        }
        Ok(Target { addr, host })
    }
}

pub struct Conn {
    tx: SendRequest<Full<Bytes>>,
    host: String,
}

pub async fn connect(t: &Target) -> Res<Conn> {
    let s = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(t.addr)).await??;
    s.set_nodelay(true)?;
    let (tx, conn) = http1::handshake(TokioIo::new(s)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(Conn {
        tx,
        host: t.host.clone(),
    })
}

impl Conn {
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Sends a request and returns the response with its body still streaming.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<Vec<u8>>,
        accept: &str,
    ) -> Res<Response<Incoming>> {
        self.tx.ready().await?;
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.host)
            .header("accept", accept);
        if let Some(tok) = bearer {
            b = b.header("authorization", format!("Bearer {tok}"));
        }
        let req = match body {
            Some(v) => b
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(v)))?,
            None => b.body(Full::new(Bytes::new()))?,
        };
        Ok(self.tx.send_request(req).await?)
    }

    /// Sends a request and reads the whole body.
    pub async fn call(
        &mut self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Res<(StatusCode, Bytes)> {
        let resp = self
            .send(method, path, bearer, body, "application/json")
            .await?;
        let status = resp.status();
        let bytes = resp.into_body().collect().await?.to_bytes();
        Ok((status, bytes))
    }
}

/// A connection that reconnects when the server closed it between requests.
pub struct Client {
    t: Target,
    conn: Option<Conn>,
}

impl Client {
    pub fn new(t: &Target) -> Client {
        Client {
            t: t.clone(),
            conn: None,
        }
    }

    pub async fn call(
        &mut self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Res<(StatusCode, Bytes)> {
        if self.conn.as_ref().map(|c| c.is_closed()).unwrap_or(true) {
            self.conn = Some(connect(&self.t).await?);
        }
        let c = self.conn.as_mut().expect("connected");
        match c.call(method, path, bearer, body).await {
            Ok(r) => Ok(r),
            Err(e) => {
                self.conn = None;
                Err(e)
            }
        }
    }
}
