//! Issue 2: health, tenants and tokens, the orders API, its error model and the auth matrix.

use florist_board::domain::Role;
use serde_json::{json, Value};

use crate::support::Client;

pub const TESTS: &[crate::Test] = &[
    (
        "health_reports_ok_with_version_and_schema",
        health_reports_ok_with_version_and_schema,
    ),
    (
        "admin_routes_refuse_a_missing_or_wrong_admin_token",
        admin_routes_refuse_a_missing_or_wrong_admin_token,
    ),
    (
        "tenant_ids_are_validated_and_duplicates_conflict",
        tenant_ids_are_validated_and_duplicates_conflict,
    ),
    (
        "tokens_are_minted_only_for_known_tenants_and_roles",
        tokens_are_minted_only_for_known_tenants_and_roles,
    ),
    (
        "every_route_enforces_the_auth_matrix",
        every_route_enforces_the_auth_matrix,
    ),
    (
        "text_fields_round_trip_byte_for_byte",
        text_fields_round_trip_byte_for_byte,
    ),
    (
        "create_answers_201_with_location_and_get_gives_an_etag",
        create_answers_201_with_location_and_get_gives_an_etag,
    ),
    (
        "list_filters_by_status_and_assignee_and_pages_with_a_cursor",
        list_filters_by_status_and_assignee_and_pages_with_a_cursor,
    ),
    (
        "put_updates_and_names_the_token_user_never_the_body",
        put_updates_and_names_the_token_user_never_the_body,
    ),
    (
        "a_conflicting_if_match_is_412_with_the_current_order_and_writes_nothing",
        a_conflicting_if_match_is_412_with_the_current_order_and_writes_nothing,
    ),
    (
        "forbidden_transitions_and_unknown_statuses_are_422",
        forbidden_transitions_and_unknown_statuses_are_422,
    ),
    (
        "an_update_that_changes_nothing_emits_no_event",
        an_update_that_changes_nothing_emits_no_event,
    ),
    (
        "bad_requests_get_clear_json_errors_never_5xx",
        bad_requests_get_clear_json_errors_never_5xx,
    ),
    (
        "orders_of_another_tenant_are_404",
        orders_of_another_tenant_are_404,
    ),
    (
        "delete_is_for_managers_and_answers_204_then_404",
        delete_is_for_managers_and_answers_204_then_404,
    ),
    (
        "every_answer_has_its_own_request_id_and_one_log_line_without_tokens",
        every_answer_has_its_own_request_id_and_one_log_line_without_tokens,
    ),
    (
        "the_contract_is_served_at_api_openapi_json",
        the_contract_is_served_at_api_openapi_json,
    ),
    (
        "the_board_files_are_served_beside_the_api",
        the_board_files_are_served_beside_the_api,
    ),
];

fn body_text(r: &crate::support::Resp) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

fn health_reports_ok_with_version_and_schema(c: &Client) {
    let r = c.call("GET", "/api/health", None, None);
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["status"], "ok");
    assert!(v["version"]
        .as_str()
        .is_some_and(|s| s.starts_with("0.1.0")));
    assert!(v["schemaVersion"].as_u64().is_some_and(|n| n >= 1));
    // The plain check touches nothing but the isolate; deep=1 also asks D1.
    assert!(v.get("database").is_none(), "{v}");
    let r = c.call("GET", "/api/health?deep=1", None, None);
    assert_eq!(r.status, 200);
    assert_eq!(
        (r.json()["status"].clone(), r.json()["database"].clone()),
        (json!("ok"), json!("ok"))
    );
    let r = c.call("GET", "/api/health?deep=yes", None, None);
    assert_eq!((r.status, r.error_code().as_str()), (400, "invalid_deep"));
}

