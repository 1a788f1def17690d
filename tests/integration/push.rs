//! Issue 13: Web Push. The test is the push service and the browser: a local HTTP server on
//! 127.0.0.1 (registered as the subscription's endpoint; the Worker runs with
//! `PUSH_ALLOW_LOCALHOST=1`) that records every push, and a [`FakeBrowser`] with its own P-256
//! key and auth secret that decrypts them, as a browser would.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use florist_board::push;
use florist_board::push_rules;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use serde_json::{json, Value};

use crate::support::{secs, Client, Resp, Resume, Server, Tenant, VAPID_SUBJECT};

pub const TESTS: &[crate::Test] = &[
    (
        "the_vapid_public_key_for_push_is_served_without_auth",
        the_vapid_public_key_for_push_is_served_without_auth,
    ),
    (
        "an_assignment_pushes_to_the_offline_assignee_encrypted_and_signed",
        an_assignment_pushes_to_the_offline_assignee_encrypted_and_signed,
    ),
    (
        "no_push_reaches_a_user_while_they_are_on_the_board",
        no_push_reaches_a_user_while_they_are_on_the_board,
    ),
    (
        "push_errors_are_retried_and_a_gone_subscription_is_deleted",
        push_errors_are_retried_and_a_gone_subscription_is_deleted,
    ),
    (
        "another_shops_events_never_push_to_a_subscription",
        another_shops_events_never_push_to_a_subscription,
    ),
    (
        "push_subscriptions_are_validated_listed_updated_and_limited",
        push_subscriptions_are_validated_listed_updated_and_limited,
    ),
    (
        "note_and_status_pushes_follow_the_preferences",
        note_and_status_pushes_follow_the_preferences,
    ),
];

/// Run alone, after the parallel tests, so the number is not the other tests' noise.
pub const SERVER_TESTS: &[crate::ServerTest] = &[(
    "push_commit_to_push_latency_p50",
    push_commit_to_push_latency_p50,
)];

// ---------------------------------------------------------------------------------------------
// The browser and the push service.

/// The browser's half of a subscription: what it registers, and how it reads a push.
pub struct FakeBrowser {
    private: [u8; 32],
    auth: [u8; 16],
    pub p256dh: String,
    pub auth_b64: String,
}

impl FakeBrowser {
    pub fn new() -> Self {
        // A VAPID key pair and a browser's subscription key pair are the same kind of thing.
        let (private, p256dh) = push::generate_vapid_keypair().expect("key pair");
        let private: [u8; 32] = URL_SAFE_NO_PAD
            .decode(private)
            .expect("base64url")
            .try_into()
            .expect("32 bytes");
        let mut auth = [0u8; 16];
        getrandom::getrandom(&mut auth).expect("random");
        Self {
            private,
            auth,
            p256dh,
            auth_b64: URL_SAFE_NO_PAD.encode(auth),
        }
    }

    /// The notification JSON of a push body.
    pub fn open(&self, body: &[u8]) -> Value {
        let plain =
            push::decrypt(body, &self.private, &self.auth).expect("a push this browser can read");
        serde_json::from_slice(&plain).expect("the payload is JSON")
    }
}

/// One request the push service received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A push service on 127.0.0.1: records each request and answers 201, or the statuses a test
/// scripted for a path.
pub struct PushService {
    pub port: u16,
    rx: Receiver<Received>,
    answers: Arc<Mutex<HashMap<String, VecDeque<u16>>>>,
    stop: Arc<AtomicBool>,
}

impl PushService {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let (tx, rx) = channel();
        let answers: Arc<Mutex<HashMap<String, VecDeque<u16>>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (scripted, stopped) = (answers.clone(), stop.clone());
        thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let (tx, scripted) = (tx.clone(), scripted.clone());
                thread::spawn(move || {
                    let _ = serve(stream, &tx, &scripted);
                });
            }
        });
        Self {
            port,
            rx,
            answers,
            stop,
        }
    }

    pub fn endpoint(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/push/{name}", self.port)
    }

    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The next requests to `/push/{name}` are answered with these statuses, in order.
    pub fn answer(&self, name: &str, statuses: &[u16]) {
        if let Ok(mut a) = self.answers.lock() {
            a.insert(format!("/push/{name}"), statuses.iter().copied().collect());
        }
    }

    pub fn next(&self, timeout: Duration) -> Option<Received> {
        self.rx.recv_timeout(timeout).ok()
    }

    /// The next push, or panic saying what was expected.
    pub fn expect(&self, what: &str) -> Received {
        self.next(secs(10))
            .unwrap_or_else(|| panic!("expected a push: {what}"))
    }

    pub fn assert_quiet(&self, wait: Duration) {
        if let Some(r) = self.next(wait) {
            panic!("expected no push, got one to {}", r.path);
        }
    }
}

