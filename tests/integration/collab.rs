//! Issue 9: collaboration without conflicts — writes that never fail for contention, the
//! field-level merge with `If-Match`, edit locks, the note thread and the activity log.

use std::collections::HashSet;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{ids, secs, Client, Resp, Resume, Tenant};

pub const TESTS: &[crate::Test] = &[
    (
        "fifty_concurrent_puts_without_if_match_all_land_in_order",
        fifty_concurrent_puts_without_if_match_all_land_in_order,
    ),
    (
        "an_edit_merges_when_only_other_fields_changed_meanwhile",
        an_edit_merges_when_only_other_fields_changed_meanwhile,
    ),
    (
        "a_conflicting_edit_is_412_with_yours_and_theirs_and_writes_nothing",
        a_conflicting_edit_is_412_with_yours_and_theirs_and_writes_nothing,
    ),
    (
        "if_match_star_unknown_versions_and_transitions",
        if_match_star_unknown_versions_and_transitions,
    ),
    (
        "the_lock_matrix_holder_other_florist_and_manager",
        the_lock_matrix_holder_other_florist_and_manager,
    ),
    (
        "lock_and_unlock_events_are_in_the_stream_with_their_reasons",
        lock_and_unlock_events_are_in_the_stream_with_their_reasons,
    ),
    (
        "an_expired_lease_reads_as_null_and_is_unlocked_before_the_next_event",
        an_expired_lease_reads_as_null_and_is_unlocked_before_the_next_event,
    ),
    (
        "a_put_after_a_lease_ran_out_unlocks_it_first_whether_or_not_it_applies",
        a_put_after_a_lease_ran_out_unlocks_it_first_whether_or_not_it_applies,
    ),
    (
        "a_lease_that_runs_out_is_announced_within_a_heartbeat",
        a_lease_that_runs_out_is_announced_within_a_heartbeat,
    ),
    (
        "two_notes_added_at_once_both_land_byte_for_byte",
        two_notes_added_at_once_both_land_byte_for_byte,
    ),
    (
        "activity_records_each_action_pages_and_outlives_the_order",
        activity_records_each_action_pages_and_outlives_the_order,
    ),
    (
        "the_shop_wide_activity_is_for_managers_and_filters",
        the_shop_wide_activity_is_for_managers_and_filters,
    ),
    (
        "old_activity_is_pruned_and_the_cron_runs",
        old_activity_is_pruned_and_the_cron_runs,
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

fn text(r: &Resp) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

/// `PUT /orders/{id}` with an `If-Match` header.
fn put_if(t: &Tenant, id: &str, token: &str, if_match: &str, body: Value) -> Resp {
    t.client
        .request(
            "PUT",
            &t.path(&format!("/orders/{id}")),
            Some(token),
            &[("If-Match", if_match)],
            Some(("application/json", body.to_string().as_bytes())),
        )
        .unwrap_or_else(|e| panic!("PUT: {e}"))
}

fn lock(t: &Tenant, id: &str, token: &str, body: Option<Value>) -> Resp {
    t.client.call(
        "POST",
        &t.path(&format!("/orders/{id}/lock")),
        Some(token),
        body,
    )
}

fn unlock(t: &Tenant, id: &str, token: &str) -> Resp {
    t.client.call(
        "DELETE",
        &t.path(&format!("/orders/{id}/lock")),
        Some(token),
        None,
    )
}

fn add_note(t: &Tenant, id: &str, token: &str, note: &str) -> Resp {
    t.client.call(
        "POST",
        &t.path(&format!("/orders/{id}/notes")),
        Some(token),
        Some(json!({ "text": note })),
    )
}

fn activity(t: &Tenant, id: &str, query: &str) -> Resp {
    t.client.call(
        "GET",
        &t.path(&format!("/orders/{id}/activity{query}")),
        Some(&t.florist),
        None,
    )
}

fn actions(page: &Value) -> Vec<String> {
    page["entries"]
        .as_array()
        .map(|es| {
            es.iter()
                .map(|e| e["action"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn fifty_concurrent_puts_without_if_match_all_land_in_order(c: &Client) {
    let t = c.tenant("fifty");
    let order = t.create_order("Ada");
    let id = id_of(&order);
    let start_version = order["version"].as_i64().unwrap_or(0);
    let start = head(&t);
    let sub = t.subscribe(Resume::Live);
    thread::sleep(Duration::from_millis(300));
    let writers: Vec<_> = (0..50)
        .map(|i| {
            let (client, path, token) = (
                t.client.clone(),
                t.path(&format!("/orders/{id}")),
                if i % 2 == 0 {
                    t.florist.clone()
                } else {
                    t.florist2.clone()
                },
            );
            thread::spawn(move || {
                client.call(
                    "PUT",
                    &path,
                    Some(&token),
                    Some(json!({ "notes": format!("writer {i}") })),
                )
            })
        })
        .collect();
    let mut event_ids = HashSet::new();
    for w in writers {
        let r = w.join().expect("writer thread");
        assert_eq!(r.status, 200, "no write fails for contention: {}", text(&r));
        assert!(event_ids.insert(r.json()["event"]["id"].as_str().map(str::to_string)));
    }
    assert_eq!(event_ids.len(), 50, "each response names its own event");
    assert_eq!(
        t.get_order(&id)["version"].as_i64(),
        Some(start_version + 50)
    );
    let got = sub.events(50, secs(20));
    assert_eq!(ids(&got), (start + 1..=start + 50).collect::<Vec<_>>());
    assert!(got.iter().all(|(_, kind, _)| kind == "order_updated"));
    // Each event's order is the state its own write left: versions climb one by one.
    let versions: Vec<i64> = got
        .iter()
        .map(|(_, _, e)| e["order"]["version"].as_i64().unwrap_or(0))
        .collect();
    assert_eq!(
        versions,
        (start_version + 1..=start_version + 50).collect::<Vec<_>>()
    );
    assert!(got.iter().all(|(_, _, e)| e["changes"] == json!(["notes"])));
}

fn an_edit_merges_when_only_other_fields_changed_meanwhile(c: &Client) {
    let t = c.tenant("merge");
    let id = id_of(&t.create_order("Ada"));
    // B opens the notes at version 1; meanwhile A takes the order and starts it.
    let started = t.get_order(&id)["version"].as_i64().unwrap_or(0);
    let a = t.put(
        &id,
        &t.florist,
        json!({"assignedTo": "florist-123", "status": "in_progress"}),
    );
    assert_eq!(a.status, 200);
    let r = put_if(
        &t,
        &id,
        &t.florist2,
        &format!("\"{started}\""),
        json!({"notes": "Customer requested pink roses"}),
    );
    assert_eq!(r.status, 200, "{}", text(&r));
    let body = r.json();
    assert_eq!(body["merged"], true);
    assert_eq!(body["order"]["notes"], "Customer requested pink roses");
    assert_eq!(body["order"]["status"], "in_progress", "A's change kept");
    assert_eq!(body["order"]["assignedTo"], "florist-123");
    assert_eq!(body["event"]["changes"], json!(["notes"]));
    assert_eq!(r.header("etag"), Some("\"3\""));
    // An edit that started from the current version is not a merge.
    let r = put_if(
        &t,
        &id,
        &t.florist2,
        "\"3\"",
        json!({"notes": "and a card"}),
    );
    assert_eq!((r.status, r.json()["merged"].clone()), (200, json!(false)));
}

fn a_conflicting_edit_is_412_with_yours_and_theirs_and_writes_nothing(c: &Client) {
    let t = c.tenant("conflict");
    let id = id_of(&t.create_order("Ada"));
    // B starts editing the notes at version 1; A adds her note first.
    let a = t.put(
        &id,
        &t.florist,
        json!({"notes": "Customer requested pink roses"}),
    );
    assert_eq!(a.status, 200);
    let cursor = head(&t);
    for tag in ["\"1\"", "W/\"1\""] {
        let r = put_if(
            &t,
            &id,
            &t.florist2,
            tag,
            json!({"notes": "Deliver after 5pm"}),
        );
        assert_eq!(r.status, 412, "{tag}: {}", text(&r));
        let body = r.json();
        assert_eq!(body["error"]["code"], "edit_conflict");
        assert_eq!(body["order"]["notes"], "Customer requested pink roses");
        assert_eq!(body["order"]["version"], 2);
        let conflict = &body["conflicts"][0];
        assert_eq!(conflict["field"], "notes");
        assert_eq!(conflict["yours"], "Deliver after 5pm");
        assert_eq!(conflict["theirs"], "Customer requested pink roses");
        assert_eq!(conflict["changedBy"], "florist-123");
        assert_eq!(conflict["version"], 2);
        assert!(conflict["changedAt"].as_str().is_some());
        assert_eq!(body["conflicts"].as_array().map(Vec::len), Some(1));
    }
    let got = t.get_order(&id);
    assert_eq!(got["notes"], "Customer requested pink roses");
    assert_eq!(got["version"], 2);
    assert_eq!(head(&t), cursor, "no event was logged");
    // Setting the field to the value it already has is not a conflict (and changes nothing).
    let r = put_if(
        &t,
        &id,
        &t.florist2,
        "\"1\"",
        json!({"notes": "Customer requested pink roses"}),
    );
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(r.json()["event"], Value::Null);
    // A conflict on one field refuses the whole edit, also its other fields.
    let r = put_if(
        &t,
        &id,
        &t.florist2,
        "\"1\"",
        json!({"notes": "mine", "assignedTo": "florist-456"}),
    );
    assert_eq!(r.status, 412);
    assert_eq!(t.get_order(&id)["assignedTo"], Value::Null);
}

fn if_match_star_unknown_versions_and_transitions(c: &Client) {
    let t = c.tenant("ifmatch");
    let id = id_of(&t.create_order("Ada"));
    let r = put_if(&t, &id, &t.florist, "*", json!({"status": "in_progress"}));
    assert_eq!(r.status, 200);
    let r = put_if(&t, "no-such-order", &t.florist, "*", json!({"notes": "x"}));
    assert_eq!(r.status, 404);
    for bad in ["2", "\"banana\"", "\"2\", \"3\"", "\"0\""] {
        let r = put_if(&t, &id, &t.florist, bad, json!({"notes": "x"}));
        assert_eq!(
            (r.status, r.error_code()),
            (400, "invalid_if_match".into()),
            "{bad}"
        );
    }
    let r = put_if(&t, &id, &t.florist, "\"9\"", json!({"notes": "x"}));
    assert_eq!((r.status, r.error_code()), (412, "version_mismatch".into()));
    assert_eq!(r.json()["order"]["version"], 2);
    // A status edit that started before someone else's status change is a conflict…
    let r = put_if(&t, &id, &t.manager, "\"1\"", json!({"status": "cancelled"}));
    assert_eq!((r.status, r.error_code()), (412, "edit_conflict".into()));
    assert_eq!(r.json()["conflicts"][0]["theirs"], "in_progress");
    // …and transitions are checked against the current status.
    let r = put_if(&t, &id, &t.florist, "\"2\"", json!({"status": "delivered"}));
    assert_eq!(
        (r.status, r.error_code()),
        (422, "invalid_transition".into())
    );
    let r = put_if(&t, &id, &t.florist, "\"2\"", json!({"status": "ready"}));
    assert_eq!(r.status, 200, "in_progress → ready is allowed now");
    assert_eq!(t.get_order(&id)["version"], 3);
}

fn the_lock_matrix_holder_other_florist_and_manager(c: &Client) {
    let t = c.tenant("locks");
    let id = id_of(&t.create_order("Ada"));
    assert_eq!(t.get_order(&id)["lock"], Value::Null);

    let r = lock(&t, &id, &t.florist, Some(json!({"ttlSeconds": 60})));
    assert_eq!(r.status, 200, "{}", text(&r));
    let held = r.json();
    assert_eq!(held["orderId"], id.as_str());
    assert_eq!(held["holder"], "florist-123");
    assert_eq!(held["lockVersion"], 1);
    assert!(held["acquiredAt"].as_str().is_some() && held["expiresAt"].as_str().is_some());
    let on_order = t.get_order(&id)["lock"].clone();
    assert_eq!(on_order["holder"], "florist-123");
    assert_eq!(on_order["lockVersion"], 1);
    assert_eq!(on_order["expiresAt"], held["expiresAt"]);

    // The holder renews (no body needed): same lease, same fencing token.
    let r = lock(&t, &id, &t.florist, None);
    assert_eq!((r.status, r.json()["lockVersion"].clone()), (200, json!(1)));

    // Anyone else: 423 with the lock, nothing written.
    let before = head(&t);
    let r = lock(&t, &id, &t.florist2, None);
    assert_eq!((r.status, r.error_code()), (423, "locked".into()));
    assert_eq!(r.json()["lock"]["holder"], "florist-123");
    let r = t.put(&id, &t.florist2, json!({"notes": "mine"}));
    assert_eq!(
        (r.status, r.json()["lock"]["holder"].clone()),
        (423, json!("florist-123"))
    );
    let r = add_note(&t, &id, &t.florist2, "a note");
    assert_eq!(r.status, 423);
    let r = t.delete(&id);
    assert_eq!(r.status, 423, "even a manager's delete waits for the lease");
    assert_eq!(unlock(&t, &id, &t.florist2).status, 403);
    let r = lock(&t, &id, &t.florist2, Some(json!({"force": true})));
    assert_eq!(r.status, 403, "only managers force");
    assert_eq!(head(&t), before, "refused writes log nothing");
    assert_eq!(t.get_order(&id)["notes"], "");

    // The holder's writes pass.
    let r = t.put(&id, &t.florist, json!({"notes": "holder's note"}));
    assert_eq!(r.status, 200);
    assert_eq!(add_note(&t, &id, &t.florist, "thread note").status, 201);

    // A manager takes it over: a new fencing token, and now the florist is locked out.
    let r = lock(
        &t,
        &id,
        &t.manager,
        Some(json!({"force": true, "ttlSeconds": 120})),
    );
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(r.json()["holder"], "manager-1");
    assert_eq!(r.json()["lockVersion"], 2);
    assert_eq!(t.put(&id, &t.florist, json!({"notes": "x"})).status, 423);
    // …and cannot take it back.
    assert_eq!(lock(&t, &id, &t.florist, None).status, 423);

    assert_eq!(unlock(&t, &id, &t.manager).status, 204);
    let r = unlock(&t, &id, &t.manager);
    assert_eq!((r.status, r.error_code()), (404, "not_locked".into()));
    assert_eq!(t.get_order(&id)["lock"], Value::Null);
    assert_eq!(
        t.put(&id, &t.florist2, json!({"notes": "free again"}))
            .status,
        200
    );

    // Bad input and unknown orders.
    for bad in [
        json!({"ttlSeconds": 9}),
        json!({"ttlSeconds": 301}),
        json!({"force": 1}),
    ] {
        let r = lock(&t, &id, &t.florist, Some(bad.clone()));
        assert_eq!(r.status, 400, "{bad}");
    }
    assert_eq!(lock(&t, "nope", &t.florist, None).status, 404);
    assert_eq!(unlock(&t, "nope", &t.florist).status, 404);
    let other = c.tenant("locks-other");
    assert_eq!(lock(&other, &id, &other.florist, None).status, 404);
}

fn lock_and_unlock_events_are_in_the_stream_with_their_reasons(c: &Client) {
    let t = c.tenant("lockev");
    let id = id_of(&t.create_order("Ada"));
    let start = head(&t);
    let sub = t.subscribe(Resume::Live);
    thread::sleep(Duration::from_millis(300));
    assert_eq!(lock(&t, &id, &t.florist, None).status, 200);
    assert_eq!(lock(&t, &id, &t.florist, None).status, 200); // renewal: no event
    assert_eq!(
        lock(&t, &id, &t.manager, Some(json!({"force": true}))).status,
        200
    );
    assert_eq!(unlock(&t, &id, &t.manager).status, 204);
    assert_eq!(lock(&t, &id, &t.florist2, None).status, 200);
    assert_eq!(unlock(&t, &id, &t.manager).status, 204);
    let got = sub.events(5, secs(10));
    assert_eq!(ids(&got), (start + 1..=start + 5).collect::<Vec<_>>());
    let kinds: Vec<&str> = got.iter().map(|(_, k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "order_locked",
            "order_locked",
            "order_unlocked",
            "order_locked",
            "order_unlocked"
        ]
    );
    let (a, taken, released, b, broken) = (&got[0].2, &got[1].2, &got[2].2, &got[3].2, &got[4].2);
    assert_eq!(a["lock"]["holder"], "florist-123");
    assert_eq!(a["order"]["lock"]["holder"], "florist-123");
    assert_eq!(a["previousHolder"], Value::Null);
    assert_eq!(taken["lock"]["holder"], "manager-1");
    assert_eq!(taken["previousHolder"], "florist-123");
    assert!(taken["lock"]["lockVersion"].as_i64() > a["lock"]["lockVersion"].as_i64());
    assert_eq!(released["reason"], "released");
    assert_eq!(released["order"]["lock"], Value::Null);
    assert_eq!(b["lock"]["holder"], "florist-456");
    assert_eq!(broken["reason"], "broken");
    assert_eq!(broken["previousHolder"], "florist-456");
    sub.assert_quiet(Duration::from_millis(300));
}

fn an_expired_lease_reads_as_null_and_is_unlocked_before_the_next_event(c: &Client) {
    let t = c.tenant("expiry");
    let id = id_of(&t.create_order("Ada"));
    let start = head(&t);
    let r = lock(&t, &id, &t.florist, Some(json!({"ttlSeconds": 10})));
    assert_eq!(r.status, 200);
    // Nobody is subscribed, so no sweep runs; the lease still reads as gone once it is past.
    thread::sleep(Duration::from_millis(10_300));
    assert_eq!(t.get_order(&id)["lock"], Value::Null);
    let r = t.put(&id, &t.florist2, json!({"notes": "after the lease"}));
    assert_eq!(r.status, 200, "{}", text(&r));
    let sub = t.subscribe(Resume::Header(start.to_string()));
    let got = sub.events(3, secs(10));
    let kinds: Vec<&str> = got.iter().map(|(_, k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["order_locked", "order_unlocked", "order_updated"]);
    assert_eq!(got[1].2["reason"], "expired");
    assert_eq!(got[1].2["previousHolder"], "florist-123");
    assert_eq!(ids(&got), (start + 1..=start + 3).collect::<Vec<_>>());
}

fn a_put_after_a_lease_ran_out_unlocks_it_first_whether_or_not_it_applies(c: &Client) {
    let t = c.tenant("expiry-put");
    let refused = id_of(&t.create_order("Ada"));
    let applied = id_of(&t.create_order("Bea"));
    let r = t.put(&refused, &t.florist, json!({"notes": "theirs"}));
    assert_eq!(r.status, 200, "{}", text(&r));
    for id in [&refused, &applied] {
        let r = lock(&t, id, &t.florist, Some(json!({"ttlSeconds": 10})));
        assert_eq!(r.status, 200, "{}", text(&r));
    }
    let before = t.get_order(&applied);
    let start = head(&t);
    thread::sleep(Duration::from_millis(10_300));

    // Refused (new → delivered is no transition): the lease is swept all the same, and nothing
    // else is written.
    let r = t.put(&refused, &t.florist2, json!({"status": "delivered"}));
    assert_eq!(r.status, 422, "{}", text(&r));
    assert_eq!(r.json()["error"]["code"], "invalid_transition");
    // Refused again (an edit from version 1 conflicts on notes): nothing is left to sweep.
    let r = put_if(&t, &refused, &t.florist2, "\"1\"", json!({"notes": "mine"}));
    assert_eq!(r.status, 412, "{}", text(&r));
    let body = r.json();
    assert_eq!(body["error"]["code"], "edit_conflict");
    assert_eq!(body["order"]["version"], 2);
    assert_eq!(body["order"]["lock"], Value::Null);
    assert_eq!(body["conflicts"][0]["field"], "notes");
    assert_eq!(body["conflicts"][0]["yours"], "mine");
    assert_eq!(body["conflicts"][0]["theirs"], "theirs");
    assert_eq!(body["conflicts"][0]["changedBy"], "florist-123");

    // Applied: the lease's end comes first, then the update.
    let r = put_if(
        &t,
        &applied,
        &t.florist2,
        "\"1\"",
        json!({"notes": "after the lease"}),
    );
    assert_eq!(r.status, 200, "{}", text(&r));
    let body = r.json();
    assert_eq!(body["merged"], false);
    assert_eq!(body["order"]["version"], 2);
    assert_eq!(body["order"]["notes"], "after the lease");
    assert_eq!(body["order"]["lock"], Value::Null);
    assert_eq!(body["order"], t.get_order(&applied));
    assert_eq!(head(&t), start + 3);

    let sub = t.subscribe(Resume::Header(start.to_string()));
    let got = sub.events(3, secs(10));
    sub.assert_quiet(Duration::from_millis(300));
    assert_eq!(ids(&got), (start + 1..=start + 3).collect::<Vec<_>>());
    let seen: Vec<(&str, &str)> = got
        .iter()
        .map(|(_, k, e)| (k.as_str(), e["orderId"].as_str().unwrap_or_default()))
        .collect();
    assert_eq!(
        seen,
        [
            ("order_unlocked", refused.as_str()),
            ("order_unlocked", applied.as_str()),
            ("order_updated", applied.as_str()),
        ]
    );
    for (_, _, unlocked) in &got[..2] {
        assert_eq!(unlocked["reason"], "expired");
        assert_eq!(unlocked["previousHolder"], "florist-123");
        assert_eq!(unlocked["updatedBy"], "system");
        assert_eq!(unlocked["order"]["lock"], Value::Null);
    }
    // The unlock carries the order as it was, the update the order it left.
    let mut unlocked_order = before.clone();
    unlocked_order["lock"] = Value::Null;
    assert_eq!(got[1].2["order"], unlocked_order);
    assert_eq!(got[2].2, body["event"]);
    assert_eq!(got[2].2["changes"], json!(["notes"]));
    assert_eq!(got[2].2["updatedBy"], "florist-456");
    assert_eq!(got[2].2["order"], body["order"]);
    assert_eq!(t.get_order(&refused)["version"], 2);

    let page = activity(&t, &refused, "").json();
    assert_eq!(
        actions(&page),
        ["lock_expired", "locked", "updated", "created"]
    );
    let page = activity(&t, &applied, "").json();
    assert_eq!(
        actions(&page),
        ["updated", "lock_expired", "locked", "created"]
    );
    let entries = page["entries"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        entries[0]["changes"],
        json!({"notes": {"from": before["notes"], "to": "after the lease"}})
    );
    assert_eq!(entries[0]["actor"], "florist-456");
    assert_eq!(entries[0]["eventId"], (start + 3).to_string());
    assert_eq!(
        entries[1]["changes"],
        json!({"lock": {"from": "florist-123", "to": null}})
    );
    assert_eq!(entries[1]["actor"], "system");
    assert_eq!(entries[1]["eventId"], (start + 2).to_string());
}

fn a_lease_that_runs_out_is_announced_within_a_heartbeat(c: &Client) {
    let t = c.tenant("sweep");
    let id = id_of(&t.create_order("Ada"));
    let sub = t.subscribe(Resume::Live);
    thread::sleep(Duration::from_millis(300));
    let r = lock(&t, &id, &t.florist, Some(json!({"ttlSeconds": 10})));
    assert_eq!(r.status, 200);
    let expires = Instant::now() + Duration::from_secs(10);
    let (_, kind, _) = sub.next_event(secs(5)).expect("order_locked");
    assert_eq!(kind, "order_locked");
    let (_, kind, data) = sub.next_event(secs(20)).expect("order_unlocked");
    let late = Instant::now().saturating_duration_since(expires);
    assert_eq!(
        (kind.as_str(), data["reason"].as_str()),
        ("order_unlocked", Some("expired"))
    );
    // The test server beats every second; allow the alarm's own scheduling slack.
    assert!(late < secs(4), "announced {late:?} after expiry");
    assert_eq!(
        lock(&t, &id, &t.florist2, None).status,
        200,
        "free for others"
    );
}

fn two_notes_added_at_once_both_land_byte_for_byte(c: &Client) {
    let t = c.tenant("notes");
    let id = id_of(&t.create_order("Ada"));
    let start = head(&t);
    let sub = t.subscribe(Resume::Live);
    thread::sleep(Duration::from_millis(300));
    let texts = [
        "Customer requested pink roses 🌹",
        "  Deliver after 5pm\n\"ring twice\" <b>&amp;</b>  ",
    ];
    let writers: Vec<_> = texts
        .iter()
        .enumerate()
        .map(|(i, note)| {
            let (client, path, token) = (
                t.client.clone(),
                t.path(&format!("/orders/{id}/notes")),
                if i == 0 {
                    t.florist.clone()
                } else {
                    t.florist2.clone()
                },
            );
            let note = note.to_string();
            thread::spawn(move || {
                client.call("POST", &path, Some(&token), Some(json!({ "text": note })))
            })
        })
        .collect();
    for w in writers {
        let r = w.join().expect("writer");
        assert_eq!(r.status, 201, "{}", text(&r));
        let note = r.json();
        assert_eq!(note["orderId"], id.as_str());
        assert!(note["id"].as_str().is_some() && note["createdAt"].as_str().is_some());
    }
    let r = t.client.call(
        "GET",
        &t.path(&format!("/orders/{id}/notes")),
        Some(&t.manager),
        None,
    );
    assert_eq!(r.status, 200);
    let notes = r.json()["notes"].as_array().cloned().unwrap_or_default();
    assert_eq!(notes.len(), 2);
    let mut got: Vec<&str> = notes.iter().filter_map(|n| n["text"].as_str()).collect();
    got.sort();
    let mut want = texts.to_vec();
    want.sort();
    assert_eq!(got, want, "byte-exact round trip");
    let events = sub.events(2, secs(10));
    assert_eq!(ids(&events), vec![start + 1, start + 2]);
    for (_, kind, e) in &events {
        assert_eq!(kind, "note_added");
        assert!(texts.contains(&e["note"]["text"].as_str().unwrap_or_default()));
    }
    // Oldest first: the thread's order is the events' order.
    assert_eq!(notes[0]["text"], events[0].2["note"]["text"]);

    for bad in [
        json!({"text": ""}),
        json!({"text": "  "}),
        json!({"text": "x".repeat(2001)}),
        json!({}),
    ] {
        let r = t.client.call(
            "POST",
            &t.path(&format!("/orders/{id}/notes")),
            Some(&t.florist),
            Some(bad),
        );
        assert_eq!(r.status, 400);
    }
    assert_eq!(
        add_note(&t, &id, &t.florist, &"🌷".repeat(2000)).status,
        201
    );
    assert_eq!(add_note(&t, "nope", &t.florist, "x").status, 404);
    // Deleting the order deletes its thread.
    assert_eq!(t.delete(&id).status, 204);
    let r = t.client.call(
        "GET",
        &t.path(&format!("/orders/{id}/notes")),
        Some(&t.florist),
        None,
    );
    assert_eq!(r.status, 404);
}

fn activity_records_each_action_pages_and_outlives_the_order(c: &Client) {
    let t = c.tenant("activity");
    let id = id_of(&t.create_order("Ada"));
    assert_eq!(
        t.put(
            &id,
            &t.florist,
            json!({"status": "in_progress", "assignedTo": "florist-123"})
        )
        .status,
        200
    );
    assert_eq!(lock(&t, &id, &t.florist, None).status, 200);
    assert_eq!(add_note(&t, &id, &t.florist, "pink roses").status, 201);
    assert_eq!(unlock(&t, &id, &t.florist).status, 204);
    assert_eq!(lock(&t, &id, &t.florist2, None).status, 200);
    assert_eq!(
        lock(&t, &id, &t.manager, Some(json!({"force": true}))).status,
        200
    );
    assert_eq!(unlock(&t, &id, &t.manager).status, 204);
    assert_eq!(lock(&t, &id, &t.florist2, None).status, 200);
    assert_eq!(unlock(&t, &id, &t.manager).status, 204);
    assert_eq!(t.delete(&id).status, 204);

    let r = activity(&t, &id, "");
    assert_eq!(
        r.status,
        200,
        "still answers after the delete: {}",
        text(&r)
    );
    let page = r.json();
    assert_eq!(
        actions(&page),
        [
            "deleted",
            "lock_broken",
            "locked",
            "unlocked",
            "lock_taken_over",
            "locked",
            "unlocked",
            "note_added",
            "locked",
            "updated",
            "created"
        ]
    );
    assert_eq!(page["nextBefore"], Value::Null);
    let entries = page["entries"].as_array().cloned().unwrap_or_default();
    let updated = &entries[9];
    assert_eq!(updated["actor"], "florist-123");
    assert_eq!(updated["source"], "board");
    assert_eq!(updated["orderId"], id.as_str());
    assert_eq!(
        updated["changes"]["status"],
        json!({"from": "new", "to": "in_progress"})
    );
    assert_eq!(
        updated["changes"]["assignedTo"],
        json!({"from": null, "to": "florist-123"})
    );
    assert_eq!(
        entries[4]["changes"]["lock"],
        json!({"from": "florist-456", "to": "manager-1"})
    );
    assert_eq!(entries[7]["changes"]["note"]["to"], "pink roses");
    // seqs are the events' seqs: newest first, strictly falling.
    let seqs: Vec<u64> = entries
        .iter()
        .filter_map(|e| e["seq"].as_str().and_then(|s| s.parse().ok()))
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]) && seqs.len() == 11);

    // Paging: 4 + 4 + 3, following nextBefore.
    let mut seen = Vec::new();
    let mut query = "?limit=4".to_string();
    loop {
        let page = activity(&t, &id, &query).json();
        seen.extend(actions(&page));
        match page["nextBefore"].as_str() {
            Some(b) => query = format!("?limit=4&before={b}"),
            None => break,
        }
    }
    assert_eq!(seen, actions(&activity(&t, &id, "").json()));
    assert_eq!(activity(&t, &id, "?limit=0").status, 400);
    assert_eq!(activity(&t, &id, "?limit=101").status, 400);
    assert_eq!(activity(&t, &id, "?before=abc").status, 400);
    // Another shop sees no such order, and an order that never existed is 404 too.
    let other = c.tenant("activity-other");
    assert_eq!(activity(&other, &id, "").status, 404);
    assert_eq!(activity(&t, "never-existed", "").status, 404);
}

fn the_shop_wide_activity_is_for_managers_and_filters(c: &Client) {
    let t = c.tenant("shopact");
    let a = id_of(&t.create_order("Ada"));
    let b = id_of(&t.create_order("Bea"));
    assert_eq!(t.put(&a, &t.florist2, json!({"notes": "x"})).status, 200);
    assert_eq!(t.put(&b, &t.florist2, json!({"notes": "y"})).status, 200);
    let get = |query: &str, token: &str| {
        t.client.call(
            "GET",
            &t.path(&format!("/activity{query}")),
            Some(token),
            None,
        )
    };
    assert_eq!(get("", &t.florist).status, 403);
    let all = get("", &t.manager);
    assert_eq!(all.status, 200);
    assert_eq!(
        actions(&all.json()),
        ["updated", "updated", "created", "created"]
    );
    let by_actor = get("?actor=florist-456", &t.manager).json();
    assert_eq!(actions(&by_actor), ["updated", "updated"]);
    let by_order = get(&format!("?orderId={b}"), &t.manager).json();
    assert_eq!(actions(&by_order), ["updated", "created"]);
    let both = get(&format!("?orderId={b}&actor=florist-123"), &t.manager).json();
    assert_eq!(actions(&both), ["created"]);
    assert!(get("?limit=1", &t.manager).json()["nextBefore"]
        .as_str()
        .is_some());
}

fn old_activity_is_pruned_and_the_cron_runs(c: &Client) {
    let t = c.tenant("actprune");
    let id = id_of(&t.create_order("Ada"));
    // The scheduled handler runs (wrangler dev --test-scheduled) and keeps recent entries.
    let r = c
        .request("GET", "/__scheduled?cron=*/30+*+*+*+*", None, &[], None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(actions(&activity(&t, &id, "").json()), ["created"]);
    // The same pruning by hand, with a cut-off of now: everything older goes.
    thread::sleep(Duration::from_millis(20));
    let r = c.admin(
        "POST",
        "/api/admin/maintenance/prune-activity",
        json!({"olderThanSeconds": 0, "tenantId": t.id}),
    );
    assert_eq!(r.status, 200, "{}", text(&r));
    assert!(r.json()["deleted"].as_u64() >= Some(1));
    let page = activity(&t, &id, "");
    assert_eq!(
        (page.status, actions(&page.json()).len()),
        (200, 0),
        "the order still exists"
    );
    let r = c.admin(
        "POST",
        "/api/admin/maintenance/prune-activity",
        json!({"olderThanSeconds": -1}),
    );
    assert_eq!(r.status, 400);
}