fn admin_routes_refuse_a_missing_or_wrong_admin_token(c: &Client) {
    let body = json!({"id": "nope-shop", "name": "Nope"});
    let r = c.call("POST", "/api/admin/tenants", None, Some(body.clone()));
    assert_eq!((r.status, r.error_code().as_str()), (401, "unauthorized"));
    let r = c.call(
        "POST",
        "/api/admin/tenants",
        Some("wrong"),
        Some(body.clone()),
    );
    assert_eq!(r.status, 401);
    // A user token is not an admin token either.
    let t = c.tenant("adm");
    let r = c.call("POST", "/api/admin/tenants", Some(&t.manager), Some(body));
    assert_eq!(r.status, 401);
    let r = c.call(
        "POST",
        &format!("/api/admin/tenants/{}/tokens", t.id),
        Some("wrong"),
        Some(json!({"userId": "x", "role": "manager"})),
    );
    assert_eq!(r.status, 401);
}

fn tenant_ids_are_validated_and_duplicates_conflict(c: &Client) {
    for bad in [
        "A-shop",
        "x",
        "has_underscore",
        "spaces here",
        &"a".repeat(64),
        "",
    ] {
        let r = c.admin(
            "POST",
            "/api/admin/tenants",
            json!({"id": bad, "name": "Shop"}),
        );
        assert_eq!(r.status, 400, "id {bad:?}: {}", body_text(&r));
        assert_eq!(r.error_code(), "invalid_tenant_id");
    }
    let id = crate::support::unique("dup");
    let r = c.admin(
        "POST",
        "/api/admin/tenants",
        json!({"id": id, "name": "Rose & Thorn"}),
    );
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["id"], id.as_str());
    assert_eq!(r.json()["name"], "Rose & Thorn");
    let r = c.admin(
        "POST",
        "/api/admin/tenants",
        json!({"id": id, "name": "Again"}),
    );
    assert_eq!((r.status, r.error_code().as_str()), (409, "tenant_exists"));
    let r = c.admin("POST", "/api/admin/tenants", json!({"id": "no-name-shop"}));
    assert_eq!(r.status, 400);
}

fn tokens_are_minted_only_for_known_tenants_and_roles(c: &Client) {
    let r = c.admin(
        "POST",
        "/api/admin/tenants/ghost-shop-404/tokens",
        json!({"userId": "u", "role": "florist"}),
    );
    assert_eq!(r.status, 404);
    let t = c.tenant("tok");
    let path = format!("/api/admin/tenants/{}/tokens", t.id);
    let r = c.admin("POST", &path, json!({"userId": "u", "role": "owner"}));
    assert_eq!((r.status, r.error_code().as_str()), (400, "invalid_role"));
    let r = c.admin("POST", &path, json!({"role": "florist"}));
    assert_eq!(r.status, 400);
    let r = c.admin(
        "POST",
        &path,
        json!({"userId": "u", "role": "florist", "ttlSeconds": 60}),
    );
    assert_eq!(r.status, 201);
    let token = r.json()["token"].as_str().unwrap_or_default().to_string();
    assert_eq!(token.split('.').count(), 3, "a compact JWT");
    assert!(r.json()["expiresAt"]
        .as_str()
        .is_some_and(|s| s.ends_with('Z')));
    let list = c.call("GET", &t.path("/orders"), Some(&token), None);
    assert_eq!(list.status, 200);
}

