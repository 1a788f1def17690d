//! Issue 11: the WebSocket transport on the hibernating hub — upgrade and auth, the same event
//! sequence as SSE, resume/resync, presence and typing, bad input, limits, a restart.

use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{ids, secs, Client, Resume, Server, Tenant, HEARTBEAT_SECONDS};
use crate::wsclient::{event_ids, Ws, WsMsg};

pub const TESTS: &[crate::Test] = &[
    (
        "the_socket_route_needs_an_upgrade_and_the_sse_auth_matrix",
        the_socket_route_needs_an_upgrade_and_the_sse_auth_matrix,
    ),
    (
        "a_socket_says_hello_and_gets_the_presence",
        a_socket_says_hello_and_gets_the_presence,
    ),
    (
        "sockets_and_streams_get_the_identical_sequence_under_thirty_writers",
        sockets_and_streams_get_the_identical_sequence_under_thirty_writers,
    ),
    (
        "a_socket_resumes_by_url_or_message_and_resyncs_past_retention",
        a_socket_resumes_by_url_or_message_and_resyncs_past_retention,
    ),
    (
        "ping_is_answered_pong_and_heartbeats_arrive",
        ping_is_answered_pong_and_heartbeats_arrive,
    ),
    (
        "presence_joins_leaves_and_keeps_a_reconnect_quiet",
        presence_joins_leaves_and_keeps_a_reconnect_quiet,
    ),
    (
        "a_vanished_socket_leaves_after_the_grace",
        a_vanished_socket_leaves_after_the_grace,
    ),
    (
        "viewing_and_typing_reach_others_throttled_and_expire",
        viewing_and_typing_reach_others_throttled_and_expire,
    ),
    (
        "bad_frames_get_errors_or_close_the_socket",
        bad_frames_get_errors_or_close_the_socket,
    ),
    (
        "connection_limits_answer_429_before_the_upgrade",
        connection_limits_answer_429_before_the_upgrade,
    ),
    (
        "a_lock_holder_who_leaves_has_her_locks_released",
        a_lock_holder_who_leaves_has_her_locks_released,
    ),
    (
        "an_expired_token_ends_streams_and_sockets_with_reauth",
        an_expired_token_ends_streams_and_sockets_with_reauth,
    ),
];

pub const SERVER_TESTS: &[crate::ServerTest] = &[(
    "sockets_resume_after_a_restart_and_lose_nothing",
    sockets_resume_after_a_restart_and_lose_nothing,
)];

fn id_of(order: &Value) -> String {
    order["id"].as_str().unwrap_or_default().to_string()
}

