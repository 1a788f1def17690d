//! Test support: starts the built Worker under `wrangler dev` (own ports, throwaway state),
//! a tiny HTTP/1.1 client, and an SSE reader whose socket a test can cut like a closed laptop.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use florist_board::auth::{sign, Claims};
use florist_board::domain::Role;
use florist_board::push;
use serde_json::{json, Value};

pub const HEARTBEAT_SECONDS: u64 = 1;
/// Low enough that a test can reach it (the default is 10,000).
pub const MAX_CONNECTIONS_PER_TENANT: u64 = 30;

/// Two distinct free ports (both listeners are held until both are known, so the OS cannot
/// hand out the same one twice).
fn free_ports() -> (u16, u16) {
    let a = TcpListener::bind("127.0.0.1:0").expect("free port");
    let b = TcpListener::bind("127.0.0.1:0").expect("free port");
    let port = |l: &TcpListener| l.local_addr().map(|a| a.port()).expect("free port");
    (port(&a), port(&b))
}

/// The last `max` bytes of a file, for a failure message that explains itself in CI logs.
fn tail_of(path: &std::path::Path, max: usize) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    let start = bytes.len().saturating_sub(max);
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

/// The Worker under `wrangler dev`.
pub struct Server {
    child: Option<Child>,
    pub port: u16,
    inspector_port: u16,
    pub state: PathBuf,
    pub admin_token: String,
    pub auth_secret: String,
    pub webhook_secret: String,
    /// The VAPID key pair the Worker signs pushes with (`VAPID_PRIVATE_KEY`), base64url.
    pub vapid_private: String,
    pub vapid_public: String,
}

/// The contact the Worker's VAPID tokens name.
pub const VAPID_SUBJECT: &str = "mailto:push-tests@florist.example";

impl Server {
    pub fn start() -> Server {
        let nonce = format!("{}", std::process::id());
        let state = std::env::temp_dir().join(format!("florist-it-{nonce}"));
        let _ = std::fs::remove_dir_all(&state);
        std::fs::create_dir_all(&state).expect("state dir");
        let (vapid_private, vapid_public) = push::generate_vapid_keypair().expect("VAPID key");
        let (port, inspector_port) = free_ports();
        let mut server = Server {
            child: None,
            port,
            inspector_port,
            state,
            admin_token: format!("it-admin-{nonce}"),
            auth_secret: format!("it-auth-secret-{nonce}"),
            webhook_secret: format!("it-shopify-secret-{nonce}"),
            vapid_private,
            vapid_public,
        };
        let status = Command::new("node_modules/.bin/wrangler")
            .args(["d1", "migrations", "apply", "DB", "--local", "--persist-to"])
            .arg(&server.state)
            .env("WRANGLER_SEND_METRICS", "false")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("wrangler d1 migrations apply");
        assert!(status.success(), "migrations failed");
        server.spawn();
        server
    }

    /// Starts `wrangler dev`; if it does not answer, tries once more on fresh ports (a port
    /// taken in between is not a test failure), and otherwise fails with the log's tail.
    fn spawn(&mut self) {
        if self.try_spawn(Duration::from_secs(90)) {
            return;
        }
        let first = tail_of(&self.state.join("wrangler.log"), 6000);
        eprintln!("wrangler dev did not answer within 90 s; its log ends:\n{first}\n-- retrying on fresh ports");
        self.stop();
        (self.port, self.inspector_port) = free_ports();
        if self.try_spawn(Duration::from_secs(90)) {
            return;
        }
        let log = tail_of(&self.state.join("wrangler.log"), 6000);
        self.stop();
        panic!(
            "the Worker did not answer /api/health within 90 s (twice); state in {:?}; wrangler.log ends:\n{log}",
            self.state
        );
    }