/// No token / tampered / expired → 401; another tenant → 403; wrong role → 403 — on every route.
fn every_route_enforces_the_auth_matrix(c: &Client) {
    let t = c.tenant("authz");
    let other = c.tenant("authz-other");
    let order = t.create_order("Matrix");
    let id = order["id"].as_str().unwrap_or_default();
    let now = 1_700_000_000_i64; // long past
    let expired = c.forge("florist-123", &t.id, Role::Florist, now);
    let tampered = {
        let mut parts: Vec<String> = t.florist.split('.').map(String::from).collect();
        parts[1] = c
            .forge("florist-123", &t.id, Role::Manager, i64::MAX / 2)
            .split('.')
            .nth(1)
            .unwrap_or_default()
            .to_string();
        parts.join(".")
    };
    let order_path = t.path(&format!("/orders/{id}"));
    let routes: Vec<(&str, String, Option<Value>, bool)> = vec![
        ("GET", t.path("/orders"), None, false),
        (
            "POST",
            t.path("/orders"),
            Some(json!({"customerName": "X", "items": [{"title": "t", "quantity": 1}]})),
            false,
        ),
        ("GET", order_path.clone(), None, false),
        (
            "PUT",
            order_path.clone(),
            Some(json!({"notes": "auth"})),
            false,
        ),
        ("DELETE", order_path.clone(), None, true),
        (
            "GET",
            t.path("/orders/realtime-status?since=0"),
            None,
            false,
        ),
        ("GET", t.path("/realtime/orders"), None, false),
        ("GET", t.path("/realtime/stats"), None, true),
    ];
    for (method, path, body, manager_only) in &routes {
        let call = |token: Option<&str>| c.call(method, path, token, body.clone());
        let r = call(None);
        assert_eq!(r.status, 401, "{method} {path} without a token");
        assert_eq!(r.error_code(), "unauthorized");
        assert_eq!(
            call(Some("not.a.jwt")).status,
            401,
            "{method} {path} garbage"
        );
        assert_eq!(
            call(Some(&tampered)).status,
            401,
            "{method} {path} tampered"
        );
        assert_eq!(call(Some(&expired)).status, 401, "{method} {path} expired");
        let r = call(Some(&other.manager));
        assert_eq!(r.status, 403, "{method} {path} other tenant");
        assert_eq!(r.error_code(), "forbidden");
        if *manager_only {
            assert_eq!(
                call(Some(&t.florist)).status,
                403,
                "{method} {path} florist"
            );
        }
    }
    // The SSE route also takes ?access_token=, with the same checks.
    let sse = t.path("/realtime/orders?access_token=");
    assert_eq!(
        c.call("GET", &format!("{sse}{expired}"), None, None).status,
        401
    );
    assert_eq!(
        c.call("GET", &format!("{sse}{tampered}"), None, None)
            .status,
        401
    );
    assert_eq!(
        c.call("GET", &format!("{sse}{}", other.florist), None, None)
            .status,
        403
    );
    // Nothing above changed the order.
    let r = c.call("GET", &order_path, Some(&t.florist), None);
    assert_eq!(r.json()["version"], 1);
    assert_eq!(r.json()["notes"], "");
}

fn text_fields_round_trip_byte_for_byte(c: &Client) {
    let t = c.tenant("bytes");
    let name = "Zoë \"Z\" O'Brien 🌷\nsecond line\ttab \\ backslash";
    let notes = "Robert'); DROP TABLE orders;-- \r\n<script>alert(1)</script> 💐 ∑ 日本語 \u{0}";
    let title = "SELECT * FROM events WHERE 1=1; -- 🌹";
    let r = c.call(
        "POST",
        &t.path("/orders"),
        Some(&t.florist),
        Some(json!({"customerName": name, "notes": notes, "items": [{"title": title, "quantity": 2}],
                    "customerEmail": "zoe@example.com", "deliveryDate": "2026-12-24", "cardMessage": "Love,\n—M"})),
    );
    assert_eq!(r.status, 201, "{}", body_text(&r));
    let id = r.json()["id"].as_str().unwrap_or_default().to_string();
    let got = t.get_order(&id);
    assert_eq!(got["customerName"], name);
    assert_eq!(got["notes"], notes);
    assert_eq!(got["items"][0]["title"], title);
    assert_eq!(got["cardMessage"], "Love,\n—M");
    assert_eq!(got["deliveryDate"], "2026-12-24");
    let new_notes = "customer requested pink roses 🌸\n\"no lilies\"";
    let r = t.put(&id, &t.florist, json!({"notes": new_notes}));
    assert_eq!(r.json()["order"]["notes"], new_notes);
    let got = t.get_order(&id);
    assert_eq!(got["notes"], new_notes);
}