fn head(t: &Tenant) -> u64 {
    t.poll("0")["cursor"]
        .as_str()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

fn ws_path(t: &Tenant, token: &str, extra: &str) -> String {
    t.path(&format!("/realtime/ws?access_token={token}{extra}"))
}

fn open(t: &Tenant, token: &str) -> Ws {
    let ws = Ws::open(&t.client, &ws_path(t, token, "")).expect("upgrade");
    ws.next_of("hello", secs(5)).expect("hello");
    ws
}

fn user_ids(users: &Value) -> Vec<String> {
    let mut ids: Vec<String> = users
        .as_array()
        .map(|us| {
            us.iter()
                .filter_map(|u| u["userId"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

fn the_socket_route_needs_an_upgrade_and_the_sse_auth_matrix(c: &Client) {
    let t = c.tenant("ws-auth");
    let plain = c.call("GET", &ws_path(&t, &t.florist, ""), None, None);
    assert_eq!(
        (plain.status, plain.error_code()),
        (426, "upgrade_required".into())
    );
    let other = c.tenant("ws-auth-other");
    let expired = c.forge(
        "florist-123",
        &t.id,
        florist_board::domain::Role::Florist,
        1,
    );
    for (token, status) in [
        ("".to_string(), 401),
        ("garbage".to_string(), 401),
        (expired, 401),
        (other.florist.clone(), 403),
    ] {
        let refused = Ws::open(c, &ws_path(&t, &token, ""))
            .err()
            .expect("refused");
        assert_eq!(refused.status, status, "token {token:?}");
        assert!(refused.body["error"]["code"].as_str().is_some());
    }
    assert!(Ws::open(c, &ws_path(&t, &t.manager, "")).is_ok());
}

fn a_socket_says_hello_and_gets_the_presence(c: &Client) {
    let t = c.tenant("ws-hello");
    t.create_order("Ada");
    let ws = Ws::open(c, &ws_path(&t, &t.florist, "")).expect("upgrade");
    let hello = ws.next_of("hello", secs(5)).expect("hello");
    assert!(hello["connectionId"]
        .as_str()
        .is_some_and(|c| !c.is_empty()));
    assert_eq!(hello["head"], head(&t).to_string());
    assert_eq!(
        hello["heartbeatSeconds"], HEARTBEAT_SECONDS,
        "the watchdog's period"
    );
    let presence = ws.next_of("presence", secs(5)).expect("presence");
    assert_eq!(user_ids(&presence["users"]), ["florist-123"]);
    assert_eq!(presence["users"][0]["connections"], 1);
    assert_eq!(presence["users"][0]["role"], "florist");
    // The same state for clients that only poll.
    let r = c.call("GET", &t.path("/presence"), Some(&t.florist2), None);
    assert_eq!(r.status, 200);
    assert_eq!(user_ids(&r.json()["users"]), ["florist-123"]);
    let stats = t.stats();
    assert_eq!(stats["websockets"], 1);
}

fn sockets_and_streams_get_the_identical_sequence_under_thirty_writers(c: &Client) {
    let t = c.tenant("ws-parity");
    let orders: Vec<String> = (0..6)
        .map(|i| id_of(&t.create_order(&format!("C{i}"))))
        .collect();
    let start = head(&t);
    let ws = open(&t, &t.florist);
    let sse = t.subscribe(Resume::Live);
    thread::sleep(Duration::from_millis(300));
    let statuses = t.concurrent_notes(&orders, 30, &t.florist2);
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let over_ws = ws.events(30, secs(20));
    let over_sse = sse.events(30, secs(20));
    let want: Vec<u64> = (start + 1..=start + 30).collect();
    assert_eq!(
        event_ids(&over_ws),
        want,
        "in order, gap-free, no duplicates"
    );
    assert_eq!(ids(&over_sse), want);
    for (w, (_, kind, s)) in over_ws.iter().zip(&over_sse) {
        assert_eq!(w, s, "the same event object on both transports");
        assert_eq!(w["type"].as_str(), Some(kind.as_str()));
    }
}

fn a_socket_resumes_by_url_or_message_and_resyncs_past_retention(c: &Client) {
    let t = c.tenant("ws-resume");
    let id = id_of(&t.create_order("Ada"));
    let from = head(&t);
    for i in 0..3 {
        assert_eq!(
            t.put(&id, &t.florist, json!({"notes": format!("n{i}")}))
                .status,
            200
        );
    }
    // By URL.
    let ws = Ws::open(c, &ws_path(&t, &t.florist, &format!("&lastEventId={from}"))).expect("ws");
    assert_eq!(
        event_ids(&ws.events(3, secs(5))),
        vec![from + 1, from + 2, from + 3]
    );
    // By message, sent first thing (before any event went out).
    let ws2 = Ws::open(c, &ws_path(&t, &t.florist, "")).expect("ws");
    ws2.send_json(json!({"type": "resume", "after": (from + 1).to_string()}));
    assert_eq!(event_ids(&ws2.events(2, secs(5))), vec![from + 2, from + 3]);
    // Then live.
    assert_eq!(t.put(&id, &t.florist, json!({"notes": "live"})).status, 200);
    assert_eq!(event_ids(&ws.events(1, secs(5))), vec![from + 4]);
    assert_eq!(event_ids(&ws2.events(1, secs(5))), vec![from + 4]);
    // An id we never issued, and a position pruned away: resync to the head.
    let ws3 = Ws::open(c, &ws_path(&t, &t.florist, "&lastEventId=999999")).expect("ws");
    let resync = ws3.next_of("resync", secs(5)).expect("resync");
    assert_eq!(resync["cursor"], head(&t).to_string());
    thread::sleep(Duration::from_millis(1100));
    let r = c.admin(
        "POST",
        "/api/admin/maintenance/prune-events",
        json!({"olderThanSeconds": 1, "tenantId": t.id}),
    );
    assert_eq!(r.status, 200);
    let ws4 = Ws::open(c, &ws_path(&t, &t.florist, "&lastEventId=1")).expect("ws");
    let resync = ws4
        .next_of("resync", secs(5))
        .expect("resync after pruning");
    assert_eq!(resync["cursor"], head(&t).to_string());
}

fn ping_is_answered_pong_and_heartbeats_arrive(c: &Client) {
    let t = c.tenant("ws-ping");
    let ws = open(&t, &t.florist);
    ws.send("ping");
    let deadline = Instant::now() + secs(5);
    let mut pong = false;
    while !pong && Instant::now() < deadline {
        if let Some(WsMsg::Text(text)) = ws.next(secs(1)) {
            pong = text == "pong";
        }
    }
    assert!(pong, "the runtime answers ping with pong");
    let beat = ws
        .next_of("heartbeat", secs(HEARTBEAT_SECONDS * 3 + 2))
        .expect("a heartbeat frame");
    assert!(beat["ts"].as_str().is_some());
}

fn presence_joins_leaves_and_keeps_a_reconnect_quiet(c: &Client) {
    let t = c.tenant("ws-presence");
    let watcher = open(&t, &t.manager);
    let a = open(&t, &t.florist);
    let joined = watcher.next_of("presence_diff", secs(5)).expect("join");
    assert_eq!(user_ids(&joined["joins"]), ["florist-123"]);
    // A second tab of the same user is no news (opening n sockets must not cost n² frames)…
    let a2 = open(&t, &t.florist);
    assert!(
        watcher
            .next_of("presence_diff", Duration::from_millis(700))
            .is_none(),
        "a second tab is not announced"
    );
    let r = c
        .call("GET", &t.path("/presence"), Some(&t.florist), None)
        .json();
    let ana = r["users"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|u| u["userId"] == "florist-123")
        .cloned();
    assert_eq!(
        ana.map(|u| u["connections"].clone()),
        Some(json!(2)),
        "…but presence counts it"
    );
    // A clean close: the decremented entry within a second, then the leave.
    let closed_at = Instant::now();
    a2.close(1000);
    let diff = watcher.next_of("presence_diff", secs(2)).expect("update");
    assert_eq!(diff["updates"][0]["connections"], 1);
    a.close(1000);
    let diff = watcher.next_of("presence_diff", secs(2)).expect("leave");
    assert_eq!(user_ids(&diff["leaves"]), ["florist-123"]);
    assert!(closed_at.elapsed() < secs(2));
    // A blip (no clean close) and a reconnect within 5 s: nobody sees a leave or a join.
    let b = open(&t, &t.florist2);
    watcher.next_of("presence_diff", secs(5)).expect("join b");
    b.cut();
    thread::sleep(Duration::from_millis(800));
    let b2 = open(&t, &t.florist2);
    let until = Instant::now() + secs(7);
    while let Some(msg) = watcher.next(until.saturating_duration_since(Instant::now())) {
        if let WsMsg::Json(v) = msg {
            if v["type"] == "presence_diff" {
                assert!(
                    v["leaves"].as_array().is_none_or(Vec::is_empty),
                    "flicker: {v}"
                );
                assert!(
                    v["joins"].as_array().is_none_or(Vec::is_empty),
                    "flicker: {v}"
                );
            }
        }
        if Instant::now() >= until {
            break;
        }
    }
    let r = c.call("GET", &t.path("/presence"), Some(&t.florist), None);
    assert_eq!(user_ids(&r.json()["users"]), ["florist-456", "manager-1"]);
    drop(b2);
}

fn a_vanished_socket_leaves_after_the_grace(c: &Client) {
    let t = c.tenant("ws-ghost");
    let watcher = open(&t, &t.manager);
    let a = open(&t, &t.florist);
    watcher.next_of("presence_diff", secs(5)).expect("join");
    let cut_at = Instant::now();
    a.cut();
    let diff = watcher
        .next_of("presence_diff", secs(5 + HEARTBEAT_SECONDS * 2 + 3))
        .expect("leave");
    assert_eq!(user_ids(&diff["leaves"]), ["florist-123"]);
    // The 5 s reconnect grace, then within two heartbeats.
    let took = cut_at.elapsed();
    assert!(
        took >= Duration::from_millis(4500),
        "left too early: {took:?}"
    );
    assert!(
        took <= secs(5 + HEARTBEAT_SECONDS * 2 + 2),
        "left too late: {took:?}"
    );
}

fn viewing_and_typing_reach_others_throttled_and_expire(c: &Client) {
    let t = c.tenant("ws-typing");
    let id = id_of(&t.create_order("Ada"));
    let b = open(&t, &t.florist2);
    let a = open(&t, &t.florist);
    b.next_of("presence_diff", secs(5)).expect("join");
    a.send_json(json!({"type": "view", "orderId": id}));
    let diff = b.next_of("presence_diff", secs(5)).expect("viewing");
    assert_eq!(diff["updates"][0]["viewing"], json!([id]));
    let started = Instant::now();
    for _ in 0..4 {
        a.send_json(json!({"type": "typing", "orderId": id, "field": "notes"}));
        thread::sleep(Duration::from_millis(100));
    }
    let mut typing = 0;
    let mut editing_seen = false;
    let mut editing_gone = None;
    let until = Instant::now() + secs(8);
    while Instant::now() < until {
        let Some(WsMsg::Json(v)) = b.next(Duration::from_millis(200)) else {
            continue;
        };
        match v["type"].as_str() {
            Some("typing") => {
                typing += 1;
                assert_eq!(
                    (v["userId"].as_str(), v["field"].as_str()),
                    (Some("florist-123"), Some("notes"))
                );
            }
            Some("presence_diff") => {
                let editing = &v["updates"][0]["editing"];
                if editing == &json!([{"orderId": id, "field": "notes"}]) {
                    editing_seen = true;
                } else if editing_seen && editing == &json!([]) {
                    editing_gone = Some(started.elapsed());
                    break;
                }
            }
            _ => {}
        }
    }
    assert_eq!(
        typing, 1,
        "four keystrokes within 2 s → one typing broadcast"
    );
    assert!(editing_seen, "presence shows the field being edited");
    let gone = editing_gone.expect("editing expires");
    assert!(
        gone >= Duration::from_millis(5000) && gone < secs(8),
        "expired after {gone:?}"
    );
    // Typing is never stored: no event, no seq.
    let poll = t.poll("0");
    assert_eq!(poll["cursor"], "1");
}

fn bad_frames_get_errors_or_close_the_socket(c: &Client) {
    let t = c.tenant("ws-bad");
    let ws = open(&t, &t.florist);
    ws.send("{not json");
    let err = ws.next_of("error", secs(5)).expect("error frame");
    assert_eq!(err["code"], "invalid_json");
    ws.send_json(json!({"type": "dance"}));
    assert_eq!(
        ws.next_of("error", secs(5)).expect("error")["code"],
        "unknown_type"
    );
    ws.send_json(json!({"type": "typing", "orderId": "o1", "field": "no tes"}));
    assert_eq!(
        ws.next_of("error", secs(5)).expect("error")["code"],
        "invalid_message"
    );
    // The connection is kept.
    ws.send("ping");
    let mut pong = false;
    for _ in 0..10 {
        if let Some(WsMsg::Text(t)) = ws.next(secs(1)) {
            pong = t == "pong";
            break;
        }
    }
    assert!(pong, "still open after bad messages");
    // A frame over 4 KB closes with 1009.
    let big = open(&t, &t.florist);
    big.send(&format!(
        "{{\"type\":\"view\",\"orderId\":\"{}\"}}",
        "x".repeat(5000)
    ));
    assert_eq!(big.closed(secs(5)), Some(Some(1009)));
    // More than 20 frames in a second closes with 1008.
    let chatty = open(&t, &t.florist2);
    for _ in 0..30 {
        chatty.send_json(json!({"type": "view", "orderId": null}));
    }
    assert_eq!(chatty.closed(secs(5)), Some(Some(1008)));
}

fn connection_limits_answer_429_before_the_upgrade(c: &Client) {
    let t = c.tenant("ws-limits");
    // Per user: 20 (the default), sockets and streams counted together.
    let mut held: Vec<Ws> = (0..19).map(|_| open(&t, &t.florist)).collect();
    let sse = t.subscribe(Resume::Live);
    assert_eq!(sse.status, 200);
    let refused = Ws::open(c, &ws_path(&t, &t.florist, ""))
        .err()
        .expect("21st refused");
    assert_eq!(
        (refused.status, refused.body["error"]["code"].as_str()),
        (429, Some("too_many_connections"))
    );
    let r = c.call(
        "GET",
        &t.path(&format!("/realtime/orders?access_token={}", t.florist)),
        None,
        None,
    );
    assert_eq!(r.status, 429, "SSE too");
    // Per shop: the test server allows 30 (MAX_CONNECTIONS_PER_TENANT).
    held.extend((0..10).map(|_| open(&t, &t.florist2)));
    let refused = Ws::open(c, &ws_path(&t, &t.manager, ""))
        .err()
        .expect("31st refused");
    assert_eq!(refused.status, 429);
    // Closing one makes room again.
    if let Some(ws) = held.pop() {
        ws.close(1000);
    }
    thread::sleep(Duration::from_millis(500));
    assert!(Ws::open(c, &ws_path(&t, &t.manager, "")).is_ok());
}

fn an_expired_token_ends_streams_and_sockets_with_reauth(c: &Client) {
    let t = c.tenant("ws-reauth");
    let id = id_of(&t.create_order("Ada"));
    let short = c.admin(
        "POST",
        &format!("/api/admin/tenants/{}/tokens", t.id),
        json!({"userId": "temp", "role": "florist", "ttlSeconds": 3}),
    );
    let token = short.json()["token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let ws = Ws::open(c, &ws_path(&t, &token, "")).expect("ws");
    let sse = crate::support::Sse::open(
        c,
        &t.path(&format!("/realtime/orders?access_token={token}")),
        &[],
    );
    let started = Instant::now();
    let reauth = ws
        .next_of("reauth", secs(3 + HEARTBEAT_SECONDS * 2 + 2))
        .expect("reauth");
    assert_eq!(reauth["type"], "reauth");
    assert_eq!(ws.closed(secs(3)), Some(Some(4001)));
    let mut saw_reauth = false;
    loop {
        match sse.next(secs(3)) {
            Some(crate::support::SseMsg::Event { event, .. }) if event == "reauth" => {
                saw_reauth = true
            }
            Some(crate::support::SseMsg::Closed) | None => break,
            _ => {}
        }
    }
    assert!(saw_reauth, "the SSE stream says reauth before it ends");
    assert!(started.elapsed() < secs(3 + HEARTBEAT_SECONDS * 2 + 3));
    // Nothing more reaches the old token's connections.
    assert_eq!(
        t.put(&id, &t.florist, json!({"notes": "after expiry"}))
            .status,
        200
    );
    assert!(ws.next_of("event", Duration::from_millis(500)).is_none());
}

fn sockets_resume_after_a_restart_and_lose_nothing(server: &mut Server) {
    let c = server.client();
    let t = c.tenant("ws-restart");
    let id = id_of(&t.create_order("Ada"));
    let ws = open(&t, &t.florist);
    assert_eq!(
        t.put(&id, &t.florist, json!({"notes": "before"})).status,
        200
    );
    let seen = ws.events(1, secs(5));
    let last = event_ids(&seen)[0];
    server.restart();
    assert!(ws.closed(secs(10)).is_some(), "the restart ends the socket");
    let c = server.client();
    // Changes land while the client is away; it resumes from the last id it saw.
    let t2 = Tenant {
        client: c.clone(),
        ..t
    };
    for i in 0..3 {
        assert_eq!(
            t2.put(&id, &t2.florist, json!({"notes": format!("away {i}")}))
                .status,
            200
        );
    }
    let back = Ws::open(
        &c,
        &ws_path(&t2, &t2.florist, &format!("&lastEventId={last}")),
    )
    .expect("ws");
    assert_eq!(
        event_ids(&back.events(3, secs(10))),
        vec![last + 1, last + 2, last + 3]
    );
    assert_eq!(
        t2.put(&id, &t2.florist, json!({"notes": "live again"}))
            .status,
        200
    );
    assert_eq!(event_ids(&back.events(1, secs(5))), vec![last + 4]);
}

fn a_lock_holder_who_leaves_has_her_locks_released(c: &Client) {
    let t = c.tenant("ws-leave-locks");
    let id = id_of(&t.create_order("Ada"));
    let other = id_of(&t.create_order("Bea"));
    let watcher = open(&t, &t.manager);
    let a = open(&t, &t.florist);
    for order in [&id, &other] {
        let r = c.call(
            "POST",
            &t.path(&format!("/orders/{order}/lock")),
            Some(&t.florist),
            Some(json!({"ttlSeconds": 300})),
        );
        assert_eq!(r.status, 200);
    }
    assert_eq!(watcher.events(2, secs(5)).len(), 2, "two order_locked");
    // A network loss: the locks stay through the grace, then go.
    let cut_at = Instant::now();
    a.cut();
    let released = watcher.events(2, secs(5 + HEARTBEAT_SECONDS * 2 + 3));
    assert!(
        cut_at.elapsed() >= Duration::from_millis(4500),
        "not before the grace"
    );
    for e in &released {
        assert_eq!(
            (e["type"].as_str(), e["reason"].as_str()),
            (Some("order_unlocked"), Some("released"))
        );
        assert_eq!(e["previousHolder"], "florist-123");
        assert_eq!(e["order"]["lock"], Value::Null);
    }
    assert_eq!(t.get_order(&id)["lock"], Value::Null);
    let r = t.put(&other, &t.florist2, json!({"notes": "free"}));
    assert_eq!(r.status, 200);
}