    fn try_spawn(&mut self, wait: Duration) -> bool {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.state.join("wrangler.log"))
            .expect("log file");
        let child = Command::new("node_modules/.bin/wrangler")
            // The API Worker with the board's static files beside it, as `make dev` serves them.
            .args(["dev", "-c", "wrangler.toml", "-c", "web/wrangler.toml"])
            .args(["--local", "--ip", "127.0.0.1", "--port"])
            .arg(self.port.to_string())
            .arg("--inspector-port")
            .arg(self.inspector_port.to_string())
            .arg("--persist-to")
            .arg(&self.state)
            .args([
                "--show-interactive-dev-session=false",
                "--test-scheduled",
                "--var",
            ])
            .arg(format!("ADMIN_TOKEN:{}", self.admin_token))
            .arg("--var")
            .arg(format!("AUTH_SECRET:{}", self.auth_secret))
            .arg("--var")
            .arg(format!("SHOPIFY_WEBHOOK_SECRET:{}", self.webhook_secret))
            .arg("--var")
            .arg(format!("HEARTBEAT_SECONDS:{HEARTBEAT_SECONDS}"))
            .arg("--var")
            .arg(format!(
                "MAX_CONNECTIONS_PER_TENANT:{MAX_CONNECTIONS_PER_TENANT}"
            ))
            // Web Push: a key to sign with, and the tests' own push service on 127.0.0.1.
            .arg("--var")
            .arg(format!("VAPID_PRIVATE_KEY:{}", self.vapid_private))
            .arg("--var")
            .arg(format!("VAPID_SUBJECT:{VAPID_SUBJECT}"))
            .args(["--var", "PUSH_ALLOW_LOCALHOST:1"])
            .env("WRANGLER_SEND_METRICS", "false")
            .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn wrangler dev");
        self.child = Some(child);
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            if let Ok(resp) = self.client().request("GET", "/api/health", None, &[], None) {
                if resp.status == 200 {
                    return true;
                }
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    eprintln!("wrangler dev exited early: {status}");
                    return false;
                }
            }
            thread::sleep(Duration::from_millis(200));
        }
        false
    }

    /// Stops the Worker cleanly (TERM lets workerd flush the local D1).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Every `workerd` under this server's wrangler: the proxy that listens on [`Server::port`]
    /// and the runtime that runs the Worker.
    fn workerd_pids(&self) -> Vec<u32> {
        let Some(root) = self.child.as_ref().map(|c| c.id()) else {
            return Vec::new();
        };
        let mut family = vec![root];
        let mut i = 0;
        while i < family.len() {
            let parent = family[i];
            if let Ok(entries) = std::fs::read_dir("/proc") {
                for entry in entries.flatten() {
                    let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                        continue;
                    };
                    let stat =
                        std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
                    // pid (comm) state ppid ...
                    let ppid = stat
                        .rsplit(')')
                        .next()
                        .and_then(|rest| rest.split_whitespace().nth(1))
                        .and_then(|p| p.parse::<u32>().ok());
                    if ppid == Some(parent) && !family.contains(&pid) {
                        family.push(pid);
                    }
                }
            }
            i += 1;
        }
        family
            .into_iter()
            .skip(1)
            .filter(|pid| {
                let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                comm.trim() == "workerd"
            })
            .collect()
    }

    /// Kills the runtime (every `workerd` under this server's wrangler) with SIGKILL, like a
    /// crash: no chance to flush or say goodbye.
    pub fn kill_runtime(&mut self) {
        for pid in self.workerd_pids() {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }

    /// The runtime workerd's own entry socket, which wrangler's proxy forwards to: the one
    /// port a `workerd` of this server listens on, other than [`Server::port`], that answers
    /// `/api/health`. A client there meets the runtime's streams directly; through the proxy
    /// it does not, because the proxy reads a response body as fast as the runtime writes it
    /// and buffers it for a slow client (so a stalled reader never backs up the Worker's stream).
    pub fn runtime_port(&self) -> Option<u16> {
        let mut sockets = Vec::new();
        for pid in self.workerd_pids() {
            let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
                continue;
            };
            for fd in fds.flatten() {
                let target = std::fs::read_link(fd.path()).unwrap_or_default();
                let target = target.to_string_lossy();
                if let Some(inode) = target
                    .strip_prefix("socket:[")
                    .and_then(|t| t.strip_suffix(']'))
                {
                    sockets.push(inode.to_string());
                }
            }
        }
        // /proc/net/tcp: `sl local_address rem_address st … inode`, addresses as hex `IP:PORT`,
        // state 0A = LISTEN.
        let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
        let ports = table.lines().skip(1).filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (local, state, inode) = (cols.get(1)?, cols.get(3)?, cols.get(9)?);
            if *state != "0A" || !sockets.iter().any(|s| s == inode) {
                return None;
            }
            u16::from_str_radix(local.rsplit(':').next()?, 16).ok()
        });
        ports
            .filter(|p| *p != self.port && *p != self.inspector_port)
            .find(|p| {
                let client = Client {
                    port: *p,
                    ..self.client()
                };
                client
                    .request_within(
                        Duration::from_secs(2),
                        "GET",
                        "/api/health",
                        None,
                        &[],
                        None,
                    )
                    .is_ok_and(|r| r.status == 200)
            })
    }

    pub fn state_dir(&self) -> &std::path::Path {
        &self.state
    }

    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// A client of the runtime's entry socket ([`Server::runtime_port`]).
    pub fn runtime_client(&self) -> Client {
        let port = self
            .runtime_port()
            .expect("no workerd of this server answers /api/health besides wrangler's proxy");
        Client {
            port,
            ..self.client()
        }
    }

    pub fn client(&self) -> Client {
        Client {
            port: self.port,
            state: self.state.clone(),
            admin_token: self.admin_token.clone(),
            auth_secret: self.auth_secret.clone(),
            webhook_secret: self.webhook_secret.clone(),
            vapid_public: self.vapid_public.clone(),
            log: self.state.join("wrangler.log"),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
        // KEEP_STATE=1 keeps the Worker's state and wrangler.log for a look after a failure.
        if std::env::var_os("KEEP_STATE").is_none() {
            let _ = std::fs::remove_dir_all(&self.state);
        }
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn error_code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("<none>")
            .to_string()
    }
}

