//! The tenant hub's logic: who is subscribed, what each subscriber has seen, and which event
//! goes out next. Pure and synchronous; `hub_do.rs` drives it with D1 reads and real streams.
//!
//! Guarantees:
//! - Events go out in strictly increasing seq with no gap: an event that arrives early (seq N+2
//!   before N+1, two writers racing) waits in `pending` while the shell fills the gap from D1.
//! - Each subscriber gets each seq at most once: a subscriber remembers the last seq it was
//!   sent, and the hub never sends it anything at or below that (no duplicate at the resume seam).
//! - A subscriber whose write fails is dropped and the broadcast goes on to the others.

use std::collections::BTreeMap;

/// Where a subscriber's bytes go (an SSE stream or a WebSocket). An event is encoded once
/// (`Sink::frame`) and the same frame is handed to every subscriber.
pub trait Sink {
    /// One committed event, encoded for every transport, shared by all subscribers.
    type Frame;
    /// Builds the shared frame from the event's SSE frame text (`id:`/`event:`/`data:`).
    fn frame(sse: &str) -> Self::Frame;
    /// Queues a frame; false when the client is gone (its stream errored).
    fn send(&self, frame: &Self::Frame) -> bool;
    /// Sends a message meant for this subscriber alone, in its transport's form; false when the
    /// client is gone.
    fn control(&self, msg: &Control<'_>) -> bool;
    /// True when the client reads so slowly that its queue has piled up: it is dropped at the
    /// next heartbeat rather than buffered without bound.
    fn stalled(&self) -> bool {
        false
    }
}

/// The hub's own messages to one subscriber (not events of the log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control<'a> {
    /// The first message: where this subscriber's stream starts, and the shop's head.
    Hello { position: u64, head: u64 },
    /// Its position cannot be served: refetch the list, continue from `cursor`.
    Resync { cursor: u64 },
    /// The periodic sign of life a client's watchdog waits for.
    Heartbeat { now: &'a str },
    /// Its token expired: the stream ends; reconnect with a fresh token.
    Reauth,
}

pub type SubscriberId = u64;

struct Subscriber<S> {
    sink: S,
    last_sent: u64,
    live: bool,
    /// Whether any event went out to it yet (a late `resume` can only rewind before that).
    sent_any: bool,
    /// When its token expires (unix seconds); the stream ends then.
    expires_at: Option<i64>,
}

/// What a late `resume` request of a subscriber needs.
#[derive(Debug, PartialEq, Eq)]
pub enum Rewind {
    /// Nothing: it already has everything up to where it asks.
    Nothing,
    /// It is moved back and must be caught up from the log (then [`Hub::go_live`]).
    CatchUp,
    /// Events after its position went out already; it was told to resync instead.
    Resynced,
}

/// What the shell must do next to move the broadcast forward.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing to do.
    Idle,
    /// Read events with `after < seq < before` from the log and `offer` them, then call
    /// [`Hub::gap_filled`].
    Fill { after: u64, before: u64 },
}

pub struct Hub<S: Sink> {
    /// By id: one lookup per replayed event, whatever the number of subscribers.
    subscribers: BTreeMap<SubscriberId, Subscriber<S>>,
    /// Events offered but not yet broadcast, by seq; the frame is encoded once, shared by all.
    pending: BTreeMap<u64, S::Frame>,
    /// Highest seq broadcast to live subscribers (`None` until the first subscriber goes live).
    delivered: Option<u64>,
    /// Highest seq known to be committed.
    head: u64,
    next_id: SubscriberId,
    /// Subscribers dropped since the shell last asked (gone, stalled, expired).
    dropped: Vec<SubscriberId>,
}

impl<S: Sink> Default for Hub<S> {
    fn default() -> Self {
        Self {
            subscribers: BTreeMap::new(),
            pending: BTreeMap::new(),
            delivered: None,
            head: 0,
            next_id: 1,
            dropped: Vec::new(),
        }
    }
}

