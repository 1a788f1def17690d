//! Issue 4: Shopify webhooks — verified, deduplicated, stale-safe, broadcast like any change.

use std::time::Duration;

use florist_board::shopify::sign;
use serde_json::{json, Value};

use crate::support::{secs, unique, Client, Resp, Resume, Tenant};

pub const TESTS: &[crate::Test] = &[
    (
        "a_deleted_shopify_order_never_comes_back",
        a_deleted_shopify_order_never_comes_back,
    ),
    (
        "a_same_instant_update_needs_a_later_trigger_time",
        a_same_instant_update_needs_a_later_trigger_time,
    ),
    (
        "deliveries_for_an_unknown_shop_are_parked_and_replayed_when_it_connects",
        deliveries_for_an_unknown_shop_are_parked_and_replayed_when_it_connects,
    ),
    (
        "a_body_signed_for_one_topic_is_refused_under_another",
        a_body_signed_for_one_topic_is_refused_under_another,
    ),
    (
        "deliveries_are_deduplicated_by_shop_and_event_id",
        deliveries_are_deduplicated_by_shop_and_event_id,
    ),
    (
        "only_managers_cancel_and_shopify_never_cancels_a_delivered_order",
        only_managers_cancel_and_shopify_never_cancels_a_delivered_order,
    ),
    (
        "shopify_and_florists_racing_on_one_order_all_succeed",
        shopify_and_florists_racing_on_one_order_all_succeed,
    ),
    (
        "a_bad_or_missing_signature_is_401_and_stores_nothing",
        a_bad_or_missing_signature_is_401_and_stores_nothing,
    ),
    (
        "orders_create_adds_a_mapped_order_and_broadcasts_it",
        orders_create_adds_a_mapped_order_and_broadcasts_it,
    ),
    (
        "a_replayed_webhook_id_is_200_with_no_second_event",
        a_replayed_webhook_id_is_200_with_no_second_event,
    ),
    (
        "orders_updated_keeps_florist_fields_and_broadcasts_the_change",
        orders_updated_keeps_florist_fields_and_broadcasts_the_change,
    ),
    (
        "a_stale_retry_changes_nothing",
        a_stale_retry_changes_nothing,
    ),
    (
        "an_unchanged_newer_payload_still_makes_older_ones_stale",
        an_unchanged_newer_payload_still_makes_older_ones_stale,
    ),
    (
        "orders_cancelled_and_orders_delete_reach_the_board",
        orders_cancelled_and_orders_delete_reach_the_board,
    ),
    (
        "unknown_shops_malformed_payloads_and_other_topics",
        unknown_shops_malformed_payloads_and_other_topics,
    ),
];

/// Shopify sees 200 and the body names what happened (created, updated, stale, …).
fn assert_outcome(r: &Resp, outcome: &str) {
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["status"], outcome);
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("tests/fixtures/shopify/{name}.json")).unwrap_or_default()
}

struct Shop {
    tenant: Tenant,
    domain: String,
}

fn shop(c: &Client) -> Shop {
    let domain = format!("{}.myshopify.com", unique("wh"));
    let tenant = c.tenant_with_domain("wh", Some(&domain));
    Shop { tenant, domain }
}

fn deliver(
    c: &Client,
    domain: &str,
    topic: &str,
    body: &[u8],
    webhook_id: &str,
    sig: Option<String>,
) -> Resp {
    deliver_with(c, domain, topic, body, webhook_id, sig, &[])
}