fn read_head(reader: &mut BufReader<TcpStream>) -> std::io::Result<(u16, Vec<(String, String)>)> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
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
    Ok((status, headers))
}

/// Reads one chunk of a chunked body; `None` at the end.
fn read_chunk(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<Vec<u8>>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
        .map_err(|_| std::io::Error::other(format!("bad chunk size {line:?}")))?;
    if size == 0 {
        return Ok(None);
    }
    let mut buf = vec![0; size + 2];
    reader.read_exact(&mut buf)?;
    buf.truncate(size);
    Ok(Some(buf))
}

#[derive(Clone)]
pub struct Client {
    pub port: u16,
    /// The Worker's local state (`--persist-to`), for tests that reach into D1 directly.
    pub state: PathBuf,
    pub admin_token: String,
    pub auth_secret: String,
    pub webhook_secret: String,
    pub vapid_public: String,
    /// What `wrangler dev` printed: the Worker's own log lines among them.
    pub log: PathBuf,
}

static NONCE: AtomicU64 = AtomicU64::new(0);

impl Client {
    /// Runs SQL on the Worker's local D1 behind its back (e.g. an event whose publish was lost).
    pub fn d1_execute(&self, sql: &str) {
        self.d1_query(sql);
    }

    /// Runs SQL on the Worker's local D1 behind its back and returns the rows of its first
    /// statement (`wrangler d1 execute --json`).
    pub fn d1_query(&self, sql: &str) -> Vec<Value> {
        let mut last = String::new();
        // The running Worker may hold the database for a moment (SQLITE_BUSY): try again.
        for _ in 0..10 {
            let out = Command::new("node_modules/.bin/wrangler")
                .args(["d1", "execute", "DB", "--local", "--json", "--persist-to"])
                .arg(&self.state)
                .args(["--command", sql])
                .env("WRANGLER_SEND_METRICS", "false")
                .stdin(Stdio::null())
                .output()
                .expect("wrangler d1 execute");
            let json: Option<Value> = serde_json::from_slice(&out.stdout).ok();
            let rows = json.as_ref().and_then(|j| j[0]["results"].as_array());
            if let (true, Some(rows)) = (out.status.success(), rows) {
                return rows.clone();
            }
            last = format!(
                "{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            thread::sleep(Duration::from_millis(300));
        }
        panic!("d1 execute failed ten times; the last answer:\n{last}");
    }
}

/// A fresh, unique tenant id for one test.
pub fn unique(prefix: &str) -> String {
    let n = NONCE.fetch_add(1, Ordering::SeqCst);
    format!("{prefix}-{}-{n}", std::process::id())
}

impl Client {
    pub fn connect(&self) -> std::io::Result<TcpStream> {
        let s = TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_nodelay(true)?;
        Ok(s)
    }

