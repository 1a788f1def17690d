//! Who is online in a shop, what each is looking at and editing, pure and unit-tested. The hub
//! feeds it connections (WebSocket and SSE), `view` and `typing` messages and the clock; it
//! answers with what others must be told: a [`Diff`] of user entries, or a typing broadcast.
//!
//! Rules:
//! - A user entry aggregates the user's connections; SSE connections count as online with
//!   nothing known about what they view.
//! - A clean close (code 1000: the client said goodbye) takes effect at once. Any other loss
//!   (a reload, a network blip, a ghost found by the heartbeat) waits [`LEAVE_GRACE_MS`]: a
//!   reconnect within it shows no leave/join flicker.
//! - Typing is ephemeral: never stored, broadcast at most once per [`TYPING_THROTTLE_MS`] per
//!   (user, order, field), and the `editing` entry it creates expires [`TYPING_TTL_MS`] after the
//!   last one.

use std::collections::BTreeMap;

use crate::small_map::SmallMap;

use serde::{Deserialize, Serialize};

use crate::domain::Role;

pub const LEAVE_GRACE_MS: i64 = 5_000;
pub const TYPING_THROTTLE_MS: i64 = 2_000;
pub const TYPING_TTL_MS: i64 = 5_000;

/// One field being edited.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Editing {
    pub order_id: String,
    pub field: String,
}

/// What others see of a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserEntry {
    pub user_id: String,
    pub role: Role,
    pub connections: usize,
    pub viewing: Vec<String>,
    pub editing: Vec<Editing>,
}

/// What changed for others, as a `presence_diff` message carries it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Diff {
    pub joins: Vec<UserEntry>,
    pub leaves: Vec<UserEntry>,
    pub updates: Vec<UserEntry>,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.joins.is_empty() && self.leaves.is_empty() && self.updates.is_empty()
    }

    fn absorb(&mut self, other: Diff) {
        self.joins.extend(other.joins);
        self.leaves.extend(other.leaves);
        self.updates.extend(other.updates);
    }
}

/// A typing notice to broadcast.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Typing {
    pub user_id: String,
    pub order_id: String,
    pub field: String,
}

#[derive(Debug, Clone)]
struct Conn {
    user: String,
    role: Role,
    viewing: Option<String>,
}

#[derive(Debug, Clone, Copy)]
struct TypingState {
    expires_at: i64,
    last_broadcast: i64,
}

#[derive(Debug, Default)]
pub struct Presence {
    conns: BTreeMap<String, Conn>,
    /// (user, order, field) → when it stops counting as editing, and when it was last sent.
    typing: SmallMap<(String, String, String), TypingState>,
    /// Users whose last connection was lost uncleanly, and when they count as gone.
    leaving: SmallMap<String, i64>,
    /// What others have been told, by user.
    published: SmallMap<String, UserEntry>,
}

impl Presence {
    /// Every user others currently see (the full `presence` state).
    pub fn users(&self) -> Vec<UserEntry> {
        self.published.values().cloned().collect()
    }

    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    pub fn connections_of(&self, user: &str) -> usize {
        self.conns.values().filter(|c| c.user == user).count()
    }

    /// The users with at least one live connection right now (not those in their leave grace:
    /// they are gone from the screen, so a push reaches them).
    pub fn connected_users(&self) -> std::collections::BTreeSet<String> {
        self.conns.values().map(|c| c.user.clone()).collect()
    }

    pub fn has(&self, conn: &str) -> bool {
        self.conns.contains_key(conn)
    }

    /// A connection opened (or was found again after the object woke).
    pub fn connect(
        &mut self,
        conn: &str,
        user: &str,
        role: Role,
        viewing: Option<String>,
        now: i64,
    ) -> Diff {
        self.conns.insert(
            conn.to_string(),
            Conn {
                user: user.to_string(),
                role,
                viewing,
            },
        );
        self.leaving.remove(user);
        self.settle(user, now)
    }