fn deliver_with(
    c: &Client,
    domain: &str,
    topic: &str,
    body: &[u8],
    webhook_id: &str,
    sig: Option<String>,
    extra: &[(&str, &str)],
) -> Resp {
    let mut headers = vec![
        ("X-Shopify-Topic", topic.to_string()),
        ("X-Shopify-Shop-Domain", domain.to_string()),
        ("X-Shopify-Webhook-Id", webhook_id.to_string()),
        ("X-Shopify-API-Version", "2026-10".to_string()),
    ];
    if let Some(s) = sig {
        headers.push(("X-Shopify-Hmac-Sha256", s));
    }
    for (k, v) in extra {
        headers.push((k, v.to_string()));
    }
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    c.request(
        "POST",
        "/api/webhooks/shopify",
        None,
        &headers,
        Some(("application/json", body)),
    )
    .unwrap_or_else(|e| panic!("webhook: {e}"))
}

impl Shop {
    /// A signed delivery with extra headers (event id, trigger time).
    fn send_with(
        &self,
        topic: &str,
        body: &[u8],
        webhook_id: &str,
        extra: &[(&str, &str)],
    ) -> Resp {
        let c = &self.tenant.client;
        let sig = Some(sign(c.webhook_secret.as_bytes(), body));
        deliver_with(c, &self.domain, topic, body, webhook_id, sig, extra)
    }

    fn send(&self, topic: &str, body: &[u8], webhook_id: &str) -> Resp {
        let c = &self.tenant.client;
        deliver(
            c,
            &self.domain,
            topic,
            body,
            webhook_id,
            Some(sign(c.webhook_secret.as_bytes(), body)),
        )
    }