fn create_answers_201_with_location_and_get_gives_an_etag(c: &Client) {
    let t = c.tenant("create");
    let r = c.call(
        "POST",
        &t.path("/orders"),
        Some(&t.manager),
        Some(json!({"customerName": "Ada", "items": [{"title": "Tulips", "quantity": 5}], "orderNumber": "#1001"})),
    );
    assert_eq!(r.status, 201);
    let order = r.json();
    let id = order["id"].as_str().unwrap_or_default();
    assert_eq!(
        r.header("location"),
        Some(t.path(&format!("/orders/{id}")).as_str())
    );
    for (key, want) in [
        ("orderNumber", json!("#1001")),
        ("source", json!("manual")),
        ("shopifyOrderId", Value::Null),
        ("status", json!("new")),
        ("assignedTo", Value::Null),
        ("notes", json!("")),
        ("version", json!(1)),
        ("updatedBy", json!("manager-1")),
        ("items", json!([{"title": "Tulips", "quantity": 5}])),
    ] {
        assert_eq!(order[key], want, "{key}");
    }
    assert!(order["createdAt"]
        .as_str()
        .is_some_and(|s| s.ends_with('Z')));
    let got = c.call(
        "GET",
        &t.path(&format!("/orders/{id}")),
        Some(&t.florist),
        None,
    );
    assert_eq!(got.status, 200);
    assert_eq!(got.header("etag"), Some("\"1\""));
    assert_eq!(got.json(), order);
    // Without an order number one is generated, counting up per shop.
    let a = t.create_order("Bea");
    let b = t.create_order("Cy");
    assert_eq!(a["orderNumber"], "M-1");
    assert_eq!(b["orderNumber"], "M-2");
}

fn list_filters_by_status_and_assignee_and_pages_with_a_cursor(c: &Client) {
    let t = c.tenant("list");
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            t.create_order(&format!("Customer {i}"))["id"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
    }
    assert_eq!(
        t.put(
            &ids[0],
            &t.florist,
            json!({"status": "in_progress", "assignedTo": "florist-123"})
        )
        .status,
        200
    );
    assert_eq!(
        t.put(&ids[1], &t.florist, json!({"assignedTo": "florist-456"}))
            .status,
        200
    );
    let get = |q: &str| {
        c.call(
            "GET",
            &t.path(&format!("/orders{q}")),
            Some(&t.florist),
            None,
        )
    };
    let r = get("?status=in_progress").json();
    assert_eq!(r["orders"].as_array().map(Vec::len), Some(1));
    assert_eq!(r["orders"][0]["id"], ids[0].as_str());
    let r = get("?assignedTo=florist-456").json();
    assert_eq!(r["orders"].as_array().map(Vec::len), Some(1));
    assert_eq!(r["orders"][0]["id"], ids[1].as_str());
    // Pages of 2 cover all five, once each, then stop.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..5 {
        let q = match &cursor {
            Some(cur) => format!("?limit=2&cursor={cur}"),
            None => "?limit=2".to_string(),
        };
        let page = get(&q).json();
        for o in page["orders"].as_array().into_iter().flatten() {
            seen.push(o["id"].as_str().unwrap_or_default().to_string());
        }
        cursor = page["nextCursor"].as_str().map(String::from);
        if cursor.is_none() {
            break;
        }
    }
    seen.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(seen, want);
    for bad in [
        "?limit=0",
        "?limit=201",
        "?limit=x",
        "?status=wilted",
        "?cursor=garbage!",
    ] {
        let r = get(bad);
        assert_eq!(r.status, 400, "{bad}");
        assert!(r.json()["error"]["message"].is_string());
    }
    assert_eq!(get("").json()["orders"].as_array().map(Vec::len), Some(5));
}