    /// A connection ended; `clean` = the client closed it on purpose (code 1000).
    pub fn disconnect(&mut self, conn: &str, clean: bool, now: i64) -> Diff {
        let Some(gone) = self.conns.remove(conn) else {
            return Diff::default();
        };
        let user = gone.user;
        if self.connections_of(&user) == 0 {
            if clean {
                self.leaving.remove(&user);
                self.typing.retain(|(u, _, _), _| u != &user);
            } else {
                self.leaving.insert(user.clone(), now + LEAVE_GRACE_MS);
            }
        }
        self.settle(&user, now)
    }

    /// The connection now looks at `order` (or at the list).
    pub fn view(&mut self, conn: &str, order: Option<String>, now: i64) -> Diff {
        let Some(c) = self.conns.get_mut(conn) else {
            return Diff::default();
        };
        c.viewing = order;
        let user = c.user.clone();
        self.settle(&user, now)
    }

    /// The connection's user types in `field` of `order`: the typing notice to broadcast (at
    /// most one per throttle window) and the presence change (a new `editing` entry).
    pub fn typing(
        &mut self,
        conn: &str,
        order: &str,
        field: &str,
        now: i64,
    ) -> (Option<Typing>, Diff) {
        let Some(user) = self.conns.get(conn).map(|c| c.user.clone()) else {
            return (None, Diff::default());
        };
        let key = (user.clone(), order.to_string(), field.to_string());
        let state = self.typing.get_or_insert_with(key, || TypingState {
            expires_at: now,
            last_broadcast: i64::MIN / 2,
        });
        state.expires_at = now + TYPING_TTL_MS;
        let notice = if now - state.last_broadcast >= TYPING_THROTTLE_MS {
            state.last_broadcast = now;
            Some(Typing {
                user_id: user.clone(),
                order_id: order.to_string(),
                field: field.to_string(),
            })
        } else {
            None
        };
        (notice, self.settle(&user, now))
    }

    /// Lets time pass: typing that went quiet stops counting, grace periods end.
    pub fn tick(&mut self, now: i64) -> Diff {
        let mut users: Vec<String> = self
            .typing
            .iter()
            .filter(|(_, t)| t.expires_at <= now)
            .map(|((u, _, _), _)| u.clone())
            .collect();
        self.typing.retain(|_, t| t.expires_at > now);
        users.extend(
            self.leaving
                .iter()
                .filter(|(_, at)| **at <= now)
                .map(|(u, _)| u.clone()),
        );
        users.sort();
        users.dedup();
        let mut diff = Diff::default();
        for user in users {
            diff.absorb(self.settle(&user, now));
        }
        diff
    }

    /// The users in their leave grace period, with the entry others still see and the deadline
    /// (kept in storage, so a leave is not lost if the object sleeps during the grace).
    pub fn leaving_entries(&self) -> Vec<(UserEntry, i64)> {
        self.leaving
            .iter()
            .filter_map(|(user, at)| self.published.get(user).map(|e| (e.clone(), *at)))
            .collect()
    }

    /// Puts back a user in their grace period after the object woke.
    pub fn restore_leaving(&mut self, entry: UserEntry, deadline: i64) {
        self.leaving.insert(entry.user_id.clone(), deadline);
        self.published.insert(entry.user_id.clone(), entry);
    }

    /// When [`Presence::tick`] next has something to do.
    pub fn next_deadline(&self) -> Option<i64> {
        let typing = self.typing.values().map(|t| t.expires_at);
        let leaving = self.leaving.values().copied();
        typing.chain(leaving).min()
    }