    /// One HTTP/1.1 request with `Connection: close`.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        extra_headers: &[(&str, &str)],
        body: Option<(&str, &[u8])>,
    ) -> std::io::Result<Resp> {
        let timeout = Duration::from_secs(30);
        self.request_within(timeout, method, path, token, extra_headers, body)
    }

    /// As [`Client::request`], giving up when the answer stalls for `timeout`.
    pub fn request_within(
        &self,
        timeout: Duration,
        method: &str,
        path: &str,
        token: Option<&str>,
        extra_headers: &[(&str, &str)],
        body: Option<(&str, &[u8])>,
    ) -> std::io::Result<Resp> {
        let mut stream = self.connect()?;
        stream.set_read_timeout(Some(timeout))?;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n",
            self.port
        );
        if let Some(t) = token {
            head.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        for (k, v) in extra_headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some((content_type, bytes)) = body {
            head.push_str(&format!(
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                bytes.len()
            ));
        } else if method != "GET" && method != "HEAD" {
            head.push_str("Content-Length: 0\r\n");
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes())?;
        if let Some((_, bytes)) = body {
            stream.write_all(bytes)?;
        }
        let mut reader = BufReader::new(stream);
        let (status, headers) = read_head(&mut reader)?;
        let chunked = headers
            .iter()
            .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
        let length = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse::<usize>().ok());
        let mut body = Vec::new();
        if chunked {
            while let Some(chunk) = read_chunk(&mut reader)? {
                body.extend(chunk);
            }
        } else if let Some(n) = length {
            body.resize(n, 0);
            reader.read_exact(&mut body)?;
        } else if status != 204 && status != 304 {
            reader.read_to_end(&mut body)?;
        }
        Ok(Resp {
            status,
            headers,
            body,
        })
    }

    pub fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Resp {
        let bytes = body.map(|b| b.to_string().into_bytes());
        self.request(
            method,
            path,
            token,
            &[],
            bytes.as_deref().map(|b| ("application/json", b)),
        )
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    pub fn admin(&self, method: &str, path: &str, body: Value) -> Resp {
        let token = self.admin_token.clone();
        self.call(method, path, Some(&token), Some(body))
    }

    /// A token signed like the Worker's, with any claims (expired, other tenant…).
    pub fn forge(&self, sub: &str, tenant: &str, role: Role, exp: i64) -> String {
        sign(
            &Claims {
                sub: sub.into(),
                tenant: tenant.into(),
                role,
                exp,
                iss: None,
                aud: None,
                iat: None,
            },
            self.auth_secret.as_bytes(),
        )
    }

    /// Creates a tenant with a florist and a manager token.
    pub fn tenant(&self, prefix: &str) -> Tenant {
        self.tenant_with_domain(prefix, None)
    }

    pub fn tenant_with_domain(&self, prefix: &str, domain: Option<&str>) -> Tenant {
        let id = unique(prefix);
        let resp = self.admin(
            "POST",
            "/api/admin/tenants",
            json!({"id": id, "name": format!("Shop {id}"), "shopifyDomain": domain}),
        );
        assert_eq!(
            resp.status,
            201,
            "create tenant: {}",
            String::from_utf8_lossy(&resp.body)
        );
        let token = |user: &str, role: &str| {
            let r = self.admin(
                "POST",
                &format!("/api/admin/tenants/{id}/tokens"),
                json!({"userId": user, "role": role}),
            );
            assert_eq!(r.status, 201);
            r.json()["token"].as_str().unwrap_or_default().to_string()
        };
        Tenant {
            florist: token("florist-123", "florist"),
            florist2: token("florist-456", "florist"),
            manager: token("manager-1", "manager"),
            id,
            client: self.clone(),
        }
    }
}

pub struct Tenant {
    pub id: String,
    pub florist: String,
    pub florist2: String,
    pub manager: String,
    pub client: Client,
}

impl Tenant {
    pub fn path(&self, rest: &str) -> String {
        format!("/api/tenants/{}{rest}", self.id)
    }

    pub fn create_order(&self, customer: &str) -> Value {
        let r = self.client.call(
            "POST",
            &self.path("/orders"),
            Some(&self.florist),
            Some(json!({"customerName": customer, "items": [{"title": "Pink roses", "quantity": 12}]})),
        );
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        r.json()
    }

