//! Issue 3: the per-tenant hub, SSE fan-out, the durable event log, resume, polling.

use std::thread;
use std::time::{Duration, Instant};

use florist_board::hub_do::MAX_QUEUED_BYTES;
use serde_json::{json, Value};

use crate::support::{ids, secs, Client, Resume, Server, Sse, SseMsg, Tenant, HEARTBEAT_SECONDS};

pub const TESTS: &[crate::Test] = &[
    (
        "the_stream_is_sse_with_a_live_preamble",
        the_stream_is_sse_with_a_live_preamble,
    ),
    (
        "two_subscribers_both_get_an_update",
        two_subscribers_both_get_an_update,
    ),
    (
        "thirty_concurrent_writers_give_thirty_gapless_events_everywhere",
        thirty_concurrent_writers_give_thirty_gapless_events_everywhere,
    ),
    (
        "resume_by_header_replays_exactly_the_missed_events_then_goes_live",
        resume_by_header_replays_exactly_the_missed_events_then_goes_live,
    ),
    (
        "resume_by_query_replays_and_the_header_wins_over_the_query",
        resume_by_query_replays_and_the_header_wins_over_the_query,
    ),
    (
        "a_pruned_or_unknown_resume_id_gets_resync",
        a_pruned_or_unknown_resume_id_gets_resync,
    ),
    (
        "a_client_that_saw_only_the_preamble_resumes_without_loss",
        a_client_that_saw_only_the_preamble_resumes_without_loss,
    ),
    (
        "heartbeats_arrive_every_heartbeat_seconds",
        heartbeats_arrive_every_heartbeat_seconds,
    ),
    (
        "a_killed_client_is_pruned_within_two_heartbeats",
        a_killed_client_is_pruned_within_two_heartbeats,
    ),
    ("events_never_cross_tenants", events_never_cross_tenants),
    (
        "polling_returns_exactly_the_changes_since_a_cursor",
        polling_returns_exactly_the_changes_since_a_cursor,
    ),
    (
        "create_and_delete_events_are_broadcast",
        create_and_delete_events_are_broadcast,
    ),
    (
        "polling_pages_through_a_long_backlog_with_has_more",
        polling_pages_through_a_long_backlog_with_has_more,
    ),
];

pub const SERVER_TESTS: &[crate::ServerTest] = &[
    (
        "restarting_the_server_mid_stream_and_resuming_loses_nothing",
        restarting_the_server_mid_stream_and_resuming_loses_nothing,
    ),
    (
        "polling_reads_the_event_log_by_a_primary_key_range",
        polling_reads_the_event_log_by_a_primary_key_range,
    ),
    // Alone: it pushes megabytes through the runtime and times how far a reader falls behind.
    (
        "a_reader_that_stops_reading_is_dropped_once_a_megabyte_is_queued",
        a_reader_that_stops_reading_is_dropped_once_a_megabyte_is_queued,
    ),
];

fn id_of(order: &Value) -> String {
    order["id"].as_str().unwrap_or_default().to_string()
}