    /// The entry `user` should have now (None = offline).
    fn desired(&self, user: &str, now: i64) -> Option<UserEntry> {
        let conns: Vec<&Conn> = self.conns.values().filter(|c| c.user == user).collect();
        if conns.is_empty() {
            // In the grace period others keep seeing what they saw.
            return match self.leaving.get(user) {
                Some(at) if *at > now => self.published.get(user).cloned(),
                _ => None,
            };
        }
        let mut viewing: Vec<String> = conns.iter().filter_map(|c| c.viewing.clone()).collect();
        viewing.sort();
        viewing.dedup();
        let mut editing: Vec<Editing> = self
            .typing
            .iter()
            .filter(|((u, _, _), t)| u == user && t.expires_at > now)
            .map(|((_, order, field), _)| Editing {
                order_id: order.clone(),
                field: field.clone(),
            })
            .collect();
        editing.sort();
        let role = if conns.iter().any(|c| c.role == Role::Manager) {
            Role::Manager
        } else {
            Role::Florist
        };
        Some(UserEntry {
            user_id: user.to_string(),
            role,
            connections: conns.len(),
            viewing,
            editing,
        })
    }

    /// Brings what others were told about `user` up to date; returns the difference.
    fn settle(&mut self, user: &str, now: i64) -> Diff {
        let desired = self.desired(user, now);
        if desired.is_none() {
            self.leaving.remove(user);
        }
        let before = self.published.get(user).cloned();
        let mut diff = Diff::default();
        match (before, desired) {
            (None, Some(entry)) => {
                self.published.insert(user.to_string(), entry.clone());
                diff.joins.push(entry);
            }
            (Some(old), None) => {
                self.published.remove(user);
                diff.leaves.push(old);
            }
            (Some(old), Some(entry)) if old != entry => {
                // One more tab of someone already online is not announced: every socket would
                // get a frame per connect, n²/2 frames for n sockets opening (a reconnect storm
                // after a deploy). Others see the count with the user's next real change; a
                // closing tab (the count going down) is announced at once.
                let more_tabs_only = entry.connections > old.connections
                    && UserEntry {
                        connections: old.connections,
                        ..entry.clone()
                    } == old;
                self.published.insert(user.to_string(), entry.clone());
                if !more_tabs_only {
                    diff.updates.push(entry);
                }
            }
            _ => {}
        }
        diff
    }
}

/// A message a WebSocket client may send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMessage {
    /// Continue from this event id.
    Resume { after: u64 },
    /// Looking at one order (or none: the list).
    View { order_id: Option<String> },
    /// Typing in a field of an order.
    Typing { order_id: String, field: String },
}

/// Largest client frame accepted (bytes); a bigger one closes the socket with 1009.
pub const MAX_CLIENT_FRAME: usize = 4096;
/// Frames per second one connection may send; more closes it with 1008.
pub const MAX_FRAMES_PER_SECOND: u32 = 20;

/// Why a client frame was refused (answered with an `error` frame; the socket stays open).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadMessage {
    pub code: &'static str,
    pub message: String,
}

fn bad(code: &'static str, message: impl Into<String>) -> BadMessage {
    BadMessage {
        code,
        message: message.into(),
    }
}

fn id_like(v: &serde_json::Value, what: &str) -> Result<String, BadMessage> {
    match v.as_str() {
        Some(s) if !s.is_empty() && s.len() <= 100 && !s.chars().any(char::is_control) => {
            Ok(s.to_string())
        }
        _ => Err(bad(
            "invalid_message",
            format!("{what} must be a string of 1 to 100 characters"),
        )),
    }
}

/// Parses a client text frame.
pub fn parse_client_message(text: &str) -> Result<ClientMessage, BadMessage> {
    let v: serde_json::Value = serde_json::from_str(text)
        .map_err(|_| bad("invalid_json", "messages are JSON objects with a type"))?;
    match v.get("type").and_then(serde_json::Value::as_str) {
        Some("resume") => {
            let after = match v.get("after") {
                Some(serde_json::Value::String(s)) => s.parse::<u64>().ok(),
                Some(serde_json::Value::Number(n)) => n.as_u64(),
                _ => None,
            }
            .filter(|n| *n < (1 << 52))
            .ok_or_else(|| bad("invalid_message", "resume needs after: \"<event id>\""))?;
            Ok(ClientMessage::Resume { after })
        }
        Some("view") => {
            let order_id = match v.get("orderId") {
                None | Some(serde_json::Value::Null) => None,
                Some(id) => Some(id_like(id, "orderId")?),
            };
            Ok(ClientMessage::View { order_id })
        }
        Some("typing") => {
            let order_id = id_like(
                v.get("orderId").unwrap_or(&serde_json::Value::Null),
                "orderId",
            )?;
            let field = match v.get("field").and_then(serde_json::Value::as_str) {
                Some(f)
                    if !f.is_empty()
                        && f.len() <= 40
                        && f.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
                {
                    f.to_string()
                }
                _ => {
                    return Err(bad(
                        "invalid_message",
                        "field must be a field name like notes",
                    ))
                }
            };
            Ok(ClientMessage::Typing { order_id, field })
        }
        Some(other) => Err(bad(
            "unknown_type",
            format!(
                "unknown message type '{}'",
                other.chars().take(40).collect::<String>()
            ),
        )),
        None => Err(bad("invalid_message", "messages need a type")),
    }
}