fn put_updates_and_names_the_token_user_never_the_body(c: &Client) {
    let t = c.tenant("put");
    let order = t.create_order("Ada");
    let id = order["id"].as_str().unwrap_or_default();
    let r = t.put(
        id,
        &t.florist2,
        json!({"status": "in_progress", "assignedTo": "florist-456", "updatedBy": "mallory"}),
    );
    assert_eq!(r.status, 200, "{}", body_text(&r));
    let v = r.json();
    assert_eq!(v["order"]["status"], "in_progress");
    assert_eq!(v["order"]["assignedTo"], "florist-456");
    assert_eq!(v["order"]["version"], 2);
    assert_eq!(v["order"]["updatedBy"], "florist-456");
    assert_eq!(v["event"]["type"], "order_updated");
    assert_eq!(v["event"]["updatedBy"], "florist-456");
    assert_eq!(v["event"]["changes"], json!(["status", "assignedTo"]));
    assert!(v["event"]["id"]
        .as_str()
        .is_some_and(|s| s.parse::<u64>().is_ok()));
    assert!(v["event"]["timestamp"].as_str().is_some());
    assert_eq!(r.header("etag"), Some("\"2\""));
    // If-Match with the current version succeeds; unassign with null.
    let r = c.request(
        "PUT",
        &t.path(&format!("/orders/{id}")),
        Some(&t.florist),
        &[("If-Match", "\"2\"")],
        Some((
            "application/json",
            br#"{"assignedTo":null,"notes":"customer requested pink roses"}"#,
        )),
    );
    let r = r.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["order"]["assignedTo"], Value::Null);
    assert_eq!(r.json()["order"]["version"], 3);
}