impl<S: Sink> Hub<S> {
    pub fn subscriber_count(&self) -> usize {
        self.subscribers.len()
    }

    pub fn has_live(&self) -> bool {
        self.subscribers.values().any(|s| s.live)
    }

    pub fn last_broadcast(&self) -> u64 {
        self.delivered.unwrap_or(0)
    }

    pub fn head(&self) -> u64 {
        self.head
    }

    /// Records that `seq` is committed (e.g. read from the tenant row).
    pub fn note_head(&mut self, seq: u64) {
        self.head = self.head.max(seq);
    }

    /// Registers a subscriber that has seen everything up to `after`, whose token expires at
    /// `expires_at`. It receives nothing from broadcasts until [`Hub::go_live`] succeeds; the
    /// shell catches it up from the log first.
    pub fn subscribe(
        &mut self,
        sink: S,
        after: u64,
        expires_at: Option<i64>,
    ) -> Option<SubscriberId> {
        let id = self.next_id;
        self.next_id += 1;
        self.subscribers.insert(
            id,
            Subscriber {
                sink,
                last_sent: after,
                live: false,
                sent_any: false,
                expires_at,
            },
        );
        // The hello (SSE preamble) goes out at once so the client sees a live stream.
        let hello = Control::Hello {
            position: after,
            head: self.head,
        };
        self.control_to(id, &hello).then_some(id)
    }

    /// Takes back a subscriber the shell already had (a WebSocket that outlived the object's
    /// memory): live at `after`, with no hello.
    pub fn adopt(&mut self, sink: S, after: u64, expires_at: Option<i64>) -> SubscriberId {
        let id = self.next_id;
        self.next_id += 1;
        self.subscribers.insert(
            id,
            Subscriber {
                sink,
                last_sent: after,
                live: true,
                sent_any: true,
                expires_at,
            },
        );
        if self.delivered.is_none_or(|d| d < after) {
            self.delivered = Some(after);
        }
        self.note_head(after);
        id
    }

    /// A subscriber asks to continue from `after` (a WebSocket's `resume` message).
    pub fn rewind(&mut self, id: SubscriberId, after: u64) -> Rewind {
        let head = self.head;
        let Some(sub) = self.subscribers.get_mut(&id) else {
            return Rewind::Nothing;
        };
        if after > head {
            let cursor = sub.last_sent.max(head);
            self.resync(id, cursor);
            return Rewind::Resynced;
        }
        if after >= sub.last_sent {
            sub.last_sent = after;
            return Rewind::Nothing;
        }
        if sub.sent_any {
            // Newer events went out already: replaying older ones now would break the order.
            let cursor = sub.last_sent;
            self.resync(id, cursor);
            return Rewind::Resynced;
        }
        sub.last_sent = after;
        sub.live = false;
        Rewind::CatchUp
    }

    /// Removes a subscriber the shell knows is gone (a closed WebSocket).
    pub fn unsubscribe(&mut self, id: SubscriberId) {
        if self.subscribers.remove(&id).is_some() && !self.has_live() {
            self.delivered = None;
        }
    }

    /// The subscribers dropped since the last call (their write failed, they stalled, or their
    /// token expired), so the shell can update presence.
    pub fn take_dropped(&mut self) -> Vec<SubscriberId> {
        std::mem::take(&mut self.dropped)
    }

    /// Sends a control message to one subscriber; drops it if the write fails.
    fn control_to(&mut self, id: SubscriberId, msg: &Control<'_>) -> bool {
        let Some(sub) = self.subscribers.get(&id) else {
            return false;
        };
        if sub.sink.control(msg) {
            return true;
        }
        self.subscribers.remove(&id);
        self.dropped.push(id);
        false
    }

    /// A subscriber's sink (e.g. to wait until its stream has room).
    pub fn sink(&self, id: SubscriberId) -> Option<&S> {
        self.subscribers.get(&id).map(|s| &s.sink)
    }

    pub fn last_sent(&self, id: SubscriberId) -> Option<u64> {
        self.subscribers.get(&id).map(|s| s.last_sent)
    }