    /// The order as a florist of this shop reads it (`GET /orders/{id}`).
    pub fn get_order(&self, id: &str) -> Value {
        let r = self.client.call(
            "GET",
            &self.path(&format!("/orders/{id}")),
            Some(&self.florist),
            None,
        );
        assert_eq!(r.status, 200, "GET order {id}");
        r.json()
    }

    /// `DELETE /orders/{id}` as this shop's manager.
    pub fn delete(&self, id: &str) -> Resp {
        self.client.call(
            "DELETE",
            &self.path(&format!("/orders/{id}")),
            Some(&self.manager),
            None,
        )
    }

    pub fn put(&self, id: &str, token: &str, body: Value) -> Resp {
        self.client.call(
            "PUT",
            &self.path(&format!("/orders/{id}")),
            Some(token),
            Some(body),
        )
    }

    /// `writers` PUTs at once, each setting the notes of one of `orders` (round robin) as
    /// `token`'s user; returns each answer's status.
    pub fn concurrent_notes(&self, orders: &[String], writers: usize, token: &str) -> Vec<u16> {
        let handles: Vec<_> = (0..writers)
            .map(|i| {
                let (client, path, token) = (
                    self.client.clone(),
                    self.path(&format!("/orders/{}", orders[i % orders.len()])),
                    token.to_string(),
                );
                thread::spawn(move || {
                    let body = json!({"notes": format!("writer {i}")});
                    client.call("PUT", &path, Some(&token), Some(body)).status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).collect()
    }

    pub fn poll(&self, since: &str) -> Value {
        let r = self.client.call(
            "GET",
            &self.path(&format!("/orders/realtime-status?since={since}")),
            Some(&self.florist),
            None,
        );
        assert_eq!(r.status, 200);
        r.json()
    }

    pub fn stats(&self) -> Value {
        let r = self.client.call(
            "GET",
            &self.path("/realtime/stats"),
            Some(&self.manager),
            None,
        );
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        r.json()
    }

    pub fn subscribe(&self, resume: Resume) -> Sse {
        let mut path = self.path(&format!("/realtime/orders?access_token={}", self.florist));
        let mut headers = Vec::new();
        match resume {
            Resume::Live => {}
            Resume::Header(id) => headers.push(("Last-Event-ID".to_string(), id)),
            Resume::Query(id) => path.push_str(&format!("&lastEventId={id}")),
        }
        Sse::open(&self.client, &path, &headers)
    }
}

pub enum Resume {
    Live,
    Header(String),
    Query(String),
}

#[derive(Debug, Clone)]
pub enum SseMsg {
    Event {
        id: String,
        event: String,
        data: Value,
    },
    Comment(String),
    Retry(String),
    /// A frame with only an `id:` (the preamble): the position a reconnect resumes from.
    Position(String),
    Closed,
}

/// A live SSE subscription read by a background thread.
pub struct Sse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    rx: Receiver<SseMsg>,
    socket: TcpStream,
}

impl Sse {
    pub fn open(client: &Client, path: &str, headers: &[(String, String)]) -> Sse {
        Self::try_open(client, path, headers).expect("open the SSE stream")
    }

    /// As [`Sse::open`], with connection errors returned (a server that is restarting).
    pub fn try_open(
        client: &Client,
        path: &str,
        headers: &[(String, String)],
    ) -> std::io::Result<Sse> {
        let mut stream = client.connect()?;
        Self::send_request(&mut stream, client, path, headers)?;
        Self::read_from(stream)
    }

    /// Sends the request of `path` and reads nothing: a client whose reader has stalled (a
    /// frozen tab, a phone on a dead link). Its receive buffer is `recv_buffer` bytes (the
    /// kernel's rounding aside), so the kernel does not absorb what the server sends.
    pub fn open_unread(client: &Client, path: &str, recv_buffer: usize) -> UnreadSse {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("socket");
        // Before connecting, so the window the handshake offers is already small.
        socket.set_recv_buffer_size(recv_buffer).expect("SO_RCVBUF");
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], client.port));
        socket.connect(&addr.into()).expect("connect");
        let mut stream = TcpStream::from(socket);
        Self::send_request(&mut stream, client, path, &[]).expect("send the SSE request");
        UnreadSse { stream }
    }

    fn send_request(
        stream: &mut TcpStream,
        client: &Client,
        path: &str,
        headers: &[(String, String)],
    ) -> std::io::Result<()> {
        let mut head = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAccept: text/event-stream\r\n",
            client.port
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes())
    }

    /// Reads the response head from `stream`, then its events on a background thread.
    fn read_from(stream: TcpStream) -> std::io::Result<Sse> {
        let socket = stream.try_clone()?;
        let mut reader = BufReader::new(stream);
        let (status, resp_headers) = read_head(&mut reader)?;
        let (tx, rx) = channel();
        thread::spawn(move || {
            let mut pending = String::new();
            let (mut id, mut event, mut data) = (String::new(), String::new(), String::new());
            loop {
                let chunk = match read_chunk(&mut reader) {
                    Ok(Some(c)) => c,
                    _ => {
                        let _ = tx.send(SseMsg::Closed);
                        return;
                    }
                };
                pending.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(pos) = pending.find('\n') {
                    let line: String = pending.drain(..=pos).collect();
                    let line = line.trim_end_matches('\n');
                    let msg = if line.is_empty() {
                        if event.is_empty() && data.is_empty() {
                            // An `id:` with no data moves the resume position, dispatching nothing.
                            if !id.is_empty() {
                                let _ = tx.send(SseMsg::Position(std::mem::take(&mut id)));
                            }
                            continue;
                        }
                        let m = SseMsg::Event {
                            id: std::mem::take(&mut id),
                            event: std::mem::take(&mut event),
                            data: serde_json::from_str(&std::mem::take(&mut data))
                                .unwrap_or(Value::Null),
                        };
                        Some(m)
                    } else if let Some(c) = line.strip_prefix(':') {
                        Some(SseMsg::Comment(c.trim().to_string()))
                    } else if let Some(v) = line.strip_prefix("retry: ") {
                        Some(SseMsg::Retry(v.to_string()))
                    } else if let Some(v) = line.strip_prefix("id: ") {
                        id = v.to_string();
                        None
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        event = v.to_string();
                        None
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data.push_str(v);
                        None
                    } else {
                        None
                    };
                    if let Some(m) = msg {
                        if tx.send(m).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Ok(Sse {
            status,
            headers: resp_headers,
            rx,
            socket,
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The next message of any kind, within `timeout`.
    pub fn next(&self, timeout: Duration) -> Option<SseMsg> {
        match self.rx.recv_timeout(timeout) {
            Ok(m) => Some(m),
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => None,
        }
    }

    /// The next change event (skipping comments and heartbeats, as a client's change handler
    /// does), within `timeout`: (id, event type, data).
    pub fn next_event(&self, timeout: Duration) -> Option<(String, String, Value)> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            match self.next(left)? {
                SseMsg::Event { event, .. } if event == "heartbeat" => continue,
                SseMsg::Event { id, event, data } => return Some((id, event, data)),
                SseMsg::Closed => return None,
                _ => continue,
            }
        }
    }

    /// Exactly `n` events, or panic naming how many arrived.
    pub fn events(&self, n: usize, timeout: Duration) -> Vec<(String, String, Value)> {
        let deadline = Instant::now() + timeout;
        let mut got = Vec::new();
        while got.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_event(left) {
                Some(e) => got.push(e),
                None => panic!("expected {n} events, got {}: {:?}", got.len(), ids(&got)),
            }
        }
        got
    }

    /// Asserts no event arrives within `wait`.
    pub fn assert_quiet(&self, wait: Duration) {
        if let Some(e) = self.next_event(wait) {
            panic!("expected no event, got {e:?}");
        }
    }

    /// Cuts the connection without a goodbye, like a laptop lid closing.
    pub fn cut(self) {
        let _ = self.socket.shutdown(Shutdown::Both);
    }
}

/// An SSE request whose response nobody has read yet (see [`Sse::open_unread`]).
pub struct UnreadSse {
    stream: TcpStream,
}

impl UnreadSse {
    /// The reader wakes up: reads what the server has sent since, as [`Sse::open`] does.
    pub fn start_reading(self) -> Sse {
        Sse::read_from(self.stream).expect("read the stalled SSE response")
    }
}

impl Drop for Sse {
    fn drop(&mut self) {
        let _ = self.socket.shutdown(Shutdown::Both);
    }
}

pub fn ids(events: &[(String, String, Value)]) -> Vec<u64> {
    events
        .iter()
        .map(|(id, _, _)| id.parse().unwrap_or(0))
        .collect()
}

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}