impl Drop for PushService {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(
    stream: TcpStream,
    tx: &std::sync::mpsc::Sender<Received>,
    scripted: &Mutex<HashMap<String, VecDeque<u16>>>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(secs(10)))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (
            parts.next().unwrap_or_default().to_string(),
            parts.next().unwrap_or_default().to_string(),
        );
        let mut headers = Vec::new();
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let find = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let mut body = Vec::new();
        if find("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            loop {
                line.clear();
                reader.read_line(&mut line)?;
                let size = usize::from_str_radix(line.trim(), 16).unwrap_or(0);
                let mut chunk = vec![0; size + 2];
                reader.read_exact(&mut chunk)?;
                if size == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..size]);
            }
        } else if let Some(n) = find("content-length").and_then(|v| v.parse::<usize>().ok()) {
            body.resize(n, 0);
            reader.read_exact(&mut body)?;
        }
        let at = Instant::now();
        let status = scripted
            .lock()
            .ok()
            .and_then(|mut s| s.get_mut(&path).and_then(VecDeque::pop_front))
            .unwrap_or(201);
        let _ = tx.send(Received {
            method,
            path,
            headers,
            body,
            at,
        });
        write!(
            writer,
            "HTTP/1.1 {status} Push\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n"
        )?;
        writer.flush()?;
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers.

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_string()
}

fn text(r: &Resp) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

fn subscribe(t: &Tenant, token: &str, endpoint: &str, b: &FakeBrowser, events: Value) -> Resp {
    let mut body = json!({"endpoint": endpoint, "expirationTime": null,
                          "keys": {"p256dh": b.p256dh, "auth": b.auth_b64}});
    if !events.is_null() {
        body["events"] = events;
    }
    t.client.call(
        "POST",
        &t.path("/push/subscriptions"),
        Some(token),
        Some(body),
    )
}