    /// Sends a frame to one subscriber and, if it took it, moves its position to `now_at`;
    /// drops it if the write fails.
    fn send_to(&mut self, id: SubscriberId, frame: &S::Frame, now_at: Option<u64>) -> bool {
        let Some(sub) = self.subscribers.get_mut(&id) else {
            return false;
        };
        if !sub.sink.send(frame) {
            self.subscribers.remove(&id);
            self.dropped.push(id);
            return false;
        }
        if let Some(seq) = now_at {
            sub.last_sent = seq;
            sub.sent_any = true;
        }
        true
    }

    /// Sends a replayed event from the log to one catching-up subscriber, skipping what it has.
    pub fn replay_to(&mut self, id: SubscriberId, seq: u64, frame: &S::Frame) -> bool {
        match self.last_sent(id) {
            Some(last) if seq <= last => true,
            Some(_) => self.send_to(id, frame, Some(seq)),
            None => false,
        }
    }

    /// Moves a subscriber to `cursor` when its own position cannot be served (pruned, or an id
    /// we never issued): it is told to resync (refetch the list) and continues from `cursor`.
    pub fn resync(&mut self, id: SubscriberId, cursor: u64) -> bool {
        if !self.control_to(id, &Control::Resync { cursor }) {
            return false;
        }
        if let Some(sub) = self.subscribers.get_mut(&id) {
            sub.last_sent = cursor;
            sub.sent_any = true;
        }
        true
    }

    /// Turns a caught-up subscriber live. Returns false while it is still behind the head (the
    /// shell must replay more from the log first). Synchronous, so no broadcast can slip between
    /// the check and the switch.
    pub fn go_live(&mut self, id: SubscriberId) -> bool {
        let head = self.head;
        let any_live = self.has_live();
        let Some(sub) = self.subscribers.get_mut(&id) else {
            return false;
        };
        if sub.last_sent < head {
            return false;
        }
        sub.live = true;
        if !any_live || self.delivered.is_none() {
            self.delivered = Some(sub.last_sent);
            self.pending.retain(|&seq, _| seq > sub.last_sent);
        }
        true
    }

    /// A committed event arrives (from a writer, or from a gap fill).
    pub fn offer(&mut self, seq: u64, frame: S::Frame) {
        self.note_head(seq);
        let Some(delivered) = self.delivered else {
            return; // nobody live: catching-up subscribers read the log themselves
        };
        if seq > delivered {
            self.pending.insert(seq, frame);
        }
    }

    /// Broadcasts every pending event that is next in line; returns what the shell must do next.
    pub fn pump(&mut self) -> Step {
        loop {
            let Some(delivered) = self.delivered else {
                self.pending.clear();
                return Step::Idle;
            };
            let Some((&seq, _)) = self.pending.first_key_value() else {
                return Step::Idle;
            };
            if seq > delivered + 1 {
                return Step::Fill {
                    after: delivered,
                    before: seq,
                };
            }
            if let Some(frame) = self.pending.remove(&seq) {
                if seq == delivered + 1 {
                    self.broadcast(seq, &frame);
                }
            }
        }
    }

    /// After a fill: if the log could not supply the missing events (pruned), live subscribers
    /// are told to resync and the broadcast moves on, so one lost event never stalls the tenant.
    pub fn gap_filled(&mut self, before: u64) {
        let Some(delivered) = self.delivered else {
            return;
        };
        let next_missing = delivered + 1;
        if next_missing < before && !self.pending.contains_key(&next_missing) {
            let cursor = before - 1;
            let ids: Vec<SubscriberId> = self
                .subscribers
                .iter()
                .filter(|(_, s)| s.live && s.last_sent < cursor)
                .map(|(id, _)| *id)
                .collect();
            for id in ids {
                self.resync(id, cursor);
            }
            self.delivered = Some(cursor);
        }
    }