fn seq_of(event: &Value) -> u64 {
    event["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn head(t: &Tenant) -> u64 {
    t.poll("0")["cursor"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn the_stream_is_sse_with_a_live_preamble(c: &Client) {
    let t = c.tenant("sse");
    let sse = t.subscribe(Resume::Live);
    assert_eq!(sse.status, 200);
    assert!(sse
        .header("content-type")
        .is_some_and(|v| v.starts_with("text/event-stream")));
    assert_eq!(sse.header("cache-control"), Some("no-cache, no-transform"));
    assert_eq!(sse.header("x-accel-buffering"), Some("no"));
    assert!(sse
        .header("content-encoding")
        .is_none_or(|v| v == "identity"));
    match sse.next(secs(5)) {
        Some(SseMsg::Retry(ms)) => assert_eq!(ms, "3000"),
        other => panic!("first bytes should be a retry hint, got {other:?}"),
    }
    // The preamble names where the stream starts, so a plain EventSource that saw no event yet
    // resumes from there after a reconnect.
    assert!(matches!(sse.next(secs(5)), Some(SseMsg::Comment(_))));
    match sse.next(secs(5)) {
        Some(SseMsg::Position(id)) => assert_eq!(id, head(&t).to_string()),
        other => panic!("the preamble should carry an id:, got {other:?}"),
    }
}

fn a_client_that_saw_only_the_preamble_resumes_without_loss(c: &Client) {
    let t = c.tenant("preamble");
    let id = id_of(&t.create_order("Ada"));
    let first = t.subscribe(Resume::Live);
    let _ = first.next(secs(5)); // retry
    let _ = first.next(secs(5)); // ": connected"
    let position = match first.next(secs(5)) {
        Some(SseMsg::Position(p)) => p,
        other => panic!("expected the preamble id, got {other:?}"),
    };
    first.cut();
    // A change lands while the client is away; EventSource reconnects with Last-Event-ID.
    assert_eq!(
        t.put(&id, &t.florist, json!({"notes": "while away"}))
            .status,
        200
    );
    let again = t.subscribe(Resume::Header(position.clone()));
    let (got, kind, data) = again.next_event(secs(5)).expect("the missed event");
    assert_eq!(got, (position.parse::<u64>().unwrap_or(0) + 1).to_string());
    assert_eq!(
        (kind.as_str(), data["order"]["notes"].as_str()),
        ("order_updated", Some("while away"))
    );
}

fn two_subscribers_both_get_an_update(c: &Client) {
    let t = c.tenant("two");
    let id = id_of(&t.create_order("Ada"));
    let a = t.subscribe(Resume::Live);
    let b = t.subscribe(Resume::Live);
    let r = t.put(
        &id,
        &t.florist2,
        json!({"status": "in_progress", "assignedTo": "florist-456"}),
    );
    assert_eq!(r.status, 200);
    let sent = r.json()["event"].clone();
    for sub in [&a, &b] {
        let (eid, kind, data) = sub.next_event(secs(5)).expect("the update");
        assert_eq!(kind, "order_updated");
        assert_eq!(eid, sent["id"].as_str().unwrap_or_default());
        assert_eq!(
            data, sent,
            "the SSE data is the same event object as the PUT response"
        );
        assert_eq!(data["tenantId"], t.id.as_str());
        assert_eq!(data["orderId"], id.as_str());
        assert_eq!(data["updatedBy"], "florist-456");
        assert_eq!(data["changes"], json!(["status", "assignedTo"]));
        assert_eq!(data["order"]["status"], "in_progress");
    }
}

fn thirty_concurrent_writers_give_thirty_gapless_events_everywhere(c: &Client) {
    let t = c.tenant("thirty");
    let orders: Vec<String> = (0..10)
        .map(|i| id_of(&t.create_order(&format!("C{i}"))))
        .collect();
    let start = head(&t);
    let subs: Vec<_> = (0..3).map(|_| t.subscribe(Resume::Live)).collect();
    thread::sleep(Duration::from_millis(300));
    let statuses = t.concurrent_notes(&orders, 30, &t.florist);
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let want: Vec<u64> = (start + 1..=start + 30).collect();
    for sub in &subs {
        let got = sub.events(30, secs(20));
        assert_eq!(
            ids(&got),
            want,
            "every subscriber sees seq +1 each, no gap, no duplicate"
        );
        sub.assert_quiet(Duration::from_millis(500));
    }
    // The log agrees with what was delivered: every order's latest notes are from some writer.
    let poll = t.poll(&start.to_string());
    assert_eq!(poll["cursor"], (start + 30).to_string());
    assert_eq!(poll["orders"].as_array().map(Vec::len), Some(10));
}

fn resume_case(c: &Client, by_header: bool) {
    let t = c.tenant(if by_header { "resume-h" } else { "resume-q" });
    let id = id_of(&t.create_order("Ada"));
    let first = t.subscribe(Resume::Live);
    t.put(&id, &t.florist, json!({"notes": "one"}));
    let (seen, _, _) = first.next_event(secs(5)).expect("event one");
    first.cut(); // Wi-Fi drops
    let missed: Vec<u64> = (1..=3)
        .map(|i| {
            seq_of(
                &t.put(&id, &t.florist, json!({"notes": format!("missed {i}")}))
                    .json()["event"],
            )
        })
        .collect();
    let resumed = if by_header {
        t.subscribe(Resume::Header(seen.clone()))
    } else {
        t.subscribe(Resume::Query(seen.clone()))
    };
    let replay = resumed.events(3, secs(5));
    assert_eq!(ids(&replay), missed, "exactly the missed events, in order");
    assert_eq!(replay[2].2["order"]["notes"], "missed 3");
    let live = seq_of(&t.put(&id, &t.florist, json!({"notes": "live"})).json()["event"]);
    let next = resumed.events(1, secs(5));
    assert_eq!(
        ids(&next),
        vec![live],
        "then live, no gap, no duplicate at the seam"
    );
    resumed.assert_quiet(Duration::from_millis(500));
}

fn resume_by_header_replays_exactly_the_missed_events_then_goes_live(c: &Client) {
    resume_case(c, true);
}

fn resume_by_query_replays_and_the_header_wins_over_the_query(c: &Client) {
    resume_case(c, false);
    let t = c.tenant("resume-both");
    let id = id_of(&t.create_order("Ada"));
    for n in 0..3 {
        t.put(&id, &t.florist, json!({"notes": format!("n{n}")}));
    }
    // Events 1 (create) .. 4; header says 3, query says 1: the header wins.
    let path = t.path(&format!(
        "/realtime/orders?access_token={}&lastEventId=1",
        t.florist
    ));
    let sse = crate::support::Sse::open(c, &path, &[("Last-Event-ID".into(), "3".into())]);
    assert_eq!(ids(&sse.events(1, secs(5))), vec![4]);
    sse.assert_quiet(Duration::from_millis(500));
}

fn a_pruned_or_unknown_resume_id_gets_resync(c: &Client) {
    let t = c.tenant("resync");
    let id = id_of(&t.create_order("Ada"));
    t.put(&id, &t.florist, json!({"notes": "x"}));
    let current = head(&t);
    // An id from the future (never issued) → resync to the head.
    let sse = t.subscribe(Resume::Header("999999".into()));
    let (eid, kind, data) = sse.next_event(secs(5)).expect("resync");
    assert_eq!(kind, "resync");
    assert_eq!(data["cursor"], current.to_string());
    assert_eq!(eid, current.to_string());
    // Then live as usual.
    let live = seq_of(&t.put(&id, &t.florist, json!({"notes": "y"})).json()["event"]);
    assert_eq!(ids(&sse.events(1, secs(5))), vec![live]);
    drop(sse);
    // Not a number → resync.
    let sse = t.subscribe(Resume::Query("abc".into()));
    assert_eq!(sse.next_event(secs(5)).map(|e| e.1), Some("resync".into()));
    drop(sse);
    // Older than retention: prune the log, then resume from 1.
    thread::sleep(Duration::from_millis(1100));
    let r = c.admin(
        "POST",
        "/api/admin/maintenance/prune-events",
        json!({"olderThanSeconds": 1, "tenantId": t.id}),
    );
    assert_eq!(r.status, 200);
    assert!(r.json()["deleted"].as_u64().is_some_and(|n| n >= 3));
    let new_head = head(&t);
    let sse = t.subscribe(Resume::Header("1".into()));
    let (_, kind, data) = sse.next_event(secs(5)).expect("resync");
    assert_eq!(kind, "resync");
    assert_eq!(data["cursor"], new_head.to_string());
}

fn heartbeats_arrive_every_heartbeat_seconds(c: &Client) {
    let t = c.tenant("hb");
    let sse = t.subscribe(Resume::Live);
    let deadline = Instant::now() + secs(HEARTBEAT_SECONDS * 6 + 4);
    let mut beats = 0;
    while beats < 3 && Instant::now() < deadline {
        // A named event (a browser's EventSource hands it to JavaScript), without an id.
        if let Some(SseMsg::Event { id, event, data }) = sse.next(secs(1)) {
            if event == "heartbeat" {
                assert!(id.is_empty(), "a heartbeat never moves the resume position");
                assert!(data["ts"].as_str().is_some_and(|ts| ts.ends_with('Z')));
                beats += 1;
            }
        }
    }
    assert!(
        beats >= 3,
        "got {beats} heartbeats in {}s",
        HEARTBEAT_SECONDS * 6 + 4
    );
}

fn a_killed_client_is_pruned_within_two_heartbeats(c: &Client) {
    let t = c.tenant("prune");
    let keep = t.subscribe(Resume::Live);
    let gone = t.subscribe(Resume::Live);
    let _ = keep.next(secs(2));
    assert_eq!(t.stats()["subscribers"], 2);
    gone.cut();
    // Pruning happens on the first failed write; allow two heartbeats plus scheduling slack.
    let deadline = Instant::now() + secs(HEARTBEAT_SECONDS * 2 + 6);
    let mut count = 2;
    while Instant::now() < deadline {
        count = t.stats()["subscribers"].as_u64().unwrap_or(99);
        if count == 1 {
            break;
        }
        thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(count, 1, "the cut subscriber is pruned, the other stays");
    // The survivor still gets events.
    let id = id_of(&t.create_order("Ada"));
    let (_, kind, data) = keep.next_event(secs(5)).expect("event");
    assert_eq!(
        (kind.as_str(), data["orderId"].as_str()),
        ("order_created", Some(id.as_str()))
    );
}

fn events_never_cross_tenants(c: &Client) {
    let a = c.tenant("cross-a");
    let b = c.tenant("cross-b");
    let sa = a.subscribe(Resume::Live);
    let sb = b.subscribe(Resume::Live);
    let oa = id_of(&a.create_order("Only A"));
    let ob = id_of(&b.create_order("Only B"));
    let (_, _, da) = sa.next_event(secs(5)).expect("a's event");
    let (_, _, db) = sb.next_event(secs(5)).expect("b's event");
    assert_eq!(
        (da["orderId"].as_str(), da["tenantId"].as_str()),
        (Some(oa.as_str()), Some(a.id.as_str()))
    );
    assert_eq!(
        (db["orderId"].as_str(), db["tenantId"].as_str()),
        (Some(ob.as_str()), Some(b.id.as_str()))
    );
    // Each shop's seq starts at 1 on its own.
    assert_eq!(
        (da["id"].as_str(), db["id"].as_str()),
        (Some("1"), Some("1"))
    );
    sa.assert_quiet(Duration::from_millis(700));
    sb.assert_quiet(Duration::from_millis(100));
    // A resume with the other shop's ids replays only this shop's log.
    let replay = a.subscribe(Resume::Header("0".into()));
    let got = replay.events(1, secs(5));
    assert_eq!(got[0].2["tenantId"], a.id.as_str());
    replay.assert_quiet(Duration::from_millis(500));
}

fn polling_returns_exactly_the_changes_since_a_cursor(c: &Client) {
    let t = c.tenant("poll");
    let o1 = id_of(&t.create_order("One"));
    let o2 = id_of(&t.create_order("Two"));
    let o3 = id_of(&t.create_order("Three"));
    let first = t.poll("0");
    assert_eq!(first["cursor"], "3");
    assert_eq!(first["orders"].as_array().map(Vec::len), Some(3));
    assert_eq!(first["hasMore"], false);
    let at_cursor = t.poll("3");
    assert_eq!(
        (
            at_cursor["orders"].clone(),
            at_cursor["deletedOrderIds"].clone()
        ),
        (json!([]), json!([]))
    );
    assert_eq!(at_cursor["cursor"], "3");
    let before_changes = chrono_now();
    thread::sleep(Duration::from_millis(20));
    t.put(&o2, &t.florist, json!({"notes": "a"}));
    t.put(&o2, &t.florist, json!({"notes": "b"}));
    let del = t.delete(&o3);
    assert_eq!(del.status, 204);
    let since = t.poll("3");
    assert_eq!(since["cursor"], "6");
    let orders = since["orders"].as_array().cloned().unwrap_or_default();
    assert_eq!(orders.len(), 1, "o2 once, with its latest state");
    assert_eq!(
        (orders[0]["id"].as_str(), orders[0]["notes"].as_str()),
        (Some(o2.as_str()), Some("b"))
    );
    assert_eq!(since["deletedOrderIds"], json!([o3]));
    assert!(!orders.iter().any(|o| o["id"] == o1.as_str()));
    // By timestamp, as the seed's clients poll.
    let by_time = t.poll(&before_changes);
    assert_eq!(by_time["cursor"], "6");
    assert_eq!(by_time["orders"].as_array().map(Vec::len), Some(1));
    assert_eq!(by_time["deletedOrderIds"], json!([o3]));
}

fn chrono_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    florist_board::domain::format_timestamp(now)
}

fn create_and_delete_events_are_broadcast(c: &Client) {
    let t = c.tenant("crud");
    let sse = t.subscribe(Resume::Live);
    let order = t.create_order("Ada");
    let id = id_of(&order);
    let (_, kind, data) = sse.next_event(secs(5)).expect("created");
    assert_eq!(kind, "order_created");
    assert_eq!(data["order"], order);
    assert_eq!(data["updatedBy"], "florist-123");
    let r = t.delete(&id);
    assert_eq!(r.status, 204);
    let (_, kind, data) = sse.next_event(secs(5)).expect("deleted");
    assert_eq!(kind, "order_deleted");
    assert_eq!(data["orderId"], id.as_str());
    assert_eq!(data["order"], Value::Null);
    assert_eq!(data["updatedBy"], "manager-1");
}

fn restarting_the_server_mid_stream_and_resuming_loses_nothing(server: &mut Server) {
    let c = server.client();
    let t = c.tenant("restart");
    let id = id_of(&t.create_order("Ada"));
    let sse = t.subscribe(Resume::Live);
    t.put(&id, &t.florist, json!({"notes": "before"}));
    let (last_seen, _, _) = sse.next_event(secs(5)).expect("before restart");
    server.restart(); // deploy / eviction: every in-memory subscriber is gone
    match sse.next_event(secs(10)) {
        None => {}
        Some(e) => panic!("the old stream should end, got {e:?}"),
    }
    let c = server.client();
    let mut missed = Vec::new();
    for n in 0..3 {
        let r = c.call(
            "PUT",
            &t.path(&format!("/orders/{id}")),
            Some(&t.florist),
            Some(json!({"notes": format!("after {n}")})),
        );
        assert_eq!(r.status, 200);
        missed.push(seq_of(&r.json()["event"]));
    }
    let resumed = t.subscribe(Resume::Header(last_seen));
    assert_eq!(ids(&resumed.events(3, secs(10))), missed);
    let live = c.call(
        "PUT",
        &t.path(&format!("/orders/{id}")),
        Some(&t.florist),
        Some(json!({"status": "in_progress"})),
    );
    assert_eq!(
        ids(&resumed.events(1, secs(5))),
        vec![seq_of(&live.json()["event"])]
    );
}

/// The polling cost follows the number of changes: its query is a range scan of the
/// (tenant_id, seq) primary key of `events`, never a scan of `orders` or of the whole log.
fn polling_reads_the_event_log_by_a_primary_key_range(server: &mut Server) {
    // D1's CLI takes no bindings: put literals where the Worker binds values.
    let sql = florist_board::db::CHANGED_SINCE_SQL
        .replace("?1", "'demo'")
        .replace("?2", "10")
        .replace("?3", "500");
    let plan: Vec<String> = server
        .client()
        .d1_query(&format!("EXPLAIN QUERY PLAN {sql}"))
        .iter()
        .filter_map(|r| r["detail"].as_str().map(String::from))
        .collect();
    eprintln!("realtime-status query plan: {plan:?}");
    assert!(
        plan.iter()
            .any(|p| p
                .starts_with("SEARCH events USING PRIMARY KEY (tenant_id=? AND seq>? AND seq<?)")),
        "{plan:?}"
    );
    assert!(!plan.iter().any(|p| p.starts_with("SCAN")), "{plan:?}");
}

/// A poll covers at most 500 events; a longer backlog comes in pages, each answer's `cursor`
/// being where the next one starts, and the last page has `hasMore: false` and the head.
fn polling_pages_through_a_long_backlog_with_has_more(c: &Client) {
    let t = c.tenant("backlog");
    let ids: Vec<String> = (0..5)
        .map(|i| id_of(&t.create_order(&format!("C{i}"))))
        .collect();
    let writers: Vec<_> = ids
        .iter()
        .map(|id| {
            let (client, path, token) = (
                t.client.clone(),
                t.path(&format!("/orders/{id}")),
                t.florist.clone(),
            );
            thread::spawn(move || {
                (0..101).all(|n| {
                    client
                        .call(
                            "PUT",
                            &path,
                            Some(&token),
                            Some(json!({"notes": format!("n{n}")})),
                        )
                        .status
                        == 200
                })
            })
        })
        .collect();
    for w in writers {
        assert_eq!(w.join().ok(), Some(true));
    }
    // 5 creates + 505 updates = 510 events.
    let first = t.poll("0");
    assert_eq!(
        (first["hasMore"].as_bool(), first["cursor"].as_str()),
        (Some(true), Some("500"))
    );
    assert_eq!(first["orders"].as_array().map(Vec::len), Some(5));
    let second = t.poll("500");
    assert_eq!(
        (second["hasMore"].as_bool(), second["cursor"].as_str()),
        (Some(false), Some("510"))
    );
    let last = t.poll("510");
    assert_eq!(
        (last["orders"].clone(), last["cursor"].as_str()),
        (json!([]), Some("510"))
    );
    // Each order's latest state is the one the second page (or the first) reported.
    for id in &ids {
        let current = t.get_order(id);
        assert_eq!(current["notes"], "n100");
        assert_eq!(current["version"], 102);
        let reported = second["orders"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(first["orders"].as_array().into_iter().flatten())
            .find(|o| o["id"] == id.as_str())
            .cloned()
            .unwrap_or(Value::Null);
        assert_eq!(reported, current);
    }
}

/// The most a kernel send buffer may grow to (`net.ipv4.tcp_wmem`'s maximum): what the
/// runtime's socket can hold for a reader that stopped before the runtime's stream backs up.
fn kernel_send_buffer_max() -> usize {
    std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|s| s.split_whitespace().nth(2)?.parse().ok())
        .unwrap_or(4 * 1024 * 1024)
}

/// An order as large as an order may be (64 KB: notes 16 KB, the rest under 48 KB), so each
/// event is about 64 KB.
fn biggest_order(n: usize) -> Value {
    let title = "🌹".repeat(110); // 440 bytes, 110 characters
    let items: Vec<Value> = (0..100)
        .map(|_| json!({"title": title, "quantity": 1}))
        .collect();
    json!({"customerName": format!("Stalled {n}"), "items": items, "notes": "🌹".repeat(4096)})
}

/// Issue #10: a subscriber that stops reading is dropped once about 1 MiB is queued for it, on
/// the write path. Its stream is read straight from the runtime's entry socket: through
/// wrangler's proxy it never backs up (the proxy buffers the body for a slow client). The
/// kernel's buffers absorb the first megabytes (a small SO_RCVBUF keeps the client's side
/// small; the runtime's send buffer may grow to `tcp_wmem`'s maximum), so the events are
/// written until the hub lets go, within that buffer + 1 MiB + a margin.
fn a_reader_that_stops_reading_is_dropped_once_a_megabyte_is_queued(server: &mut Server) {
    let c = server.client();
    let t = c.tenant("stall");
    let direct = server.runtime_client();
    let path = t.path(&format!("/realtime/orders?access_token={}", t.florist));
    let stalled = Sse::open_unread(&direct, &path, 4096);
    let control = Sse::open(&direct, &path, &[]);
    assert_eq!(control.status, 200);
    let deadline = Instant::now() + secs(10);
    while t.stats()["subscribers"] != 2 {
        assert!(Instant::now() < deadline, "both subscribers: {}", t.stats());
        thread::sleep(Duration::from_millis(50));
    }

    let budget = kernel_send_buffer_max() + MAX_QUEUED_BYTES + 2 * 1024 * 1024;
    let mut written = 0; // bytes of event data sent to each subscriber
    let mut received = Vec::new(); // what the control subscriber got, in order
    let written_before_drop = loop {
        let r = c.call(
            "POST",
            &t.path("/orders"),
            Some(&t.florist),
            Some(biggest_order(received.len())),
        );
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        // Once the control subscriber has it, the broadcast has tried the stalled one too.
        let event = control.events(1, secs(10)).remove(0);
        written += event.2.to_string().len();
        received.push(event);
        if t.stats()["subscribers"] == 1 {
            break written;
        }
        assert!(
            written < budget,
            "the stalled subscriber is still there after {written} bytes ({} events)",
            received.len()
        );
    };
    let events_before_drop = received.len();
    // The reader had fallen a megabyte behind: nothing is dropped before that.
    assert!(
        written_before_drop > MAX_QUEUED_BYTES,
        "{written_before_drop}"
    );

    // The control subscriber stays, and gets every event, in order, before and after the drop.
    for n in 0..3 {
        t.create_order(&format!("After {n}"));
    }
    received.extend(control.events(3, secs(10)));
    let total = received.len() as u64;
    assert_eq!(ids(&received), (1..=total).collect::<Vec<_>>());
    assert_eq!(t.stats()["subscribers"], 1);

    // The stalled client wakes up: it reads a prefix of the events, then its stream ends.
    let stalled = stalled.start_reading();
    assert_eq!(stalled.status, 200);
    let mut got = Vec::new();
    loop {
        match stalled.next(secs(10)) {
            Some(SseMsg::Event { id, event, data }) if event != "heartbeat" => {
                got.push((id, event, data))
            }
            Some(SseMsg::Closed) => break,
            Some(_) => continue,
            None => panic!(
                "the stalled stream did not end; it had {} events",
                got.len()
            ),
        }
    }
    let prefix = got.len() as u64;
    assert_eq!(ids(&got), (1..=prefix).collect::<Vec<_>>());
    // Every event queued before the drop, and none after: the write that found it a megabyte
    // behind was not made (or, if a heartbeat's check came first, the last one was queued).
    assert!(
        (events_before_drop as u64 - 1..=events_before_drop as u64).contains(&prefix),
        "the stalled reader got {prefix} events; {events_before_drop} were written before the drop"
    );
    // The stream was closed behind what it had queued, not cut: the megabyte it held arrives.
    let read: usize = got.iter().map(|e| e.2.to_string().len()).sum();
    assert!(
        read > MAX_QUEUED_BYTES,
        "the stalled reader got only {read} bytes"
    );
    eprintln!(
        "stalled subscriber dropped after {written_before_drop} bytes ({events_before_drop} \
         events) were written; on waking it read {prefix} of {total} events ({read} bytes), \
         then its stream ended"
    );
}
