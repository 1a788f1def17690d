//! Issue 10: hardening — no lost or resurrected data, bounded retention, the lost-publish
//! repair, monotonic event times.

use std::thread;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{secs, Client, Resume, Tenant, HEARTBEAT_SECONDS};

/// Run alone (they reach into the Worker's local D1 behind its back).
pub const SERVER_TESTS: &[crate::ServerTest] = &[
    (
        "a_lost_publish_reaches_live_subscribers_by_the_next_heartbeat",
        a_lost_publish_reaches_live_subscribers_by_the_next_heartbeat,
    ),
    (
        "a_runtime_killed_mid_burst_loses_no_committed_event",
        a_runtime_killed_mid_burst_loses_no_committed_event,
    ),
    (
        "a_chunked_body_is_cut_off_at_one_mib",
        a_chunked_body_is_cut_off_at_one_mib,
    ),
    (
        "a_corrupt_stored_order_is_an_error_not_a_new_order",
        a_corrupt_stored_order_is_an_error_not_a_new_order,
    ),
];

pub const TESTS: &[crate::Test] = &[
    (
        "polling_past_pruned_changes_answers_resync_instead_of_losing_a_deletion",
        polling_past_pruned_changes_answers_resync_instead_of_losing_a_deletion,
    ),
    (
        "pruning_refuses_an_age_that_would_wrap_and_the_cron_prunes",
        pruning_refuses_an_age_that_would_wrap_and_the_cron_prunes,
    ),
    (
        "a_create_retried_with_its_idempotency_key_creates_nothing",
        a_create_retried_with_its_idempotency_key_creates_nothing,
    ),
    (
        "each_shop_signs_its_own_tokens_and_can_rotate_and_revoke",
        each_shop_signs_its_own_tokens_and_can_rotate_and_revoke,
    ),
    (
        "a_ticket_opens_one_live_connection_without_a_token_in_the_url",
        a_ticket_opens_one_live_connection_without_a_token_in_the_url,
    ),
    (
        "a_list_names_the_head_it_reflects",
        a_list_names_the_head_it_reflects,
    ),
    (
        "memory_is_bounded_in_bytes_for_orders_and_pages",
        memory_is_bounded_in_bytes_for_orders_and_pages,
    ),
    (
        "event_times_grow_with_their_ids_under_concurrent_writers",
        event_times_grow_with_their_ids_under_concurrent_writers,
    ),
];

fn id_of(order: &Value) -> String {
    order["id"].as_str().unwrap_or_default().to_string()
}