/// Counts one connection's frames per second.
#[derive(Debug, Default, Clone, Copy)]
pub struct RateWindow {
    second: i64,
    count: u32,
}

impl RateWindow {
    /// Records a frame at `now_ms`; false once the connection sends more than the limit in one
    /// second.
    pub fn allow(&mut self, now_ms: i64) -> bool {
        let second = now_ms.div_euclid(1000);
        if second != self.second {
            self.second = second;
            self.count = 0;
        }
        self.count += 1;
        self.count <= MAX_FRAMES_PER_SECOND
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(entries: &[UserEntry]) -> Vec<&str> {
        entries.iter().map(|e| e.user_id.as_str()).collect()
    }

    #[test]
    fn a_first_connection_joins_and_more_tabs_are_quiet_until_one_closes() {
        let mut p = Presence::default();
        let d = p.connect("c1", "ana", Role::Florist, None, 0);
        assert_eq!(names(&d.joins), ["ana"]);
        // n sockets opening must not cost n² frames.
        let d = p.connect("c2", "ana", Role::Florist, None, 0);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(p.users()[0].connections, 2);
        let d = p.disconnect("c2", true, 0);
        assert_eq!(d.updates[0].connections, 1, "a closing tab is announced");
        assert_eq!(p.users().len(), 1);
    }

    #[test]
    fn connected_users_are_those_with_a_live_connection_now() {
        let mut p = Presence::default();
        p.connect("c1", "ana", Role::Florist, None, 0);
        p.connect("c2", "ana", Role::Florist, None, 0);
        p.connect("c3", "bo", Role::Manager, None, 0);
        assert_eq!(
            p.connected_users().into_iter().collect::<Vec<_>>(),
            ["ana", "bo"]
        );
        p.disconnect("c1", false, 10);
        p.disconnect("c3", false, 10);
        // bo is still listed for others during the grace, but nothing of his is open.
        assert_eq!(names(&p.users()), ["ana", "bo"]);
        assert_eq!(p.connected_users().into_iter().collect::<Vec<_>>(), ["ana"]);
    }

    #[test]
    fn a_clean_close_leaves_at_once_and_a_lost_one_after_the_grace() {
        let mut p = Presence::default();
        p.connect("c1", "ana", Role::Florist, None, 0);
        p.connect("c2", "bo", Role::Florist, None, 0);
        let d = p.disconnect("c1", true, 100);
        assert_eq!(names(&d.leaves), ["ana"]);
        let d = p.disconnect("c2", false, 100);
        assert!(d.is_empty(), "bo may be reloading");
        assert_eq!(p.next_deadline(), Some(100 + LEAVE_GRACE_MS));
        assert!(p.tick(100 + LEAVE_GRACE_MS - 1).is_empty());
        let d = p.tick(100 + LEAVE_GRACE_MS);
        assert_eq!(names(&d.leaves), ["bo"]);
        assert!(p.users().is_empty());
    }

    #[test]
    fn a_reconnect_within_the_grace_shows_no_flicker() {
        let mut p = Presence::default();
        p.connect("c1", "ana", Role::Florist, Some("o1".into()), 0);
        assert!(p.disconnect("c1", false, 1_000).is_empty());
        let d = p.connect("c9", "ana", Role::Florist, Some("o1".into()), 3_000);
        assert!(d.is_empty(), "same entry as before: {d:?}");
        assert!(p.tick(10_000).is_empty());
        assert_eq!(p.users()[0].connections, 1);
    }

    #[test]
    fn a_grace_period_survives_the_object_sleeping() {
        let mut p = Presence::default();
        p.connect("c1", "ana", Role::Florist, None, 0);
        p.disconnect("c1", false, 0);
        let kept = p.leaving_entries();
        assert_eq!(kept.len(), 1);
        let mut woken = Presence::default();
        for (entry, at) in kept {
            woken.restore_leaving(entry, at);
        }
        assert_eq!(names(&woken.users()), ["ana"]);
        assert_eq!(names(&woken.tick(LEAVE_GRACE_MS).leaves), ["ana"]);
    }

    #[test]
    fn viewing_is_aggregated_over_the_users_connections() {
        let mut p = Presence::default();
        p.connect("c1", "ana", Role::Florist, None, 0);
        p.connect("c2", "ana", Role::Florist, None, 0);
        let d = p.view("c1", Some("o2".into()), 0);
        assert_eq!(d.updates[0].viewing, ["o2"]);
        let d = p.view("c2", Some("o1".into()), 0);
        assert_eq!(d.updates[0].viewing, ["o1", "o2"]);
        assert!(p.view("c2", Some("o1".into()), 0).is_empty());
    }

    #[test]
    fn typing_is_throttled_and_expires() {
        let mut p = Presence::default();
        p.connect("c1", "ana", Role::Florist, None, 0);
        let (notice, d) = p.typing("c1", "o1", "notes", 1_000);
        assert_eq!(notice.map(|t| t.field), Some("notes".to_string()));
        assert_eq!(d.updates[0].editing[0].order_id, "o1");
        let (notice, d) = p.typing("c1", "o1", "notes", 2_500);
        assert!(notice.is_none(), "within 2 s of the last broadcast");
        assert!(d.is_empty());
        let (notice, _) = p.typing("c1", "o1", "notes", 3_000);
        assert!(notice.is_some());
        // 5 s after the last keystroke the editing entry goes.
        assert!(p.tick(7_999).is_empty());
        let d = p.tick(8_000);
        assert!(d.updates[0].editing.is_empty());
    }

    #[test]
    fn client_messages_are_parsed_strictly() {
        assert_eq!(
            parse_client_message(r#"{"type":"resume","after":"42"}"#),
            Ok(ClientMessage::Resume { after: 42 })
        );
        assert_eq!(
            parse_client_message(r#"{"type":"view","orderId":null}"#),
            Ok(ClientMessage::View { order_id: None })
        );
        assert_eq!(
            parse_client_message(r#"{"type":"typing","orderId":"o1","field":"notes"}"#),
            Ok(ClientMessage::Typing {
                order_id: "o1".into(),
                field: "notes".into()
            })
        );
        assert_eq!(
            parse_client_message("nope").unwrap_err().code,
            "invalid_json"
        );
        assert_eq!(
            parse_client_message(r#"{"type":"dance"}"#)
                .unwrap_err()
                .code,
            "unknown_type"
        );
        for bad in [
            r#"{"type":"resume"}"#,
            r#"{"type":"resume","after":"x"}"#,
            r#"{"type":"typing","orderId":"o1","field":"no tes"}"#,
            r#"{"type":"view","orderId":5}"#,
            r#"{}"#,
        ] {
            assert_eq!(
                parse_client_message(bad).unwrap_err().code,
                "invalid_message",
                "{bad}"
            );
        }
    }

    #[test]
    fn more_than_twenty_frames_in_a_second_are_refused() {
        let mut w = RateWindow::default();
        for i in 0..20 {
            assert!(w.allow(5_000 + i));
        }
        assert!(!w.allow(5_900));
        assert!(w.allow(6_000), "a new second starts over");
    }
}