    fn orders(&self) -> Vec<Value> {
        let t = &self.tenant;
        t.client
            .call("GET", &t.path("/orders"), Some(&t.florist), None)
            .json()["orders"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Delivers the `orders/create` fixture and returns the new order's id.
    fn create_from_fixture(&self) -> String {
        let r = self.send("orders/create", &fixture("orders-create"), &unique("wid"));
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        self.orders()[0]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn head(&self) -> String {
        self.tenant.poll("0")["cursor"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

fn a_bad_or_missing_signature_is_401_and_stores_nothing(c: &Client) {
    let s = shop(c);
    let body = fixture("orders-create");
    let wrong = sign(b"not-the-secret", &body);
    let tampered_body = String::from_utf8_lossy(&body)
        .replace("#1001", "#9999")
        .into_bytes();
    let good_sig_for_original = sign(c.webhook_secret.as_bytes(), &body);
    for (sig, payload) in [
        (None, body.as_slice()),
        (Some(wrong), body.as_slice()),
        (Some("garbage!".to_string()), body.as_slice()),
        (Some(good_sig_for_original), tampered_body.as_slice()),
    ] {
        let r = deliver(c, &s.domain, "orders/create", payload, &unique("wid"), sig);
        assert_eq!(r.status, 401);
        assert_eq!(r.error_code(), "unauthorized");
    }
    assert!(s.orders().is_empty(), "nothing stored");
    assert_eq!(s.head(), "0", "nothing logged or broadcast");
}

fn orders_create_adds_a_mapped_order_and_broadcasts_it(c: &Client) {
    let s = shop(c);
    let sse = s.tenant.subscribe(Resume::Live);
    let r = s.send("orders/create", &fixture("orders-create"), &unique("wid"));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let (_, kind, event) = sse.next_event(secs(5)).expect("order_created");
    assert_eq!(kind, "order_created");
    assert_eq!(event["updatedBy"], "shopify");
    let order = &event["order"];
    assert_eq!(order["source"], "shopify");
    assert_eq!(order["shopifyOrderId"], "5678901234567");
    assert_eq!(order["orderNumber"], "#1001");
    assert_eq!(order["customerName"], "Emma Clarke");
    assert_eq!(order["customerEmail"], "emma.clarke@example.com");
    assert_eq!(order["deliveryDate"], "2026-11-26");
    assert_eq!(order["cardMessage"], "Happy birthday, Mum! ❤️");
    assert_eq!(order["shopifyNote"], "Please ring the bell twice");
    assert_eq!(
        order["notes"], "",
        "the Shopify note never lands in the florists' notes"
    );
    assert_eq!(order["status"], "new");
    assert_eq!(
        order["items"],
        json!([{"title": "Pink Rose Bouquet", "quantity": 1}, {"title": "Greeting card", "quantity": 1}])
    );
    let stored = s.orders();
    assert_eq!(stored.len(), 1);
    assert_eq!(&stored[0], order);
}

fn a_replayed_webhook_id_is_200_with_no_second_event(c: &Client) {
    let s = shop(c);
    let wid = unique("wid");
    assert_eq!(
        s.send("orders/create", &fixture("orders-create"), &wid)
            .status,
        200
    );
    let sse = s.tenant.subscribe(Resume::Live);
    let head = s.head();
    // Shopify's retry of the same delivery (same id), and of an update with a reused id.
    for (topic, body) in [
        ("orders/create", "orders-create"),
        ("orders/updated", "orders-updated"),
    ] {
        assert_outcome(&s.send(topic, &fixture(body), &wid), "duplicate");
    }
    sse.assert_quiet(Duration::from_millis(800));
    assert_eq!(s.head(), head);
    assert_eq!(s.orders().len(), 1);
    assert_eq!(s.orders()[0]["version"], 1);
}

fn orders_updated_keeps_florist_fields_and_broadcasts_the_change(c: &Client) {
    let s = shop(c);
    let t = &s.tenant;
    let id = s.create_from_fixture();
    let r = t.put(&id, &t.florist, json!({"status": "in_progress", "assignedTo": "florist-123", "notes": "customer requested pink roses"}));
    assert_eq!(r.status, 200);
    let sse = t.subscribe(Resume::Live);
    let r = s.send("orders/updated", &fixture("orders-updated"), &unique("wid"));
    assert_outcome(&r, "updated");
    let (_, kind, event) = sse.next_event(secs(5)).expect("order_updated");
    assert_eq!(kind, "order_updated");
    assert_eq!(event["updatedBy"], "shopify");
    let changes: Vec<&str> = event["changes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        changes.contains(&"items")
            && changes.contains(&"cardMessage")
            && changes.contains(&"shopifyNote"),
        "{changes:?}"
    );
    assert!(!changes
        .iter()
        .any(|c| ["status", "assignedTo", "notes"].contains(c)));
    let order = &event["order"];
    assert_eq!(
        order["items"][0],
        json!({"title": "Pink Rose Bouquet", "quantity": 2})
    );
    assert_eq!(
        order["cardMessage"],
        "Happy birthday, Mum! Love always, Emma ❤️"
    );
    assert_eq!(order["status"], "in_progress");
    assert_eq!(order["assignedTo"], "florist-123");
    assert_eq!(order["notes"], "customer requested pink roses");
    assert_eq!(order["version"], 3);
    // The same payload again under a new delivery id (same instant): stale, no event; the
    // same content with a newer time: unchanged, no event.
    let r = s.send("orders/updated", &fixture("orders-updated"), &unique("wid"));
    assert_outcome(&r, "stale");
    let newer = with_updated_at(&fixture("orders-updated"), "2026-11-24T23:00:00Z", None);
    assert_outcome(
        &s.send("orders/updated", &newer, &unique("wid")),
        "unchanged",
    );
    sse.assert_quiet(Duration::from_millis(800));
}

fn a_stale_retry_changes_nothing(c: &Client) {
    let s = shop(c);
    assert_eq!(
        s.send("orders/create", &fixture("orders-create"), &unique("wid"))
            .status,
        200
    );
    assert_eq!(
        s.send("orders/updated", &fixture("orders-updated"), &unique("wid"))
            .status,
        200
    );
    let before = s.orders()[0].clone();
    let head = s.head();
    // A late retry of an older payload (the create's content, as orders/updated).
    let r = s.send("orders/updated", &fixture("orders-create"), &unique("wid"));
    assert_outcome(&r, "stale");
    assert_eq!(s.orders()[0], before, "nothing overwritten");
    assert_eq!(s.head(), head, "no event");
}

fn orders_cancelled_and_orders_delete_reach_the_board(c: &Client) {
    let s = shop(c);
    let t = &s.tenant;
    let id = s.create_from_fixture();
    let sse = t.subscribe(Resume::Live);
    let r = s.send(
        "orders/cancelled",
        &fixture("orders-cancelled"),
        &unique("wid"),
    );
    assert_eq!(r.status, 200);
    let (_, kind, event) = sse.next_event(secs(5)).expect("cancel");
    assert_eq!(kind, "order_updated");
    assert_eq!(event["order"]["status"], "cancelled");
    assert!(event["changes"]
        .as_array()
        .is_some_and(|c| c.contains(&json!("status"))));
    let r = s.send("orders/delete", &fixture("orders-delete"), &unique("wid"));
    assert_outcome(&r, "deleted");
    let (_, kind, event) = sse.next_event(secs(5)).expect("delete");
    assert_eq!(kind, "order_deleted");
    assert_eq!(event["orderId"], id.as_str());
    assert!(s.orders().is_empty());
    // Deleting again (a new delivery) is harmless.
    let r = s.send("orders/delete", &fixture("orders-delete"), &unique("wid"));
    assert_outcome(&r, "unchanged");
    sse.assert_quiet(Duration::from_millis(500));
}

fn unknown_shops_malformed_payloads_and_other_topics(c: &Client) {
    let s = shop(c);
    let body = fixture("orders-create");
    let sig = sign(c.webhook_secret.as_bytes(), &body);
    let nobody = format!("{}.myshopify.com", unique("nobody"));
    let r = deliver(
        c,
        &nobody,
        "orders/create",
        &body,
        &unique("wid"),
        Some(sig),
    );
    assert_outcome(&r, "parked");
    for bad in [
        &b"{not json"[..],
        br#"[1,2,3]"#,
        br##"{"name":"#1002"}"##,
        br##"{"id":"abc","name":"#1"}"##,
    ] {
        let r = s.send("orders/create", bad, &unique("wid"));
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(bad));
        assert_eq!(r.error_code(), "invalid_payload");
    }
    // More of one item than an order holds (the contract's Item.quantity maximum): refused, not
    // stored as an order the API could not describe (the contract run found 720,442 once).
    let mut huge: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    huge["line_items"][0]["quantity"] = json!(720_442);
    huge["line_items"][0]["current_quantity"] = json!(720_442);
    let r = s.send(
        "orders/create",
        &huge.to_string().into_bytes(),
        &unique("wid"),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.error_code(), "invalid_payload");
    let message = r.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(message.contains("from 0 to 10000"), "{message}");
    let r = s.send("products/update", br#"{"id": 1}"#, &unique("wid"));
    assert_outcome(&r, "ignored");
    assert!(s.orders().is_empty());
    assert_eq!(s.head(), "0");
}

fn with_updated_at(body: &[u8], updated_at: &str, card: Option<&str>) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    v["updated_at"] = json!(updated_at);
    if let Some(card) = card {
        v["note_attributes"][1]["value"] = json!(card);
    }
    v.to_string().into_bytes()
}

fn an_unchanged_newer_payload_still_makes_older_ones_stale(c: &Client) {
    let s = shop(c);
    let updated = fixture("orders-updated"); // updated_at 11:40
    assert_eq!(
        s.send("orders/create", &fixture("orders-create"), &unique("wid"))
            .status,
        200
    );
    assert_outcome(
        &s.send("orders/updated", &updated, &unique("wid")),
        "updated",
    );
    // 13:00, same content: nothing to show, but the time is remembered.
    let same_later = with_updated_at(&updated, "2026-11-24T13:00:00-05:00", None);
    assert_outcome(
        &s.send("orders/updated", &same_later, &unique("wid")),
        "unchanged",
    );
    // 12:00 arrives late with other content: older than 13:00, so stale.
    let late = with_updated_at(&updated, "2026-11-24T12:00:00-05:00", Some("Late message"));
    assert_outcome(&s.send("orders/updated", &late, &unique("wid")), "stale");
    assert_eq!(
        s.orders()[0]["cardMessage"],
        "Happy birthday, Mum! Love always, Emma ❤️"
    );
}

fn shopify_and_florists_racing_on_one_order_all_succeed(c: &Client) {
    let s = shop(c);
    let id = s.create_from_fixture();
    let start: u64 = s.head().parse().unwrap_or(0);
    let updated = fixture("orders-updated");
    let t = &s.tenant;
    let mut florists = Vec::new();
    for i in 0..12 {
        let (client, path, token) = (
            t.client.clone(),
            t.path(&format!("/orders/{id}")),
            t.florist.clone(),
        );
        florists.push(std::thread::spawn(move || {
            client
                .call(
                    "PUT",
                    &path,
                    Some(&token),
                    Some(json!({"notes": format!("florist {i}")})),
                )
                .status
        }));
    }
    let mut hooks = Vec::new();
    for i in 0..4 {
        let body = with_updated_at(
            &updated,
            &format!("2026-11-24T12:0{i}:00-05:00"),
            Some(&format!("Card {i}")),
        );
        let (client, domain) = (c.clone(), s.domain.clone());
        hooks.push(std::thread::spawn(move || {
            let sig = Some(sign(client.webhook_secret.as_bytes(), &body));
            deliver(
                &client,
                &domain,
                "orders/updated",
                &body,
                &unique("wid"),
                sig,
            )
        }));
    }
    for f in florists {
        assert_eq!(
            f.join().ok(),
            Some(200),
            "a florist's write never fails for Shopify"
        );
    }
    let mut applied = 0;
    for h in hooks {
        let r = h.join().expect("webhook thread");
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let outcome = r.json()["status"].as_str().unwrap_or_default().to_string();
        assert!(
            ["updated", "stale"].contains(&outcome.as_str()),
            "{outcome}"
        );
        applied += usize::from(outcome == "updated");
    }
    // Every applied change is one event, gap-free; the florists' notes and Shopify's card agree.
    let poll = s.tenant.poll(&start.to_string());
    assert_eq!(poll["cursor"], (start + 12 + applied as u64).to_string());
    let order = s.tenant.get_order(&id);
    assert!(order["notes"]
        .as_str()
        .unwrap_or_default()
        .starts_with("florist "));
    assert_eq!(
        order["cardMessage"], "Card 3",
        "the newest Shopify payload wins"
    );
}

fn a_deleted_shopify_order_never_comes_back(c: &Client) {
    let s = shop(c);
    let id = s.create_from_fixture();
    // orders/create never overwrites an order that exists.
    let again = with_updated_at(
        &fixture("orders-create"),
        "2026-11-24T13:00:00-05:00",
        Some("Other"),
    );
    assert_outcome(
        &s.send("orders/create", &again, &unique("wid")),
        "unchanged",
    );
    assert_eq!(
        s.tenant.get_order(&id)["cardMessage"],
        "Happy birthday, Mum! ❤️"
    );
    // Deleted by Shopify, then a later update (new webhook id): it stays gone.
    assert_outcome(
        &s.send("orders/delete", br#"{"id": 5678901234567}"#, &unique("wid")),
        "deleted",
    );
    for topic in ["orders/updated", "orders/cancelled", "orders/create"] {
        let body = if topic == "orders/cancelled" {
            fixture("orders-cancelled")
        } else {
            fixture("orders-updated")
        };
        assert_outcome(&s.send(topic, &body, &unique("wid")), "deleted_earlier");
    }
    assert!(s.orders().is_empty(), "not resurrected");
    // Deleted by a manager: the same.
    let s2 = shop(c);
    let id2 = s2.create_from_fixture();
    assert_eq!(s2.tenant.delete(&id2).status, 204);
    assert_outcome(
        &s2.send("orders/updated", &fixture("orders-updated"), &unique("wid")),
        "deleted_earlier",
    );
    assert!(s2.orders().is_empty());
    // A deletion that arrives before its order.
    let s3 = shop(c);
    assert_outcome(
        &s3.send("orders/delete", br#"{"id": 5678901234567}"#, &unique("wid")),
        "unchanged",
    );
    assert_outcome(
        &s3.send("orders/create", &fixture("orders-create"), &unique("wid")),
        "deleted_earlier",
    );
    assert!(s3.orders().is_empty());
}

fn a_same_instant_update_needs_a_later_trigger_time(c: &Client) {
    let s = shop(c);
    let create = fixture("orders-create");
    let at = "2026-11-24T10:00:00-05:00";
    let first = with_updated_at(&create, at, None);
    let r = s.send_with(
        "orders/create",
        &first,
        &unique("wid"),
        &[("X-Shopify-Triggered-At", "2026-11-24T15:00:00.100Z")],
    );
    assert_outcome(&r, "created");
    let tie = with_updated_at(&create, at, Some("Tie, no trigger time"));
    assert_outcome(&s.send("orders/updated", &tie, &unique("wid")), "stale");
    let earlier = with_updated_at(&create, at, Some("Tie, triggered earlier"));
    let r = s.send_with(
        "orders/updated",
        &earlier,
        &unique("wid"),
        &[("X-Shopify-Triggered-At", "2026-11-24T15:00:00.050Z")],
    );
    assert_outcome(&r, "stale");
    let later = with_updated_at(&create, at, Some("Tie, triggered later"));
    let r = s.send_with(
        "orders/updated",
        &later,
        &unique("wid"),
        &[("X-Shopify-Triggered-At", "2026-11-24T15:00:00.200Z")],
    );
    assert_outcome(&r, "updated");
    assert_eq!(s.orders()[0]["cardMessage"], "Tie, triggered later");
}

fn deliveries_for_an_unknown_shop_are_parked_and_replayed_when_it_connects(c: &Client) {
    let domain = format!("{}.myshopify.com", unique("onboarding"));
    let create = fixture("orders-create");
    let sig = Some(sign(c.webhook_secret.as_bytes(), &create));
    let wid = unique("wid");
    assert_outcome(
        &deliver(c, &domain, "orders/create", &create, &wid, sig.clone()),
        "parked",
    );
    // Shopify's retry of the same delivery is kept once.
    assert_outcome(
        &deliver(c, &domain, "orders/create", &create, &wid, sig),
        "parked",
    );
    let updated = fixture("orders-updated");
    let sig = Some(sign(c.webhook_secret.as_bytes(), &updated));
    assert_outcome(
        &deliver(c, &domain, "orders/updated", &updated, &unique("wid"), sig),
        "parked",
    );
    // The shop is connected: both arrive, in order, once.
    let id = unique("onboarded");
    let r = c.admin(
        "POST",
        "/api/admin/tenants",
        json!({"id": id, "name": "Onboarded", "shopifyDomain": domain}),
    );
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["replayedWebhooks"], 2);
    let token = c.admin(
        "POST",
        &format!("/api/admin/tenants/{id}/tokens"),
        json!({"userId": "f", "role": "florist"}),
    );
    let token = token.json()["token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let orders = c
        .call(
            "GET",
            &format!("/api/tenants/{id}/orders"),
            Some(&token),
            None,
        )
        .json();
    let orders = orders["orders"].as_array().cloned().unwrap_or_default();
    assert_eq!(orders.len(), 1);
    assert_eq!(
        orders[0]["cardMessage"], "Happy birthday, Mum! Love always, Emma ❤️",
        "the update applied after the create"
    );
    assert_eq!(orders[0]["version"], 2);
}

fn a_body_signed_for_one_topic_is_refused_under_another(c: &Client) {
    let s = shop(c);
    s.create_from_fixture();
    // A full order body (correctly signed) replayed as a deletion.
    let r = s.send("orders/delete", &fixture("orders-create"), &unique("wid"));
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (400, "invalid_payload")
    );
    // An order that is not cancelled, replayed as a cancellation.
    let not_cancelled = with_updated_at(&fixture("orders-create"), "2026-11-25T10:00:00Z", None);
    let r = s.send("orders/cancelled", &not_cancelled, &unique("wid"));
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (400, "invalid_payload")
    );
    assert_eq!(s.orders().len(), 1);
    assert_eq!(s.orders()[0]["status"], "new");
}

fn deliveries_are_deduplicated_by_shop_and_event_id(c: &Client) {
    let s = shop(c);
    let event = unique("evt");
    let r = s.send_with(
        "orders/create",
        &fixture("orders-create"),
        &unique("wid"),
        &[("X-Shopify-Event-Id", &event)],
    );
    assert_outcome(&r, "created");
    // The same event redelivered under a new webhook id.
    let r = s.send_with(
        "orders/updated",
        &fixture("orders-updated"),
        &unique("wid"),
        &[("X-Shopify-Event-Id", &event)],
    );
    assert_outcome(&r, "duplicate");
    // The same webhook id from another shop is another delivery.
    let other = shop(c);
    let wid = unique("wid");
    assert_outcome(
        &s.send("orders/updated", &fixture("orders-updated"), &wid),
        "updated",
    );
    assert_outcome(
        &other.send("orders/create", &fixture("orders-create"), &wid),
        "created",
    );
}

fn only_managers_cancel_and_shopify_never_cancels_a_delivered_order(c: &Client) {
    let s = shop(c);
    let id = s.create_from_fixture();
    let t = &s.tenant;
    let r = t.put(&id, &t.florist, json!({"status": "cancelled"}));
    assert_eq!((r.status, r.error_code().as_str()), (403, "forbidden"));
    for status in ["in_progress", "ready", "delivered"] {
        assert_eq!(
            t.put(&id, &t.florist, json!({"status": status})).status,
            200
        );
    }
    let activity = |t: &Tenant| {
        c.call(
            "GET",
            &t.path(&format!("/orders/{id}/activity")),
            Some(&t.florist),
            None,
        )
        .json()
    };
    // A cancellation (the refunded items change too): the items apply, the cancel does not.
    let late = with_updated_at(&fixture("orders-cancelled"), "2026-11-25T09:00:00Z", None);
    assert_outcome(
        &s.send("orders/cancelled", &late, &unique("wid")),
        "updated",
    );
    assert_eq!(t.get_order(&id)["status"], "delivered");
    let log = activity(t);
    assert_eq!(log["entries"][0]["action"], "cancel_refused");
    assert_eq!(log["entries"][0]["source"], "shopify");
    assert_eq!(log["entries"][0]["eventId"], Value::Null);
    assert_eq!(log["entries"][1]["action"], "updated");
    assert!(log["entries"][1]["changes"].get("status").is_none());
    // Only the cancellation new: nothing others see changes, no event, and it is logged.
    let head = s.head();
    let again = with_updated_at(&late, "2026-11-25T10:00:00Z", None);
    assert_outcome(
        &s.send("orders/cancelled", &again, &unique("wid")),
        "cancel_refused",
    );
    assert_eq!(s.head(), head, "no event");
    assert_eq!(t.get_order(&id)["status"], "delivered");
    let log = activity(t);
    assert_eq!(log["entries"][0]["action"], "cancel_refused");
    assert_eq!(log["entries"][1]["action"], "cancel_refused");
    // A manager may cancel (here: a new order).
    let other = s2_order(&s);
    assert_eq!(
        t.put(&other, &t.manager, json!({"status": "cancelled"}))
            .status,
        200
    );
}

fn s2_order(s: &Shop) -> String {
    s.tenant.create_order("Walk-in")["id"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}