fn subscriptions(t: &Tenant, token: &str) -> Vec<Value> {
    let r = t
        .client
        .call("GET", &t.path("/push/subscriptions"), Some(token), None);
    assert_eq!(r.status, 200, "{}", text(&r));
    r.json()["subscriptions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn create_as(t: &Tenant, token: &str, customer: &str) -> Value {
    let r = t.client.call(
        "POST",
        &t.path("/orders"),
        Some(token),
        Some(json!({"customerName": customer, "items": [{"title": "Pink roses", "quantity": 12}]})),
    );
    assert_eq!(r.status, 201, "{}", text(&r));
    r.json()
}

/// `PUT` as `token`; returns the event id.
fn change(t: &Tenant, id: &str, token: &str, patch: Value) -> String {
    let r = t.put(id, token, patch);
    assert_eq!(r.status, 200, "{}", text(&r));
    r.json()["event"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn add_note(t: &Tenant, id: &str, token: &str, note: &str) {
    let r = t.client.call(
        "POST",
        &t.path(&format!("/orders/{id}/notes")),
        Some(token),
        Some(json!({ "text": note })),
    );
    assert_eq!(r.status, 201, "{}", text(&r));
}

/// Checks `Authorization: vapid t=<jwt>, k=<key>`: `k` is the Worker's public key, the JWT
/// verifies with it, `aud` is the endpoint's origin; returns the claims.
fn check_vapid(authorization: &str, public_b64: &str, expected_aud: &str) -> Value {
    let rest = authorization
        .strip_prefix("vapid t=")
        .expect("vapid scheme");
    let (jwt, k) = rest.split_once(", k=").expect("t and k");
    assert_eq!(k, public_b64);
    let (input, sig) = jwt.rsplit_once('.').expect("three parts");
    let key =
        VerifyingKey::from_sec1_bytes(&URL_SAFE_NO_PAD.decode(k).expect("k")).expect("a P-256 key");
    let sig = Signature::from_slice(&URL_SAFE_NO_PAD.decode(sig).expect("sig")).expect("r||s");
    key.verify(input.as_bytes(), &sig).expect("ES256 signature");
    let mut parts = input.split('.');
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(parts.next().unwrap_or(""))
            .expect("hdr"),
    )
    .expect("header JSON");
    assert_eq!(header["alg"], "ES256");
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(parts.next().unwrap_or(""))
            .expect("clm"),
    )
    .expect("claims JSON");
    assert_eq!(claims["aud"], expected_aud);
    assert_eq!(claims["sub"], VAPID_SUBJECT);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let exp = claims["exp"].as_i64().expect("exp");
    assert!(exp > now && exp <= now + 24 * 3600, "exp {exp}, now {now}");
    claims
}

fn public_key(c: &Client) -> String {
    let r = c.call("GET", "/api/push/vapid-public-key", None, None);
    assert_eq!(r.status, 200, "{}", text(&r));
    r.json()["publicKey"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// Tests.

fn the_vapid_public_key_for_push_is_served_without_auth(c: &Client) {
    let key = public_key(c);
    assert_eq!(key, c.vapid_public);
    assert_eq!(URL_SAFE_NO_PAD.decode(&key).map(|k| k.len()).ok(), Some(65));
    let r = c.call("POST", "/api/push/vapid-public-key", None, None);
    assert_eq!(r.status, 405);
}

fn an_assignment_pushes_to_the_offline_assignee_encrypted_and_signed(c: &Client) {
    let t = c.tenant("push-assign");
    let svc = PushService::start();
    let browser = FakeBrowser::new();
    let r = subscribe(&t, &t.florist, &svc.endpoint("a"), &browser, Value::Null);
    assert_eq!(r.status, 201, "{}", text(&r));
    assert_eq!(
        r.json()["events"],
        json!(["order_created", "assigned_to_me"])
    );
    assert!(r.json().get("keys").is_none() && r.json().get("p256dh").is_none());

    // Her own new order: she is the actor, no push.
    let order = create_as(&t, &t.florist, "Emma Clarke");
    let id = id_of(&order);
    let event_id = change(&t, &id, &t.manager, json!({"assignedTo": "florist-123"}));

    let push = svc.expect("the assignment");
    assert_eq!(
        (push.method.as_str(), push.path.as_str()),
        ("POST", "/push/a")
    );
    assert_eq!(push.header("ttl"), Some("3600"));
    assert_eq!(push.header("urgency"), Some("normal"));
    assert_eq!(push.header("content-encoding"), Some("aes128gcm"));
    assert_eq!(
        push.header("content-type"),
        Some("application/octet-stream")
    );
    let topic = push.header("topic").expect("Topic");
    assert!(topic.len() <= 32, "{topic}");
    assert!(topic
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    assert_eq!(topic, push_rules::topic(&id));
    check_vapid(
        push.header("authorization").expect("Authorization"),
        &public_key(c),
        &svc.origin(),
    );
    let payload = browser.open(&push.body);
    assert!(push.body.len() <= 4096);
    assert_eq!(
        payload["title"],
        format!(
            "Order {} is assigned to you",
            order["orderNumber"].as_str().unwrap_or("?")
        )
    );
    assert!(payload["body"]
        .as_str()
        .is_some_and(|b| b.contains("Emma Clarke") && b.ends_with("(by manager-1)")));
    assert_eq!(payload["orderId"], id.as_str());
    assert_eq!(payload["eventId"], event_id.as_str());
    assert_eq!(payload["url"], format!("/?order={id}"));
    svc.assert_quiet(Duration::from_millis(800));

    // A new order by someone else: urgent, and the same token (cached per push service).
    let other = create_as(&t, &t.florist2, "Liam Chen");
    let push2 = svc.expect("the new order");
    assert_eq!(push2.header("urgency"), Some("high"));
    assert_eq!(
        push2.header("topic"),
        Some(push_rules::topic(&id_of(&other)).as_str())
    );
    assert_eq!(push2.header("authorization"), push.header("authorization"));
    let payload = browser.open(&push2.body);
    assert_eq!(payload["orderId"], id_of(&other).as_str());
    assert!(payload["title"]
        .as_str()
        .is_some_and(|t| t.starts_with("New order")));
}

fn no_push_reaches_a_user_while_they_are_on_the_board(c: &Client) {
    let t = c.tenant("push-online");
    let svc = PushService::start();
    let (online, offline) = (FakeBrowser::new(), FakeBrowser::new());
    // florist-123 (on the board) and florist-456 (not) both want new orders.
    assert_eq!(
        subscribe(&t, &t.florist, &svc.endpoint("on"), &online, Value::Null).status,
        201
    );
    assert_eq!(
        subscribe(&t, &t.florist2, &svc.endpoint("off"), &offline, Value::Null).status,
        201
    );
    let sse = t.subscribe(Resume::Live); // florist-123's token

    let order = create_as(&t, &t.manager, "Sofia Rossi");
    let id = id_of(&order);
    let push = svc.expect("the new order, for the offline florist");
    assert_eq!(push.path, "/push/off");
    assert_eq!(offline.open(&push.body)["orderId"], id.as_str());

    change(&t, &id, &t.manager, json!({"assignedTo": "florist-123"}));
    let seen = sse.events(2, secs(5));
    assert_eq!(seen[1].1, "order_updated", "she sees it on screen");
    svc.assert_quiet(secs(2));

    // She leaves (the hub notices at a heartbeat); the next assignment is pushed.
    sse.cut();
    let deadline = Instant::now() + secs(15);
    while t.stats()["connections"] != 0 {
        assert!(
            Instant::now() < deadline,
            "the cut stream was never noticed"
        );
        thread::sleep(Duration::from_millis(200));
    }
    let second = create_as(&t, &t.florist2, "Noah Patel");
    assert_eq!(
        svc.expect("the second order, for the offline florist-123")
            .path,
        "/push/on"
    );
    change(
        &t,
        &id_of(&second),
        &t.manager,
        json!({"assignedTo": "florist-123"}),
    );
    let push = svc.expect("the assignment after she left");
    assert_eq!(push.path, "/push/on");
    assert_eq!(online.open(&push.body)["orderId"], id_of(&second).as_str());
}

fn push_errors_are_retried_and_a_gone_subscription_is_deleted(c: &Client) {
    let t = c.tenant("push-gone");
    let svc = PushService::start();
    let browser = FakeBrowser::new();
    let endpoint = svc.endpoint("a");
    assert_eq!(
        subscribe(&t, &t.florist, &endpoint, &browser, Value::Null).status,
        201
    );
    let first = id_of(&create_as(&t, &t.florist, "Ada"));

    // Busy twice, then accepted: three tries of the same push.
    svc.answer("a", &[503, 429, 201]);
    change(&t, &first, &t.manager, json!({"assignedTo": "florist-123"}));
    let tries: Vec<Received> = (0..3)
        .map(|i| svc.expect(&format!("try {}", i + 1)))
        .collect();
    for r in &tries {
        assert_eq!(browser.open(&r.body)["orderId"], first.as_str());
    }
    assert!(tries[2].at.duration_since(tries[0].at) >= Duration::from_millis(1400));
    svc.assert_quiet(secs(1));
    assert_eq!(subscriptions(&t, &t.florist).len(), 1, "kept");

    // Gone: the subscription is deleted, and nothing more is sent to it.
    svc.answer("a", &[410]);
    let second = id_of(&create_as(&t, &t.florist, "Bo"));
    change(
        &t,
        &second,
        &t.manager,
        json!({"assignedTo": "florist-123"}),
    );
    assert_eq!(svc.expect("the push answered 410").path, "/push/a");
    let deadline = Instant::now() + secs(10);
    while !subscriptions(&t, &t.florist).is_empty() {
        assert!(Instant::now() < deadline, "the gone subscription was kept");
        thread::sleep(Duration::from_millis(100));
    }
    change(&t, &first, &t.manager, json!({"assignedTo": null}));
    change(&t, &first, &t.manager, json!({"assignedTo": "florist-123"}));
    svc.assert_quiet(secs(2));
}

fn another_shops_events_never_push_to_a_subscription(c: &Client) {
    let mine = c.tenant("push-mine");
    let other = c.tenant("push-other");
    let svc = PushService::start();
    let browser = FakeBrowser::new();
    let all = json!([
        "order_created",
        "assigned_to_me",
        "note_on_my_order",
        "status_of_my_order"
    ]);
    assert_eq!(
        subscribe(&mine, &mine.florist, &svc.endpoint("a"), &browser, all).status,
        201
    );

    // The other shop has a florist-123 too; everything there concerns her namesake only.
    let id = id_of(&create_as(&other, &other.florist2, "Elsewhere"));
    change(
        &other,
        &id,
        &other.manager,
        json!({"assignedTo": "florist-123"}),
    );
    add_note(&other, &id, &other.florist2, "not for you");
    change(
        &other,
        &id,
        &other.manager,
        json!({"status": "in_progress"}),
    );
    svc.assert_quiet(secs(2));

    let here = id_of(&create_as(&mine, &mine.florist2, "Here"));
    let push = svc.expect("her own shop's new order");
    assert_eq!(browser.open(&push.body)["orderId"], here.as_str());
    svc.assert_quiet(Duration::from_millis(500));
}

fn push_subscriptions_are_validated_listed_updated_and_limited(c: &Client) {
    let t = c.tenant("push-subs");
    let other = c.tenant("push-subs-other");
    let b = FakeBrowser::new();
    let endpoint = |i: usize| format!("https://push.example/send/{i}");
    let path = t.path("/push/subscriptions");
    let valid = json!({"endpoint": endpoint(0), "keys": {"p256dh": b.p256dh, "auth": b.auth_b64}});

    // Who may.
    assert_eq!(c.call("POST", &path, None, Some(valid.clone())).status, 401);
    assert_eq!(c.call("GET", &path, Some(&other.florist), None).status, 403);
    assert_eq!(c.call("PUT", &path, Some(&t.florist), None).status, 405);

    // What may be stored.
    let short_key = URL_SAFE_NO_PAD.encode([4u8; 33]);
    let long_endpoint = format!("https://push.example/{}", "x".repeat(3000));
    let cases = [
        (
            json!({"endpoint": endpoint(0), "keys": {"p256dh": short_key, "auth": b.auth_b64}}),
            "invalid_p256dh",
        ),
        (
            json!({"endpoint": endpoint(0), "keys": {"p256dh": b.p256dh, "auth": "AAAA"}}),
            "invalid_auth",
        ),
        (json!({"endpoint": endpoint(0)}), "invalid_p256dh"),
        (
            json!({"endpoint": "http://push.example/x", "keys": valid["keys"]}),
            "invalid_endpoint",
        ),
        (
            json!({"endpoint": "http://localhost:1/x", "keys": valid["keys"]}),
            "invalid_endpoint",
        ),
        (
            json!({"endpoint": long_endpoint, "keys": valid["keys"]}),
            "invalid_endpoint",
        ),
        (
            json!({"endpoint": "not a url", "keys": valid["keys"]}),
            "invalid_endpoint",
        ),
        (
            json!({"endpoint": endpoint(0), "keys": valid["keys"], "events": ["order_deleted"]}),
            "invalid_events",
        ),
        (
            json!({"endpoint": endpoint(0), "keys": valid["keys"], "events": []}),
            "invalid_events",
        ),
        (json!([valid.clone()]), "invalid_body"),
    ];
    for (body, code) in cases {
        let r = c.call("POST", &path, Some(&t.florist), Some(body.clone()));
        assert_eq!((r.status, r.error_code().as_str()), (400, code), "{body}");
    }
    let r = c
        .request(
            "POST",
            &path,
            Some(&t.florist),
            &[],
            Some(("text/plain", valid.to_string().as_bytes())),
        )
        .expect("POST");
    assert_eq!(r.status, 415);
    assert!(subscriptions(&t, &t.florist).is_empty(), "nothing stored");

    // Ten devices, then no more; the same endpoint again is an update, even at the limit.
    for i in 0..10 {
        let r = subscribe(&t, &t.florist, &endpoint(i), &b, Value::Null);
        assert_eq!(r.status, 201, "{i}: {}", text(&r));
    }
    let r = subscribe(&t, &t.florist, &endpoint(10), &b, Value::Null);
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (409, "too_many_subscriptions")
    );
    let r = subscribe(
        &t,
        &t.florist,
        &endpoint(3),
        &b,
        json!(["note_on_my_order"]),
    );
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(r.json()["events"], json!(["note_on_my_order"]));
    let list = subscriptions(&t, &t.florist);
    assert_eq!(list.len(), 10);
    let third = list
        .iter()
        .find(|s| s["endpoint"] == endpoint(3).as_str())
        .expect("still listed once");
    assert_eq!(third["events"], json!(["note_on_my_order"]));
    assert!(third.get("p256dh").is_none() && third.get("keys").is_none());

    // Each sees and deletes only their own.
    assert!(subscriptions(&t, &t.florist2).is_empty());
    let del = |token: &str, q: &str| c.call("DELETE", &format!("{path}{q}"), Some(token), None);
    let q = |i: usize| format!("?endpoint={}", urlencode(&endpoint(i)));
    assert_eq!(del(&t.florist2, &q(3)).status, 404);
    assert_eq!(del(&other.florist, &q(3)).status, 403);
    let r = del(&t.florist, "");
    assert_eq!((r.status, r.error_code().as_str()), (400, "invalid_query"));
    assert_eq!(del(&t.florist, &q(3)).status, 204);
    assert_eq!(del(&t.florist, &q(3)).status, 404);
    assert_eq!(
        subscribe(&t, &t.florist, &endpoint(10), &b, Value::Null).status,
        201
    );

    // A browser someone else signs in on moves to them (one row per endpoint).
    assert_eq!(
        subscribe(&t, &t.florist2, &endpoint(0), &b, Value::Null).status,
        201
    );
    assert_eq!(subscriptions(&t, &t.florist).len(), 9);
    assert_eq!(subscriptions(&t, &t.florist2).len(), 1);
}

fn note_and_status_pushes_follow_the_preferences(c: &Client) {
    let t = c.tenant("push-prefs");
    let svc = PushService::start();
    let browser = FakeBrowser::new();
    let prefs = json!(["note_on_my_order", "status_of_my_order"]);
    assert_eq!(
        subscribe(&t, &t.florist, &svc.endpoint("a"), &browser, prefs).status,
        201
    );

    let id = id_of(&create_as(&t, &t.florist2, "Mia")); // not asked for
    change(&t, &id, &t.manager, json!({"assignedTo": "florist-123"})); // not asked for
    add_note(&t, &id, &t.florist, "my own note"); // her own
    add_note(&t, &id, &t.florist2, "Pink, not red");
    let note = browser.open(&svc.expect("the note").body);
    assert_eq!(
        note["title"],
        format!(
            "New note on {}",
            t.get_order(&id)["orderNumber"].as_str().unwrap_or("?")
        )
    );
    assert_eq!(note["body"], "florist-456: Pink, not red");

    change(&t, &id, &t.manager, json!({"status": "in_progress"}));
    let status = browser.open(&svc.expect("the status change").body);
    assert!(status["title"]
        .as_str()
        .is_some_and(|t| t.ends_with("is now in progress")));
    change(&t, &id, &t.florist, json!({"status": "ready"})); // her own change
    change(&t, &id, &t.manager, json!({"notes": "instructions"})); // not a status
    svc.assert_quiet(secs(2));
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Commit → push: from the `PUT`'s answer (the change is committed) to the push request
/// arriving at the push service, for 20 assignments, one after another.
fn push_commit_to_push_latency_p50(server: &mut Server) {
    let c = server.client();
    let t = c.tenant("push-latency");
    let svc = PushService::start();
    let browser = FakeBrowser::new();
    assert_eq!(
        subscribe(
            &t,
            &t.florist,
            &svc.endpoint("a"),
            &browser,
            json!(["assigned_to_me"])
        )
        .status,
        201
    );
    let ids: Vec<String> = (0..20)
        .map(|i| id_of(&create_as(&t, &t.manager, &format!("C{i}"))))
        .collect();
    let mut after_answer = Vec::new();
    let mut after_send = Vec::new();
    for id in &ids {
        let sent = Instant::now();
        change(&t, id, &t.manager, json!({"assignedTo": "florist-123"}));
        let answered = Instant::now();
        let push = svc.expect("the assignment");
        assert_eq!(browser.open(&push.body)["orderId"], id.as_str());
        // Signed: the push may arrive before this thread has read the PUT's answer.
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        after_answer.push(if push.at >= answered {
            ms(push.at - answered)
        } else {
            -ms(answered - push.at)
        });
        after_send.push(push.at.duration_since(sent).as_secs_f64() * 1000.0);
    }
    let stats = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        (v[v.len() / 2], v[v.len() * 9 / 10], v[v.len() - 1])
    };
    let (p50, p90, max) = stats(&mut after_answer);
    let (s50, s90, smax) = stats(&mut after_send);
    println!(
        "push latency over {} pushes: PUT answered → push arrived p50 {p50:.1} ms, p90 {p90:.1} ms, \
         max {max:.1} ms; PUT sent → push arrived p50 {s50:.1} ms, p90 {s90:.1} ms, max {smax:.1} ms",
        ids.len()
    );
    assert!(p50 < 2000.0, "p50 {p50:.1} ms");
}