    /// Sends one frame to every live subscriber that has not seen `seq`; drops the ones whose
    /// write fails. Returns how many received it.
    fn broadcast(&mut self, seq: u64, frame: &S::Frame) -> usize {
        let mut delivered = 0;
        let dropped = &mut self.dropped;
        self.subscribers.retain(|id, s| {
            if !s.live || s.last_sent >= seq {
                return true;
            }
            if s.sink.send(frame) {
                s.last_sent = seq;
                s.sent_any = true;
                delivered += 1;
                true
            } else {
                dropped.push(*id);
                false
            }
        });
        self.delivered = Some(seq);
        delivered
    }

    /// Writes a heartbeat to everyone; the failed writes are how departed clients are found.
    /// Returns how many subscribers were dropped.
    pub fn heartbeat(&mut self, now: &str) -> usize {
        let before = self.subscribers.len();
        let beat = Control::Heartbeat { now };
        let dropped = &mut self.dropped;
        self.subscribers.retain(|id, s| {
            let keep = s.sink.control(&beat) && !s.sink.stalled();
            if !keep {
                dropped.push(*id);
            }
            keep
        });
        if !self.has_live() {
            self.delivered = None;
        }
        before - self.subscribers.len()
    }

    /// Ends the streams whose token has expired by `now` (unix seconds), after telling each to
    /// reauthenticate. Returns how many ended.
    pub fn expire_tokens(&mut self, now: i64) -> usize {
        let expired: Vec<SubscriberId> = self
            .subscribers
            .iter()
            .filter(|(_, s)| s.expires_at.is_some_and(|exp| exp <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in &expired {
            if let Some(sub) = self.subscribers.remove(id) {
                let _ = sub.sink.control(&Control::Reauth);
                self.dropped.push(*id);
            }
        }
        if !self.has_live() {
            self.delivered = None;
        }
        expired.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;

    /// A sink that records what it was sent and can be made to fail (a departed client).
    #[derive(Clone, Default)]
    struct Recorder {
        got: Rc<RefCell<Vec<String>>>,
        gone: Rc<Cell<bool>>,
        slow: Rc<Cell<bool>>,
    }

    impl Sink for Recorder {
        type Frame = Rc<str>;

        fn frame(text: &str) -> Rc<str> {
            Rc::from(text)
        }

        fn send(&self, frame: &Rc<str>) -> bool {
            if self.gone.get() {
                return false;
            }
            self.got.borrow_mut().push(frame.to_string());
            true
        }

        fn control(&self, msg: &Control<'_>) -> bool {
            if self.gone.get() {
                return false;
            }
            let text = match msg {
                Control::Hello { position, head } => format!("hello {position} {head}"),
                Control::Resync { cursor } => format!("resync {cursor}"),
                Control::Heartbeat { .. } => "heartbeat".to_string(),
                Control::Reauth => "reauth".to_string(),
            };
            self.got.borrow_mut().push(text);
            true
        }

        fn stalled(&self) -> bool {
            self.slow.get()
        }
    }

    impl Recorder {
        fn events(&self) -> Vec<String> {
            self.got
                .borrow()
                .iter()
                .filter(|b| b.starts_with("ev"))
                .cloned()
                .collect()
        }
    }

    fn frame(seq: u64) -> Rc<str> {
        Rc::from(format!("ev{seq}"))
    }

    fn live(hub: &mut Hub<Recorder>, after: u64) -> (SubscriberId, Recorder) {
        let r = Recorder::default();
        let id = hub.subscribe(r.clone(), after, None).unwrap();
        assert!(hub.go_live(id));
        (id, r)
    }

    #[test]
    fn two_live_subscribers_both_get_each_event_once_in_order() {
        let mut hub = Hub::default();
        let (_, a) = live(&mut hub, 0);
        let (_, b) = live(&mut hub, 0);
        for seq in 1..=3 {
            hub.offer(seq, frame(seq));
            assert_eq!(hub.pump(), Step::Idle);
        }
        hub.offer(2, frame(2)); // a duplicate publish changes nothing
        assert_eq!(hub.pump(), Step::Idle);
        assert_eq!(a.events(), vec!["ev1", "ev2", "ev3"]);
        assert_eq!(b.events(), a.events());
        assert_eq!(a.got.borrow()[0], "hello 0 0");
    }

    #[test]
    fn an_early_event_waits_for_the_gap_to_be_filled() {
        let mut hub = Hub::default();
        let (_, a) = live(&mut hub, 5);
        hub.offer(7, frame(7));
        assert_eq!(
            hub.pump(),
            Step::Fill {
                after: 5,
                before: 7
            }
        );
        assert!(a.events().is_empty());
        hub.offer(6, frame(6)); // the fill (or the late writer) supplies 6
        hub.gap_filled(7);
        assert_eq!(hub.pump(), Step::Idle);
        assert_eq!(a.events(), vec!["ev6", "ev7"]);
    }

    #[test]
    fn an_unfillable_gap_resyncs_instead_of_stalling() {
        let mut hub = Hub::default();
        let (_, a) = live(&mut hub, 5);
        hub.offer(8, frame(8));
        assert_eq!(
            hub.pump(),
            Step::Fill {
                after: 5,
                before: 8
            }
        );
        hub.gap_filled(8);
        assert_eq!(hub.pump(), Step::Idle);
        let got = a.got.borrow().clone();
        assert!(got.iter().any(|f| f.starts_with("resync ")));
        assert_eq!(got.last().map(String::as_str), Some("ev8"));
    }

    #[test]
    fn a_failed_write_drops_only_that_subscriber() {
        let mut hub = Hub::default();
        let (_, a) = live(&mut hub, 0);
        let (_, b) = live(&mut hub, 0);
        let (_, c) = live(&mut hub, 0);
        b.gone.set(true);
        hub.offer(1, frame(1));
        hub.pump();
        assert_eq!(hub.subscriber_count(), 2);
        assert_eq!(a.events(), vec!["ev1"]);
        assert_eq!(c.events(), vec!["ev1"]);
    }

    #[test]
    fn heartbeats_prune_departed_clients() {
        let mut hub = Hub::default();
        let (_, a) = live(&mut hub, 0);
        let (_, _b) = live(&mut hub, 0);
        assert_eq!(hub.heartbeat("2026-11-24T10:00:00.000Z"), 0);
        a.gone.set(true);
        assert_eq!(hub.heartbeat("2026-11-24T10:00:00.000Z"), 1);
        assert_eq!(hub.subscriber_count(), 1);
    }

    #[test]
    fn a_stalled_reader_is_dropped_at_the_heartbeat() {
        let mut hub = Hub::default();
        let (_, slow) = live(&mut hub, 0);
        let (_, _ok) = live(&mut hub, 0);
        slow.slow.set(true);
        assert_eq!(hub.heartbeat("2026-11-24T10:00:00.000Z"), 1);
        assert_eq!(hub.subscriber_count(), 1);
    }

    #[test]
    fn a_catching_up_subscriber_gets_no_duplicate_or_gap_at_the_seam() {
        let mut hub = Hub::default();
        let (_, old) = live(&mut hub, 2);
        // A new subscriber resumes after 2 while 3 and 4 are broadcast live.
        let r = Recorder::default();
        let id = hub.subscribe(r.clone(), 2, None).unwrap();
        hub.offer(3, frame(3));
        hub.pump();
        // Its log read returned 3 only; 4 commits and is broadcast meanwhile.
        assert!(hub.replay_to(id, 3, &frame(3)));
        hub.offer(4, frame(4));
        hub.pump();
        assert!(!hub.go_live(id), "still behind the head (4)");
        // The next log read returns 3 and 4; 3 is skipped as already sent.
        assert!(hub.replay_to(id, 3, &frame(3)));
        assert!(hub.replay_to(id, 4, &frame(4)));
        assert!(hub.go_live(id));
        hub.offer(5, frame(5));
        hub.pump();
        assert_eq!(r.events(), vec!["ev3", "ev4", "ev5"]);
        assert_eq!(old.events(), vec!["ev3", "ev4", "ev5"]);
    }

    #[test]
    fn a_resync_from_an_unknown_future_id_moves_the_subscriber_back_to_the_head() {
        let mut hub = Hub::default();
        hub.note_head(4);
        let r = Recorder::default();
        let id = hub.subscribe(r.clone(), 999, None).unwrap();
        hub.resync(id, 4);
        assert!(hub.go_live(id));
        hub.offer(5, frame(5));
        hub.pump();
        assert_eq!(r.events(), vec!["ev5"]);
    }

    #[test]
    fn offers_with_nobody_live_are_not_kept() {
        let mut hub: Hub<Recorder> = Hub::default();
        hub.offer(1, frame(1));
        assert_eq!(hub.pump(), Step::Idle);
        assert_eq!(hub.head(), 1);
        assert_eq!(hub.last_broadcast(), 0);
    }

    #[test]
    fn an_expired_token_gets_reauth_and_its_stream_ends() {
        let mut hub = Hub::default();
        let r = Recorder::default();
        let id = hub.subscribe(r.clone(), 0, Some(100)).unwrap();
        assert!(hub.go_live(id));
        let (_, other) = live(&mut hub, 0);
        assert_eq!(hub.expire_tokens(99), 0);
        assert_eq!(hub.expire_tokens(100), 1);
        assert_eq!(r.got.borrow().last().map(String::as_str), Some("reauth"));
        assert_eq!(hub.take_dropped(), vec![id]);
        hub.offer(1, frame(1));
        hub.pump();
        assert!(r.events().is_empty(), "nothing after reauth");
        assert_eq!(other.events(), vec!["ev1"]);
    }

    #[test]
    fn dropped_subscribers_are_reported_once() {
        let mut hub = Hub::default();
        let (a, ra) = live(&mut hub, 0);
        let (_, _rb) = live(&mut hub, 0);
        ra.gone.set(true);
        hub.offer(1, frame(1));
        hub.pump();
        assert_eq!(hub.take_dropped(), vec![a]);
        assert!(hub.take_dropped().is_empty());
    }

    #[test]
    fn a_resume_before_any_event_rewinds_and_after_events_resyncs() {
        let mut hub = Hub::default();
        hub.note_head(10);
        let r = Recorder::default();
        let id = hub.subscribe(r.clone(), 10, None).unwrap();
        assert!(hub.go_live(id));
        assert_eq!(hub.rewind(id, 7), Rewind::CatchUp);
        assert_eq!(hub.last_sent(id), Some(7));
        for seq in 8..=10 {
            assert!(hub.replay_to(id, seq, &frame(seq)));
        }
        assert!(hub.go_live(id));
        hub.offer(11, frame(11));
        hub.pump();
        assert_eq!(r.events(), vec!["ev8", "ev9", "ev10", "ev11"]);
        // Events went out: rewinding now would reorder them, so it resyncs at its position.
        assert_eq!(hub.rewind(id, 9), Rewind::Resynced);
        assert_eq!(r.got.borrow().last().map(String::as_str), Some("resync 11"));
        assert_eq!(hub.rewind(id, 11), Rewind::Nothing);
        assert_eq!(
            hub.rewind(id, 99),
            Rewind::Resynced,
            "an id we never issued"
        );
    }

    #[test]
    fn an_adopted_subscriber_is_live_where_it_was() {
        let mut hub = Hub::default();
        let r = Recorder::default();
        let id = hub.adopt(r.clone(), 5, None);
        assert!(r.got.borrow().is_empty(), "no second hello");
        hub.offer(7, frame(7));
        assert_eq!(
            hub.pump(),
            Step::Fill {
                after: 5,
                before: 7
            }
        );
        hub.offer(6, frame(6));
        hub.gap_filled(7);
        hub.pump();
        assert_eq!(r.events(), vec!["ev6", "ev7"]);
        assert_eq!(hub.last_sent(id), Some(7));
    }
}