fn a_conflicting_if_match_is_412_with_the_current_order_and_writes_nothing(c: &Client) {
    let t = c.tenant("stale");
    let order = t.create_order("Ada");
    let id = order["id"].as_str().unwrap_or_default();
    assert_eq!(t.put(id, &t.florist, json!({"notes": "first"})).status, 200);
    let cursor = t.poll("0")["cursor"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    for stale in ["\"1\"", "W/\"1\""] {
        let r = c
            .request(
                "PUT",
                &t.path(&format!("/orders/{id}")),
                Some(&t.florist2),
                &[("If-Match", stale)],
                Some(("application/json", br#"{"notes":"second"}"#)),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status, 412, "If-Match {stale}");
        assert_eq!(r.error_code(), "edit_conflict");
        assert_eq!(r.json()["order"]["notes"], "first");
        assert_eq!(r.json()["order"]["version"], 2);
    }
    let got = t.get_order(id);
    assert_eq!(
        (got["notes"].as_str(), got["version"].as_i64()),
        (Some("first"), Some(2))
    );
    let after = t.poll(&cursor);
    assert_eq!(
        after["cursor"].as_str(),
        Some(cursor.as_str()),
        "no event was logged"
    );
    assert_eq!(after["orders"], json!([]));
}

fn forbidden_transitions_and_unknown_statuses_are_422(c: &Client) {
    let t = c.tenant("fsm");
    let id = t.create_order("Ada")["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let r = t.put(
        &id,
        &t.florist,
        json!({"status": "delivered", "notes": "skip ahead"}),
    );
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (422, "invalid_transition")
    );
    let r = t.put(&id, &t.florist, json!({"status": "wilted"}));
    assert_eq!((r.status, r.error_code().as_str()), (422, "invalid_status"));
    let got = t.get_order(&id);
    assert_eq!(
        (
            got["status"].as_str(),
            got["notes"].as_str(),
            got["version"].as_i64()
        ),
        (Some("new"), Some(""), Some(1))
    );
    for next in ["in_progress", "ready", "out_for_delivery", "delivered"] {
        assert_eq!(
            t.put(&id, &t.florist, json!({"status": next})).status,
            200,
            "to {next}"
        );
    }
    assert_eq!(
        t.put(&id, &t.florist, json!({"status": "new"})).status,
        422,
        "delivered is final"
    );
}

fn an_update_that_changes_nothing_emits_no_event(c: &Client) {
    let t = c.tenant("noop");
    let id = t.create_order("Ada")["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let cursor = t.poll("0")["cursor"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let r = t.put(&id, &t.florist, json!({"status": "new", "notes": ""}));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["event"], Value::Null);
    assert_eq!(r.json()["order"]["version"], 1);
    assert_eq!(t.poll(&cursor)["cursor"].as_str(), Some(cursor.as_str()));
}

fn bad_requests_get_clear_json_errors_never_5xx(c: &Client) {
    let t = c.tenant("bad");
    let id = t.create_order("Ada")["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let orders = t.path("/orders");
    let one = t.path(&format!("/orders/{id}"));
    let raw = |method: &str, path: &str, ct: &str, body: &[u8]| {
        c.request(method, path, Some(&t.florist), &[], Some((ct, body)))
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let cases: Vec<(crate::support::Resp, u16, &str)> = vec![
        (
            raw("POST", &orders, "application/json", b"{not json"),
            400,
            "invalid_json",
        ),
        (
            raw("PUT", &one, "application/json", b"[1,2"),
            400,
            "invalid_json",
        ),
        (
            raw("POST", &orders, "application/json", b"[]"),
            400,
            "invalid_body",
        ),
        (
            raw("POST", &orders, "text/plain", b"{}"),
            415,
            "unsupported_media_type",
        ),
        (
            raw("PUT", &one, "application/x-www-form-urlencoded", b"notes=x"),
            415,
            "unsupported_media_type",
        ),
        (
            raw(
                "POST",
                &orders,
                "application/json",
                &vec![b' '; 1024 * 1024 + 10],
            ),
            413,
            "payload_too_large",
        ),
        (
            raw(
                "POST",
                &orders,
                "application/json",
                br#"{"customerName":"A","items":[{"title":"x","quantity":-1}]}"#,
            ),
            400,
            "invalid_field",
        ),
        (
            raw(
                "POST",
                &orders,
                "application/json",
                br#"{"customerName":"A","items":"roses"}"#,
            ),
            400,
            "invalid_field",
        ),
        (
            raw("PUT", &one, "application/json", b"{}"),
            400,
            "empty_update",
        ),
        (
            raw("PUT", &one, "application/json", br#"{"notes":42}"#),
            400,
            "invalid_field",
        ),
        (
            c.call("GET", "/api/nothing-here", None, None),
            404,
            "not_found",
        ),
        (
            c.call("GET", &t.path("/bouquets"), Some(&t.florist), None),
            404,
            "not_found",
        ),
        (
            c.call("PATCH", &one, Some(&t.florist), Some(json!({}))),
            405,
            "method_not_allowed",
        ),
        (
            c.call("DELETE", &orders, Some(&t.manager), None),
            405,
            "method_not_allowed",
        ),
        (
            c.call("POST", "/api/health", None, None),
            405,
            "method_not_allowed",
        ),
        (
            c.call(
                "GET",
                &t.path("/orders/no-such-order"),
                Some(&t.florist),
                None,
            ),
            404,
            "not_found",
        ),
        (
            c.call(
                "PUT",
                &t.path("/orders/no-such-order"),
                Some(&t.florist),
                Some(json!({"notes": "x"})),
            ),
            404,
            "not_found",
        ),
        (
            c.call(
                "GET",
                &t.path("/orders/realtime-status?since=yesterday"),
                Some(&t.florist),
                None,
            ),
            400,
            "invalid_since",
        ),
    ];
    for (i, (r, status, code)) in cases.iter().enumerate() {
        assert_eq!(r.status, *status, "case {i}: {}", body_text(r));
        assert_eq!(r.error_code(), *code, "case {i}");
        assert!(r.json()["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
        assert!(r
            .header("content-type")
            .is_some_and(|ct| ct.contains("application/json")));
    }
    // And nothing was half-written: still one order, untouched.
    let list = c.call("GET", &orders, Some(&t.florist), None).json();
    assert_eq!(list["orders"].as_array().map(Vec::len), Some(1));
    assert_eq!(list["orders"][0]["version"], 1);
}

fn orders_of_another_tenant_are_404(c: &Client) {
    // A correctly signed token for a shop that was never created writes nothing.
    let ghost = crate::support::unique("ghost");
    let token = c.forge("florist-1", &ghost, Role::Florist, i64::MAX / 2);
    let path = format!("/api/tenants/{ghost}/orders");
    let body = json!({"customerName": "Nobody", "items": [{"title": "t", "quantity": 1}]});
    let r = c.call("POST", &path, Some(&token), Some(body));
    assert_eq!((r.status, r.error_code().as_str()), (404, "not_found"));
    let list = c.call("GET", &path, Some(&token), None);
    assert_eq!(
        (list.status, list.json()["orders"].clone()),
        (200, json!([]))
    );
    let a = c.tenant("iso-a");
    let b = c.tenant("iso-b");
    let id = a.create_order("Secret")["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let path = b.path(&format!("/orders/{id}"));
    assert_eq!(c.call("GET", &path, Some(&b.florist), None).status, 404);
    assert_eq!(
        b.put(&id, &b.florist, json!({"notes": "mine now"})).status,
        404
    );
    assert_eq!(c.call("DELETE", &path, Some(&b.manager), None).status, 404);
    let list = c
        .call("GET", &b.path("/orders"), Some(&b.florist), None)
        .json();
    assert_eq!(list["orders"], json!([]));
    let got = a.get_order(&id);
    assert_eq!(got["notes"], "");
}

fn delete_is_for_managers_and_answers_204_then_404(c: &Client) {
    let t = c.tenant("del");
    let id = t.create_order("Ada")["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let path = t.path(&format!("/orders/{id}"));
    assert_eq!(c.call("DELETE", &path, Some(&t.florist), None).status, 403);
    assert_eq!(c.call("GET", &path, Some(&t.florist), None).status, 200);
    let r = t.delete(&id);
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    assert_eq!(c.call("GET", &path, Some(&t.florist), None).status, 404);
    assert_eq!(t.delete(&id).status, 404);
}

/// Issue 10: `X-Request-Id` on every answer (exposed to browsers), distinct per request, and the
/// Worker's one JSON log line per request names it, with the route pattern and never a token.
fn every_answer_has_its_own_request_id_and_one_log_line_without_tokens(c: &Client) {
    let t = c.tenant("reqid");
    let ok = c.call("GET", &t.path("/orders"), Some(&t.florist), None);
    let missing = c.call(
        "GET",
        &t.path("/orders/no-such-order"),
        Some(&t.florist),
        None,
    );
    assert_eq!((ok.status, missing.status), (200, 404));
    let id = |r: &crate::support::Resp| r.header("x-request-id").unwrap_or_default().to_string();
    let (first, second) = (id(&ok), id(&missing));
    assert!(first.len() >= 16, "X-Request-Id: {first:?}");
    assert!(second.len() >= 16, "X-Request-Id: {second:?}");
    assert_ne!(first, second);
    assert!(ok
        .header("access-control-expose-headers")
        .is_some_and(|h| h.contains("x-request-id")));

    // A token in the query (as EventSource sends it) stays out of the log.
    let secret_query = format!("/orders/realtime-status?since=0&access_token={}", t.florist);
    let polled = c.call("GET", &t.path(&secret_query), Some(&t.florist), None);
    assert_eq!(polled.status, 200);
    let polled_id = id(&polled);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let lines = loop {
        let log = std::fs::read_to_string(&c.log).unwrap_or_default();
        let lines: Vec<Value> = log
            .lines()
            .filter(|l| {
                [&first, &second, &polled_id]
                    .iter()
                    .any(|id| l.contains(id.as_str()))
            })
            .filter_map(|l| {
                l.find('{')
                    .and_then(|at| serde_json::from_str(&l[at..]).ok())
            })
            .collect();
        if lines.len() >= 3 || std::time::Instant::now() > deadline {
            break lines;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(lines.len(), 3, "one log line per request: {lines:?}");
    // (wrangler's own request log prints URLs; the Worker's lines never do.)
    assert!(
        !lines.iter().any(|l| l.to_string().contains(&t.florist)),
        "a token reached the Worker's log"
    );
    let line = |rid: &str| lines.iter().find(|l| l["requestId"] == rid).cloned();
    let ok_line = line(&first).unwrap_or_default();
    assert_eq!(ok_line["tenant"], t.id.as_str());
    assert_eq!(ok_line["method"], "GET");
    assert_eq!(ok_line["route"], "/api/tenants/{tenantId}/orders");
    assert_eq!(ok_line["status"], 200);
    assert!(ok_line["ms"].is_i64());
    let missing_line = line(&second).unwrap_or_default();
    assert_eq!(missing_line["status"], 404);
    assert_eq!(
        missing_line["route"],
        "/api/tenants/{tenantId}/orders/{orderId}"
    );
    let polled_line = line(&polled_id).unwrap_or_default();
    assert_eq!(
        polled_line["route"],
        "/api/tenants/{tenantId}/orders/realtime-status"
    );
}

/// Issue 10: the OpenAPI document the repository holds is what the Worker serves, to anyone.
fn the_contract_is_served_at_api_openapi_json(c: &Client) {
    let r = c.call("GET", "/api/openapi.json", None, None);
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .is_some_and(|t| t.starts_with("application/json")));
    let served = r.json();
    let file: Value =
        serde_json::from_str(include_str!("../../docs/openapi.json")).unwrap_or_default();
    assert_eq!(served["openapi"], "3.1.0");
    assert_eq!(served, file);
}

/// The board's files come from the web Worker behind the `WEB` binding (src/routes/web.rs): the
/// page, its script and the service worker with their types and an `etag` a browser revalidates
/// with; a file that is not there and a write to a page are the API's JSON errors.
fn the_board_files_are_served_beside_the_api(c: &Client) {
    for (path, kind, starts) in [
        ("/", "text/html", "<!doctype html>"),
        ("/board.js", "text/javascript", ""),
        ("/board.css", "text/css", ""),
        ("/sw.js", "text/javascript", ""),
    ] {
        let r = c.call("GET", path, None, None);
        assert_eq!(r.status, 200, "{path}");
        assert!(
            r.header("content-type")
                .is_some_and(|t| t.starts_with(kind)),
            "{path}: {:?}",
            r.header("content-type")
        );
        assert!(r.body.starts_with(starts.as_bytes()), "{path}");
        assert!(r.header("x-request-id").is_some(), "{path}");
        let etag = r.header("etag").unwrap_or_default().to_string();
        assert!(!etag.is_empty(), "{path}: no etag");
        let again = c
            .request("GET", path, None, &[("if-none-match", &etag)], None)
            .expect("conditional GET");
        assert_eq!(again.status, 304, "{path}");
    }
    let board = c.call("GET", "/", None, None);
    let page = String::from_utf8_lossy(&board.body);
    assert!(page.contains("board.js"), "the page loads its script");

    let missing = c.call("GET", "/no-such-file.js", None, None);
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["error"]["code"], "not_found");
    let write = c.call("POST", "/", None, Some(json!({})));
    assert_eq!(write.status, 405);
    assert_eq!(write.json()["error"]["code"], "method_not_allowed");
}
