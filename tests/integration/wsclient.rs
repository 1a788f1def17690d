//! A WebSocket client for the tests: one background thread owns the socket (reads with a short
//! timeout, writes what the test queues), and hands every server message to the test.

use std::io::ErrorKind;
use std::net::Shutdown;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use tungstenite::handshake::client::generate_key;
use tungstenite::http::Request;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::{Error, Message};

use crate::support::Client;

/// What the server sent.
#[derive(Debug, Clone)]
pub enum WsMsg {
    /// A JSON text frame.
    Json(Value),
    /// A text frame that is not JSON (e.g. the runtime's `pong`).
    Text(String),
    /// The server closed the socket with this code.
    Closed(Option<u16>),
}

enum Out {
    Text(String),
    Close(u16),
    /// Drop the TCP connection without a close frame.
    Cut,
}

pub struct Ws {
    rx: Receiver<WsMsg>,
    tx: Sender<Out>,
}

/// A refused upgrade: the HTTP status and the JSON body.
#[derive(Debug)]
pub struct Refused {
    pub status: u16,
    pub body: Value,
}

impl Ws {
    /// Opens `path` (with its query, e.g. `?access_token=`) as a WebSocket.
    pub fn open(client: &Client, path: &str) -> Result<Ws, Refused> {
        let stream = client.connect().expect("connect");
        let request = Request::builder()
            .uri(format!("ws://127.0.0.1:{}{path}", client.port))
            .header("Host", format!("127.0.0.1:{}", client.port))
            .header("Connection", "Upgrade")
            .header("Upgrade", "websocket")
            .header("Sec-WebSocket-Version", "13")
            .header("Sec-WebSocket-Key", generate_key())
            .body(())
            .expect("request");
        let (mut socket, _) = match tungstenite::client(request, stream) {
            Ok(ok) => ok,
            Err(tungstenite::HandshakeError::Failure(Error::Http(resp))) => {
                // The handshake does not read a refusal's body: ask again to see it.
                let again = client.request(
                    "GET",
                    path,
                    None,
                    &[("Upgrade", "websocket"), ("Sec-WebSocket-Version", "13")],
                    None,
                );
                return Err(Refused {
                    status: resp.status().as_u16(),
                    body: again.map(|r| r.json()).unwrap_or(Value::Null),
                });
            }
            Err(e) => panic!("websocket handshake: {e}"),
        };
        socket
            .get_mut()
            .set_read_timeout(Some(Duration::from_millis(20)))
            .expect("timeout");
        let (to_test, rx) = channel();
        let (tx, from_test) = channel::<Out>();
        thread::spawn(move || loop {
            match socket.read() {
                Ok(Message::Text(t)) => {
                    let msg = serde_json::from_str(t.as_str())
                        .map(WsMsg::Json)
                        .unwrap_or_else(|_| WsMsg::Text(t.to_string()));
                    if to_test.send(msg).is_err() {
                        return;
                    }
                }
                Ok(Message::Close(frame)) => {
                    let _ = to_test.send(WsMsg::Closed(frame.map(|f| u16::from(f.code))));
                    return;
                }
                Ok(_) => {}
                Err(Error::Io(e))
                    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(Error::ConnectionClosed) | Err(Error::AlreadyClosed) | Err(_) => {
                    let _ = to_test.send(WsMsg::Closed(None));
                    return;
                }
            }
            while let Ok(out) = from_test.try_recv() {
                let result = match out {
                    Out::Text(t) => socket.send(Message::text(t)),
                    Out::Close(code) => socket.close(Some(CloseFrame {
                        code: CloseCode::from(code),
                        reason: "bye".into(),
                    })),
                    Out::Cut => {
                        let _ = socket.get_mut().shutdown(Shutdown::Both);
                        return;
                    }
                };
                if result.is_err() {
                    let _ = socket.flush();
                }
            }
        });
        Ok(Ws { rx, tx })
    }

    pub fn send(&self, text: &str) {
        let _ = self.tx.send(Out::Text(text.to_string()));
    }

    pub fn send_json(&self, v: Value) {
        self.send(&v.to_string());
    }

    /// Says goodbye with a close frame (`1000` = on purpose).
    pub fn close(&self, code: u16) {
        let _ = self.tx.send(Out::Close(code));
    }

    /// Drops the connection without a close frame, like a phone losing its network.
    pub fn cut(self) {
        let _ = self.tx.send(Out::Cut);
    }

    pub fn next(&self, timeout: Duration) -> Option<WsMsg> {
        self.rx.recv_timeout(timeout).ok()
    }

    /// The next JSON message of `kind` within `timeout`, skipping heartbeats and other kinds.
    pub fn next_of(&self, kind: &str, timeout: Duration) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            match self.next(left)? {
                WsMsg::Json(v) if v["type"] == kind => return Some(v),
                WsMsg::Closed(_) => return None,
                _ => continue,
            }
        }
    }

    /// The next `n` change events (the `event` objects), in the order they came.
    pub fn events(&self, n: usize, timeout: Duration) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        let mut got = Vec::new();
        while got.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_of("event", left) {
                Some(v) => got.push(v["event"].clone()),
                None => panic!("expected {n} events over the socket, got {}", got.len()),
            }
        }
        got
    }

    /// Waits for the close, returning its code.
    pub fn closed(&self, timeout: Duration) -> Option<Option<u16>> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            if let WsMsg::Closed(code) = self.next(left)? {
                return Some(code);
            }
        }
    }
}

/// The ids of events, as numbers.
pub fn event_ids(events: &[Value]) -> Vec<u64> {
    events
        .iter()
        .map(|e| e["id"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0))
        .collect()
}