fn head(t: &Tenant) -> u64 {
    t.poll("0")["cursor"]
        .as_str()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

fn prune_now(c: &Client, t: &Tenant) {
    thread::sleep(Duration::from_millis(20));
    let r = c.admin(
        "POST",
        "/api/admin/maintenance/prune-events",
        json!({"olderThanSeconds": 0, "tenantId": t.id}),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

fn polling_past_pruned_changes_answers_resync_instead_of_losing_a_deletion(c: &Client) {
    let t = c.tenant("poll-resync");
    let a = id_of(&t.create_order("Ada"));
    t.create_order("Bea");
    let since = head(&t).to_string();
    let first = t.poll(&since);
    assert_eq!(first["resync"], Value::Null, "an ordinary answer");
    assert_eq!(t.delete(&a).status, 204);
    prune_now(c, &t);
    let after = t.poll(&since);
    assert_eq!(
        after["resync"], true,
        "the deletion is gone from the log: {after}"
    );
    assert_eq!(after["cursor"], head(&t).to_string());
    assert!(after.get("orders").is_none());
    // At the head nothing was lost: an ordinary (empty) answer.
    let at_head = t.poll(&head(&t).to_string());
    assert_eq!(
        (at_head["resync"].clone(), at_head["orders"].clone()),
        (Value::Null, json!([]))
    );
    // An id never issued, and a time older than what is retained.
    assert_eq!(t.poll("999999")["resync"], true);
    assert_eq!(t.poll("2000-01-01T00:00:00Z")["resync"], true);
}

fn a_lost_publish_reaches_live_subscribers_by_the_next_heartbeat(
    server: &mut crate::support::Server,
) {
    let c = &server.client();
    let t = c.tenant("lost-publish");
    let id = id_of(&t.create_order("Ada"));
    let live = t.subscribe(Resume::Live);
    thread::sleep(Duration::from_millis(300));
    let before = head(&t);
    // A change committed whose publish never reached the hub.
    c.d1_execute(&format!(
        "UPDATE tenants SET last_seq = last_seq + 1 WHERE id = '{tid}'; \
         INSERT INTO events (tenant_id, seq, type, order_id, ts, updated_by, changes, order_json) \
         SELECT id, last_seq, 'order_updated', '{id}', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), \
         'ghost-writer', '[\"notes\"]', NULL FROM tenants WHERE id = '{tid}';",
        tid = t.id
    ));
    // A resuming subscriber teaches the hub the new head before anyone publishes again.
    let resuming = t.subscribe(Resume::Header(before.to_string()));
    let (rid, _, _) = resuming
        .next_event(secs(5))
        .expect("the resuming one reads the log");
    assert_eq!(rid, (before + 1).to_string());
    // The live subscriber gets it too, without waiting for another write.
    let (lid, kind, data) = live
        .next_event(secs(HEARTBEAT_SECONDS * 3 + 2))
        .expect("the live subscriber is filled from the log");
    assert_eq!(
        (lid, kind),
        ((before + 1).to_string(), "order_updated".to_string())
    );
    assert_eq!(data["updatedBy"], "ghost-writer");
}

fn pruning_refuses_an_age_that_would_wrap_and_the_cron_prunes(c: &Client) {
    let t = c.tenant("prune-wrap");
    t.create_order("Ada");
    for huge in [
        json!(1_000_000_000_000_000u64),
        json!(u64::MAX),
        json!(-1),
        json!("1"),
    ] {
        let r = c.admin(
            "POST",
            "/api/admin/maintenance/prune-events",
            json!({"olderThanSeconds": huge}),
        );
        assert_eq!(r.status, 400, "{huge}");
    }
    assert_eq!(head(&t), 1);
    assert_eq!(
        t.poll("0")["orders"].as_array().map(Vec::len),
        Some(1),
        "nothing was deleted"
    );
    let r = c
        .request("GET", "/__scheduled?cron=*/30+*+*+*+*", None, &[], None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, 200);
    assert_eq!(
        t.poll("0")["orders"].as_array().map(Vec::len),
        Some(1),
        "within retention"
    );
}

fn event_times_grow_with_their_ids_under_concurrent_writers(c: &Client) {
    let t = c.tenant("monotonic");
    let orders: Vec<String> = (0..4)
        .map(|i| id_of(&t.create_order(&format!("C{i}"))))
        .collect();
    let sub = t.subscribe(Resume::Header("0".into()));
    let statuses = t.concurrent_notes(&orders, 20, &t.florist);
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let events = sub.events(24, secs(10));
    let times: Vec<&str> = events
        .iter()
        .filter_map(|(_, _, e)| e["timestamp"].as_str())
        .collect();
    assert_eq!(times.len(), 24);
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "timestamps follow the ids: {times:?}"
    );
}

fn create_with_key(t: &Tenant, key: &str, customer: &str) -> crate::support::Resp {
    let body = json!({"customerName": customer, "items": [{"title": "Tulips", "quantity": 5}]});
    t.client
        .request(
            "POST",
            &t.path("/orders"),
            Some(&t.florist),
            &[("Idempotency-Key", key)],
            Some(("application/json", body.to_string().as_bytes())),
        )
        .unwrap_or_else(|e| panic!("{e}"))
}

fn a_create_retried_with_its_idempotency_key_creates_nothing(c: &Client) {
    let t = c.tenant("idempotent");
    let first = create_with_key(&t, "order-abc-1", "Ada");
    assert_eq!(first.status, 201);
    let retry = create_with_key(&t, "order-abc-1", "Ada");
    assert_eq!(retry.status, 201);
    assert_eq!(retry.json(), first.json(), "the first answer, again");
    assert_eq!(retry.header("location"), first.header("location"));
    assert_eq!(head(&t), 1, "one order, one event");
    // The key used for another request.
    let other = create_with_key(&t, "order-abc-1", "Bea");
    assert_eq!(
        (other.status, other.error_code().as_str()),
        (422, "idempotency_key_reused")
    );
    // Five twins at once: one order.
    let twins: Vec<_> = (0..5)
        .map(|_| {
            let t2 = Tenant {
                id: t.id.clone(),
                florist: t.florist.clone(),
                florist2: t.florist2.clone(),
                manager: t.manager.clone(),
                client: t.client.clone(),
            };
            thread::spawn(move || create_with_key(&t2, "twins", "Cy"))
        })
        .collect();
    let ids: Vec<String> = twins
        .into_iter()
        .map(|h| {
            let r = h.join().expect("twin");
            assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
            id_of(&r.json())
        })
        .collect();
    assert!(ids.iter().all(|id| id == &ids[0]), "{ids:?}");
    assert_eq!(head(&t), 2);
    for bad in ["", &"k".repeat(256), "has space"] {
        let r = create_with_key(&t, bad, "Dee");
        assert_eq!(r.status, 400, "{bad:?}");
    }
    assert_eq!(head(&t), 2);
}

fn shop_token(key_secret: &str, kid: &str, tenant: &str, user: &str, iat: i64) -> String {
    use base64::Engine;
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(key_secret)
        .expect("base64url key");
    florist_board::auth::sign_with(
        &florist_board::auth::Claims {
            sub: user.into(),
            tenant: tenant.into(),
            role: florist_board::domain::Role::Manager,
            exp: iat + 3600,
            iss: Some(florist_board::auth::ISSUER.into()),
            aud: Some(florist_board::auth::audience(tenant)),
            iat: Some(iat),
        },
        &secret,
        Some(kid),
    )
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn each_shop_signs_its_own_tokens_and_can_rotate_and_revoke(c: &Client) {
    let id = crate::support::unique("keys");
    let created = c.admin(
        "POST",
        "/api/admin/tenants",
        json!({"id": id, "name": "Keys"}),
    );
    assert_eq!(created.status, 201);
    let key = created.json()["signingKey"].clone();
    let (kid, secret) = (
        key["kid"].as_str().unwrap_or_default(),
        key["secret"].as_str().unwrap_or_default(),
    );
    assert!(!kid.is_empty() && secret.len() >= 43);
    let other = c.tenant("keys-other");
    let orders = |tenant: &str, token: &str| {
        c.call(
            "GET",
            &format!("/api/tenants/{tenant}/orders"),
            Some(token),
            None,
        )
        .status
    };
    // The shop's login service mints with its key: valid for the shop.
    let own = shop_token(secret, kid, &id, "ana", unix_now());
    assert_eq!(orders(&id, &own), 200);
    // The same key cannot mint for another shop (its kid is not that shop's).
    let forged = shop_token(secret, kid, &other.id, "mallory", unix_now());
    assert_eq!(orders(&other.id, &forged), 401);
    // Admin-minted tokens carry the shop's kid, iss and aud.
    let minted = c.admin(
        "POST",
        &format!("/api/admin/tenants/{id}/tokens"),
        json!({"userId": "bo", "role": "florist"}),
    );
    let minted = minted.json()["token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(orders(&id, &minted), 200);
    // Rotation with a grace: the old key still verifies; with none it stops at once.
    let r = c.admin(
        "POST",
        &format!("/api/admin/tenants/{id}/signing-keys"),
        json!({"graceSeconds": 3600}),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let second = r.json();
    assert_eq!(orders(&id, &own), 200, "old key within its grace");
    let newer = shop_token(
        second["secret"].as_str().unwrap_or_default(),
        second["kid"].as_str().unwrap_or_default(),
        &id,
        "ana",
        unix_now(),
    );
    assert_eq!(orders(&id, &newer), 200);
    let r = c.admin(
        "POST",
        &format!("/api/admin/tenants/{id}/signing-keys"),
        json!({"graceSeconds": 0}),
    );
    assert_eq!(r.status, 201);
    assert_eq!(orders(&id, &newer), 401, "retired without grace");
    assert_eq!(orders(&id, &own), 200, "the first key keeps its own grace");
    for bad in [
        json!({"graceSeconds": -1}),
        json!({"graceSeconds": 604801}),
        json!({"graceSeconds": "1"}),
    ] {
        assert_eq!(
            c.admin(
                "POST",
                &format!("/api/admin/tenants/{id}/signing-keys"),
                bad
            )
            .status,
            400
        );
    }
    assert_eq!(
        c.admin(
            "POST",
            "/api/admin/tenants/no-such-shop/signing-keys",
            json!({})
        )
        .status,
        404
    );
    // tokensNotBefore revokes everything issued earlier, platform tokens included.
    let platform = c.forge(
        "carl",
        &id,
        florist_board::domain::Role::Florist,
        unix_now() + 600,
    );
    let current = c.admin(
        "POST",
        &format!("/api/admin/tenants/{id}/tokens"),
        json!({"userId": "bo", "role": "florist"}),
    );
    let current = current.json()["token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(orders(&id, &current), 200);
    thread::sleep(Duration::from_millis(1100));
    let r = c
        .request(
            "PUT",
            &format!("/api/admin/tenants/{id}/tokens-not-before"),
            Some(&c.admin_token),
            &[],
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(orders(&id, &current), 401, "issued before: revoked");
    assert_eq!(orders(&id, &platform), 401);
    let fresh = c.admin(
        "POST",
        &format!("/api/admin/tenants/{id}/tokens"),
        json!({"userId": "bo", "role": "florist"}),
    );
    let fresh = fresh.json()["token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(orders(&id, &fresh), 200, "issued after: fine");
    // Other shops are untouched.
    assert_eq!(orders(&other.id, &other.florist), 200);
}

fn a_ticket_opens_one_live_connection_without_a_token_in_the_url(c: &Client) {
    let t = c.tenant("tickets");
    let id = id_of(&t.create_order("Ada"));
    let issue = |token: &str| c.call("POST", &t.path("/realtime/tickets"), Some(token), None);
    let r = issue(&t.florist);
    assert_eq!(r.status, 201);
    let ticket = r.json()["ticket"].as_str().unwrap_or_default().to_string();
    assert!(r.json()["expiresAt"].as_str().is_some());
    let sse = crate::support::Sse::open(
        c,
        &t.path(&format!("/realtime/orders?ticket={ticket}")),
        &[],
    );
    assert_eq!(sse.status, 200);
    assert_eq!(
        t.put(&id, &t.florist, json!({"notes": "via ticket"}))
            .status,
        200
    );
    let (_, kind, _) = sse
        .next_event(secs(5))
        .expect("an event over the ticket's stream");
    assert_eq!(kind, "order_updated");
    // Single use.
    let again = c.call(
        "GET",
        &t.path(&format!("/realtime/orders?ticket={ticket}")),
        None,
        None,
    );
    assert_eq!(again.status, 401);
    // Bound to its shop, and to a real ticket.
    let r = issue(&t.florist);
    let ticket = r.json()["ticket"].as_str().unwrap_or_default().to_string();
    let other = c.tenant("tickets-other");
    let r = c.call(
        "GET",
        &other.path(&format!("/realtime/orders?ticket={ticket}")),
        None,
        None,
    );
    assert_eq!(r.status, 403);
    let r = c.call("GET", &t.path("/realtime/orders?ticket=nope"), None, None);
    assert_eq!(r.status, 401);
    // Issuing one needs a token in the header.
    assert_eq!(
        c.call("POST", &t.path("/realtime/tickets"), None, None)
            .status,
        401
    );
    // A ticket opens a WebSocket too.
    let r = issue(&t.manager);
    let ticket = r.json()["ticket"].as_str().unwrap_or_default().to_string();
    let ws = crate::wsclient::Ws::open(c, &t.path(&format!("/realtime/ws?ticket={ticket}")))
        .expect("ws");
    let presence = ws.next_of("presence", secs(5)).expect("presence");
    assert!(presence.to_string().contains("manager-1"));
    drop(sse);
}

fn big_order(t: &Tenant, i: usize) -> String {
    // About 37 KB each: 100 items of 90 four-byte flowers.
    let items: Vec<Value> = (0..100)
        .map(|n| json!({"title": format!("{n} {}", "🌷".repeat(90)), "quantity": 1}))
        .collect();
    let r = t.client.call(
        "POST",
        &t.path("/orders"),
        Some(&t.florist),
        Some(json!({"customerName": format!("Big {i}"), "items": items})),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    id_of(&r.json())
}

fn memory_is_bounded_in_bytes_for_orders_and_pages(c: &Client) {
    let t = c.tenant("bytes");
    // One order is capped at 64 KB.
    let items: Vec<Value> = (0..100)
        .map(|_| json!({"title": "🌷".repeat(300), "quantity": 1}))
        .collect();
    let r = c.call(
        "POST",
        &t.path("/orders"),
        Some(&t.florist),
        Some(json!({"customerName": "Huge", "items": items})),
    );
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (422, "order_too_large")
    );
    // Pages end early by size and the cursor brings the rest.
    let ids: Vec<String> = (0..20).map(|i| big_order(&t, i)).collect();
    let mut seen = Vec::new();
    let mut path = t.path("/orders?limit=200");
    let mut pages = 0;
    loop {
        let page = c.call("GET", &path, Some(&t.florist), None);
        assert_eq!(page.status, 200);
        assert!(
            page.body.len() < 700 * 1024,
            "a page of {} bytes",
            page.body.len()
        );
        let page = page.json();
        pages += 1;
        seen.extend(page["orders"].as_array().into_iter().flatten().map(id_of));
        match page["nextCursor"].as_str() {
            Some(next) => path = t.path(&format!("/orders?limit=200&cursor={next}")),
            None => break,
        }
    }
    assert!(pages > 1, "20 orders of ~37 KB do not fit one page");
    seen.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(seen, want);
    let mut polled = Vec::new();
    let mut since = "0".to_string();
    let mut answers = 0;
    loop {
        let p = t.poll(&since);
        answers += 1;
        polled.extend(p["orders"].as_array().into_iter().flatten().map(id_of));
        since = p["cursor"].as_str().unwrap_or_default().to_string();
        if p["hasMore"] != true {
            break;
        }
    }
    assert!(answers > 1);
    polled.sort();
    assert_eq!(polled, want);
}

/// A subscriber that keeps itself connected (resuming from the last id it saw) until told to
/// stop, recording every event id it receives.
fn resilient_subscriber(
    c: Client,
    path: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> thread::JoinHandle<Vec<u64>> {
    thread::spawn(move || {
        let mut got: Vec<u64> = Vec::new();
        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
            let headers: Vec<(String, String)> = got
                .last()
                .map(|l| vec![("Last-Event-ID".to_string(), l.to_string())])
                .unwrap_or_default();
            let Ok(sse) = crate::support::Sse::try_open(&c, &path, &headers) else {
                thread::sleep(Duration::from_millis(200));
                continue;
            };
            if sse.status != 200 {
                thread::sleep(Duration::from_millis(200));
                continue;
            }
            loop {
                match sse.next(Duration::from_millis(500)) {
                    Some(crate::support::SseMsg::Event { id, event, .. })
                        if event != "heartbeat" =>
                    {
                        if let Ok(id) = id.parse::<u64>() {
                            got.push(id);
                        }
                    }
                    Some(crate::support::SseMsg::Closed) => break,
                    None if stop.load(std::sync::atomic::Ordering::SeqCst) => break,
                    _ => {}
                }
            }
        }
        got
    })
}

fn a_runtime_killed_mid_burst_loses_no_committed_event(server: &mut crate::support::Server) {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    let c = server.client();
    let t = c.tenant("fault");
    let orders: Vec<String> = (0..8)
        .map(|i| id_of(&t.create_order(&format!("F{i}"))))
        .collect();
    let start = head(&t);
    let stop = Arc::new(AtomicBool::new(false));
    let stream_path = t.path(&format!("/realtime/orders?access_token={}", t.florist));
    let subs: Vec<_> = (0..3)
        .map(|_| {
            let mut path = stream_path.clone();
            path.push_str(&format!("&lastEventId={start}"));
            resilient_subscriber(c.clone(), path, stop.clone())
        })
        .collect();
    thread::sleep(Duration::from_millis(500));
    // 8 writers, 1,000 updates; the ids of every write that got a 2xx.
    let acked = Arc::new(Mutex::new(Vec::<u64>::new()));
    let attempts = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (c, path, token, acked, attempts) = (
                c.clone(),
                t.path(&format!("/orders/{}", orders[w])),
                t.florist.clone(),
                acked.clone(),
                attempts.clone(),
            );
            thread::spawn(move || {
                for i in 0..125 {
                    attempts.fetch_add(1, Ordering::SeqCst);
                    let body = json!({"notes": format!("w{w} n{i}")}).to_string();
                    let r = c.request(
                        "PUT",
                        &path,
                        Some(&token),
                        &[],
                        Some(("application/json", body.as_bytes())),
                    );
                    if let Ok(r) = r {
                        if r.status == 200 {
                            if let Some(id) = r.json()["event"]["id"]
                                .as_str()
                                .and_then(|s| s.parse().ok())
                            {
                                acked.lock().map(|mut a| a.push(id)).ok();
                            }
                        }
                    } else {
                        thread::sleep(Duration::from_millis(50));
                    }
                }
            })
        })
        .collect();
    while attempts.load(Ordering::SeqCst) < 300 {
        thread::sleep(Duration::from_millis(20));
    }
    server.kill_runtime();
    server.restart();
    for w in writers {
        let _ = w.join();
    }
    // The head, following the polling pages (one answer covers at most 500 events).
    let mut final_head = start;
    loop {
        let p = t.poll(&final_head.to_string());
        final_head = p["cursor"]
            .as_str()
            .and_then(|c| c.parse().ok())
            .unwrap_or(final_head);
        if p["hasMore"] != true {
            break;
        }
    }
    // Let every subscriber resume and catch up to the head, then stop them.
    thread::sleep(Duration::from_secs(4));
    stop.store(true, Ordering::SeqCst);
    let want: Vec<u64> = (start + 1..=final_head).collect();
    for sub in subs {
        let got = sub.join().expect("subscriber");
        assert_eq!(got, want, "every committed event exactly once and in order");
    }
    let acked = acked.lock().map(|a| a.clone()).unwrap_or_default();
    assert!(
        acked.len() > 300,
        "writes went on after the restart: {}",
        acked.len()
    );
    for id in &acked {
        assert!(want.contains(id), "acknowledged write {id} is in the log");
    }
    eprintln!(
        "fault test: {} writes acknowledged of 1000, head {} → {final_head}",
        acked.len(),
        start
    );
}

fn a_list_names_the_head_it_reflects(c: &Client) {
    let t = c.tenant("list-head");
    let id = id_of(&t.create_order("Ada"));
    assert_eq!(t.put(&id, &t.florist, json!({"notes": "x"})).status, 200);
    let list = c
        .call("GET", &t.path("/orders"), Some(&t.florist), None)
        .json();
    assert_eq!(
        list["head"], "2",
        "load the list, then apply every event after head"
    );
    assert_eq!(list["orders"][0]["version"], 2);
    let health = c.call("GET", "/api/health", None, None).json();
    assert_eq!(
        health["heartbeatSeconds"],
        crate::support::HEARTBEAT_SECONDS
    );
}

/// Alone: wrangler dev's local proxy takes an answer sent before the body was read as a
/// restart, and fails the requests in flight beside it (production has no such proxy).
fn a_chunked_body_is_cut_off_at_one_mib(server: &mut crate::support::Server) {
    use std::io::{Read, Write};
    let c = &server.client();
    let t = c.tenant("chunked");
    // A chunked body (no Content-Length) is cut off at 1 MiB, not buffered whole.
    let mut s = c.connect().expect("connect");
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        t.path("/orders"),
        t.florist
    );
    s.write_all(head.as_bytes()).expect("head");
    let chunk = vec![b' '; 64 * 1024];
    for _ in 0..20 {
        if s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .is_err()
            || s.write_all(&chunk).is_err()
            || s.write_all(b"\r\n").is_err()
        {
            break;
        }
    }
    let _ = s.write_all(b"0\r\n\r\n");
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(
        answer.starts_with("HTTP/1.1 413"),
        "{}",
        answer.lines().next().unwrap_or("")
    );
    let orders = c
        .call("GET", &t.path("/orders"), Some(&t.florist), None)
        .json();
    assert_eq!(orders["orders"], json!([]), "nothing was created");
}

fn a_corrupt_stored_order_is_an_error_not_a_new_order(server: &mut crate::support::Server) {
    let c = &server.client();
    let t = c.tenant("corrupt");
    let bad_status = id_of(&t.create_order("Ada"));
    let bad_items = id_of(&t.create_order("Bea"));
    c.d1_execute(&format!(
        "UPDATE orders SET status = 'wilted' WHERE id = '{bad_status}'; \
         UPDATE orders SET items = 'not json' WHERE id = '{bad_items}';"
    ));
    for id in [&bad_status, &bad_items] {
        let r = c.call(
            "GET",
            &t.path(&format!("/orders/{id}")),
            Some(&t.florist),
            None,
        );
        assert_eq!(
            (r.status, r.error_code().as_str()),
            (500, "internal"),
            "{id}"
        );
        assert!(
            !String::from_utf8_lossy(&r.body).contains("wilted"),
            "no internals leak"
        );
    }
    let r = c.call("GET", &t.path("/orders"), Some(&t.florist), None);
    assert_eq!(
        r.status, 500,
        "the list does not show them as new orders with no items"
    );
}
