//! Change events: the one JSON shape used by SSE, polling and the PUT response, and its SSE
//! framing. Pure code; the hub and the routes call it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    OrderCreated,
    OrderUpdated,
    OrderDeleted,
    /// An edit lock was taken (data: `lock`, and `previousHolder` when a manager took it over).
    OrderLocked,
    /// An edit lock ended (data: `reason` = `released` | `expired` | `broken`, `previousHolder`).
    OrderUnlocked,
    /// A note was added to the order's thread (data: `note`).
    NoteAdded,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrderCreated => "order_created",
            Self::OrderUpdated => "order_updated",
            Self::OrderDeleted => "order_deleted",
            Self::OrderLocked => "order_locked",
            Self::OrderUnlocked => "order_unlocked",
            Self::NoteAdded => "note_added",
        }
    }
}

/// One committed change. `id` is the tenant's sequence number as a decimal string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub tenant_id: String,
    pub order_id: String,
    pub timestamp: String,
    pub updated_by: String,
    pub changes: Vec<String>,
    pub order: Option<Value>,
    /// What lock, unlock and note events carry besides the order (`lock`, `reason`,
    /// `previousHolder`, `note`), as top-level fields of the event JSON.
    #[serde(flatten)]
    pub data: serde_json::Map<String, Value>,
}

impl Event {
    pub fn seq(&self) -> u64 {
        self.id.parse().unwrap_or(0)
    }
}

/// A row of the `events` table as D1 returns it.
#[derive(Debug, Clone, Deserialize)]
pub struct EventRow {
    pub tenant_id: String,
    pub seq: f64,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub order_id: String,
    pub ts: String,
    pub updated_by: String,
    pub changes: String,
    pub order_json: Option<String>,
    #[serde(default)]
    pub data: Option<String>,
}

impl EventRow {
    pub fn into_event(self) -> Event {
        Event {
            id: (self.seq as u64).to_string(),
            kind: self.kind,
            tenant_id: self.tenant_id,
            order_id: self.order_id,
            timestamp: self.ts,
            updated_by: self.updated_by,
            changes: serde_json::from_str(&self.changes).unwrap_or_default(),
            order: self
                .order_json
                .as_deref()
                .and_then(|o| serde_json::from_str(o).ok()),
            data: self
                .data
                .as_deref()
                .and_then(|d| serde_json::from_str(d).ok())
                .unwrap_or_default(),
        }
    }
}

/// The first bytes of every stream: a reconnect hint, the position the stream starts from, and a
/// comment, so proxies and clients see the stream is live before the first event. The `id:`
/// (with no data, so nothing is dispatched) sets `EventSource.lastEventId`: a client that saw no
/// event yet still resumes from here after a reconnect, losing nothing.
pub fn sse_preamble(position: u64) -> String {
    format!("retry: 3000\nid: {position}\n: connected\n\n")
}

/// The heartbeat, a named event a browser can see (`addEventListener("heartbeat")`), so a client
/// can tell an open but silent stream from a live one. It has no `id:`, so the client's resume
/// position is untouched; clients written for the old `: heartbeat` comment ignore it.
pub fn sse_heartbeat(now: &str) -> String {
    format!("event: heartbeat\ndata: {{\"ts\":\"{now}\"}}\n\n")
}

/// One SSE frame for an event: `id`, `event`, single-line `data`, blank line.
/// serde_json never emits raw newlines (they are escaped inside strings), so `data` is one line.
pub fn sse_frame(event: &Event) -> String {
    let data = serde_json::to_string(event).unwrap_or_else(|_| "{}".into());
    format!(
        "id: {}\nevent: {}\ndata: {data}\n\n",
        event.id,
        event.kind.as_str()
    )
}

/// Tells a client its resume point is gone: refetch the list and continue from `cursor`.
pub fn sse_resync(cursor: u64) -> String {
    format!("id: {cursor}\nevent: resync\ndata: {{\"cursor\":\"{cursor}\"}}\n\n")
}

/// Tells a client its token expired and the stream ends (reconnect with a fresh token).
pub const SSE_REAUTH: &str = "event: reauth\ndata: {\"type\":\"reauth\"}\n\n";

/// The WebSocket form of an event: `{"type":"event","event":<exactly the SSE data>}`, built from
/// the event's SSE frame so the event JSON is the same bytes on both transports.
pub fn ws_event_from_sse(sse: &str) -> String {
    let data = sse
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap_or("null");
    format!("{{\"type\":\"event\",\"event\":{data}}}")
}

/// The WebSocket protocol's server messages other than events (see docs/API.md).
pub mod ws {
    use serde_json::json;

    pub fn hello(connection_id: &str, head: u64, position: u64, heartbeat_secs: u64) -> String {
        json!({"type": "hello", "connectionId": connection_id, "head": head.to_string(),
               "position": position.to_string(), "heartbeatSeconds": heartbeat_secs})
        .to_string()
    }

    pub fn resync(cursor: u64) -> String {
        json!({"type": "resync", "cursor": cursor.to_string()}).to_string()
    }

    pub fn heartbeat(now: &str) -> String {
        json!({"type": "heartbeat", "ts": now}).to_string()
    }

    pub fn reauth() -> String {
        json!({"type": "reauth"}).to_string()
    }

    pub fn error(code: &str, message: &str) -> String {
        json!({"type": "error", "code": code, "message": message}).to_string()
    }

    pub fn presence(users: &[crate::presence::UserEntry]) -> String {
        json!({"type": "presence", "users": users}).to_string()
    }

    pub fn presence_diff(diff: &crate::presence::Diff) -> String {
        json!({"type": "presence_diff", "joins": diff.joins, "leaves": diff.leaves,
               "updates": diff.updates})
        .to_string()
    }

    pub fn typing(t: &crate::presence::Typing) -> String {
        json!({"type": "typing", "userId": t.user_id, "orderId": t.order_id, "field": t.field})
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event() -> Event {
        Event {
            id: "42".into(),
            kind: EventType::OrderUpdated,
            tenant_id: "demo".into(),
            order_id: "o1".into(),
            timestamp: "2026-11-24T10:00:00.000Z".into(),
            updated_by: "florist-1".into(),
            changes: vec!["notes".into()],
            order: Some(json!({"notes": "line one\nline two\r\n\"quoted\" 🌹"})),
            data: serde_json::Map::new(),
        }
    }

    #[test]
    fn a_frame_is_id_event_one_data_line_and_a_blank_line() {
        let frame = sse_frame(&event());
        let lines: Vec<&str> = frame.split('\n').collect();
        assert_eq!(lines[0], "id: 42");
        assert_eq!(lines[1], "event: order_updated");
        assert!(lines[2].starts_with("data: {"));
        assert_eq!(&lines[3..], &["", ""]);
        let data: Event = serde_json::from_str(&lines[2]["data: ".len()..]).unwrap();
        assert_eq!(data, event());
    }

    #[test]
    fn the_event_json_uses_the_documented_field_names() {
        let v = serde_json::to_value(event()).unwrap();
        for key in [
            "id",
            "type",
            "tenantId",
            "orderId",
            "timestamp",
            "updatedBy",
            "changes",
            "order",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        assert_eq!(v["type"], "order_updated");
    }

    #[test]
    fn lock_and_note_data_are_top_level_fields_of_the_event() {
        let row = EventRow {
            tenant_id: "demo".into(),
            seq: 9.0,
            kind: EventType::OrderUnlocked,
            order_id: "o1".into(),
            ts: "2026-11-24T10:00:00.000Z".into(),
            updated_by: "system".into(),
            changes: "[]".into(),
            order_json: None,
            data: Some(r#"{"reason":"expired","previousHolder":"florist-a"}"#.into()),
        };
        let v = serde_json::to_value(row.into_event()).unwrap();
        assert_eq!(v["type"], "order_unlocked");
        assert_eq!(v["reason"], "expired");
        assert_eq!(v["previousHolder"], "florist-a");
        assert_eq!(v["id"], "9");
    }

    #[test]
    fn the_preamble_names_the_start_and_the_heartbeat_is_a_visible_event() {
        assert_eq!(sse_preamble(12), "retry: 3000\nid: 12\n: connected\n\n");
        let beat = sse_heartbeat("2026-11-24T10:00:00.000Z");
        assert_eq!(
            beat,
            "event: heartbeat\ndata: {\"ts\":\"2026-11-24T10:00:00.000Z\"}\n\n"
        );
        assert!(
            !beat.contains("id:"),
            "a heartbeat never moves the resume position"
        );
    }

    #[test]
    fn the_websocket_event_carries_exactly_the_sse_data() {
        let sse = sse_frame(&event());
        let ws: serde_json::Value = serde_json::from_str(&ws_event_from_sse(&sse)).unwrap();
        assert_eq!(ws["type"], "event");
        let data = sse.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
        assert_eq!(
            ws["event"],
            serde_json::from_str::<serde_json::Value>(data).unwrap()
        );
        let hello: serde_json::Value = serde_json::from_str(&ws::hello("c1", 9, 7, 30)).unwrap();
        assert_eq!(
            (hello["type"].as_str(), hello["head"].as_str()),
            (Some("hello"), Some("9"))
        );
    }

    #[test]
    fn resync_names_the_cursor() {
        assert_eq!(
            sse_resync(7),
            "id: 7\nevent: resync\ndata: {\"cursor\":\"7\"}\n\n"
        );
    }
}
