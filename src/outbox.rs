//! One subscriber's stream writes, coalesced: at most one write is in flight at a time; what
//! arrives meanwhile waits here and goes out as one chunk when that write is done. With one
//! event at a time nothing waits (the stream is idle, the frame is written at once, no timer);
//! when events come faster than the subscriber drains, each write carries every pending frame.
//! Frames are never merged or dropped: the chunk is their bytes one after the other, so an SSE
//! reader sees exactly the same `id:`/`event:`/`data:` frames.
//!
//! Bounded in bytes: a subscriber whose in-flight and pending bytes would pass the limit is
//! refused on that write (the hub then drops it), so a reader that stops reading cannot hold
//! more than the limit of the object's memory.

/// What to do with one frame offered to a subscriber.
#[derive(Debug, PartialEq, Eq)]
pub enum Offer {
    /// Nothing in flight: write this frame now (the outbox counts it as in flight).
    WriteNow,
    /// A write is in flight: the frame waits, and goes out with the next chunk.
    Queued,
    /// The subscriber is too far behind: drop it.
    Overflow,
}

#[derive(Debug)]
pub struct Outbox {
    /// Bytes of the write in flight (0: none).
    in_flight: usize,
    pending: Vec<u8>,
    limit: usize,
}

impl Outbox {
    /// An idle outbox that holds at most `limit` bytes (in flight plus pending).
    pub fn new(limit: usize) -> Outbox {
        Outbox {
            in_flight: 0,
            pending: Vec::new(),
            limit,
        }
    }

    pub fn offer(&mut self, frame: &[u8]) -> Offer {
        if self.in_flight == 0 && self.pending.is_empty() {
            self.in_flight = frame.len().max(1);
            return Offer::WriteNow;
        }
        if self.queued_bytes() + frame.len() > self.limit {
            return Offer::Overflow;
        }
        self.pending.extend_from_slice(frame);
        Offer::Queued
    }

    /// The write in flight is done: the next chunk to write (everything pending, now in flight),
    /// or `None` when nothing waits (the outbox is idle).
    pub fn written(&mut self) -> Option<Vec<u8>> {
        self.in_flight = 0;
        if self.pending.is_empty() {
            return None;
        }
        let chunk = std::mem::take(&mut self.pending);
        self.in_flight = chunk.len();
        Some(chunk)
    }

    /// What waits, taken out (for a last write before the stream is closed).
    pub fn take_pending(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.pending)
    }

    /// Bytes in flight plus pending: how far behind the reader is.
    pub fn queued_bytes(&self) -> usize {
        self.in_flight + self.pending.len()
    }

    pub fn is_idle(&self) -> bool {
        self.in_flight == 0 && self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_frame_at_a_time_is_written_at_once() {
        let mut out = Outbox::new(1024);
        for frame in [&b"id: 1\n\n"[..], b"id: 2\n\n", b"id: 3\n\n"] {
            assert_eq!(out.offer(frame), Offer::WriteNow);
            assert_eq!(out.written(), None);
            assert!(out.is_idle());
        }
    }

    #[test]
    fn frames_arriving_during_a_write_go_out_together_in_order() {
        let mut out = Outbox::new(1024);
        assert_eq!(out.offer(b"id: 1\n\n"), Offer::WriteNow);
        assert_eq!(out.offer(b"id: 2\n\n"), Offer::Queued);
        assert_eq!(out.offer(b"id: 3\n\n"), Offer::Queued);
        assert_eq!(out.written().as_deref(), Some(&b"id: 2\n\nid: 3\n\n"[..]));
        // That chunk is in flight now: the next frame waits for it.
        assert_eq!(out.offer(b"id: 4\n\n"), Offer::Queued);
        assert_eq!(out.queued_bytes(), 21);
        assert_eq!(out.written().as_deref(), Some(&b"id: 4\n\n"[..]));
        assert_eq!(out.written(), None);
        assert_eq!(out.offer(b"id: 5\n\n"), Offer::WriteNow);
    }

    #[test]
    fn a_reader_that_stops_reading_overflows_at_the_limit() {
        let mut out = Outbox::new(100);
        assert_eq!(out.offer(&[b'x'; 40]), Offer::WriteNow);
        assert_eq!(out.offer(&[b'y'; 40]), Offer::Queued);
        assert_eq!(out.queued_bytes(), 80);
        assert_eq!(out.offer(&[b'z'; 21]), Offer::Overflow);
        // Nothing of the refused frame was kept.
        assert_eq!(out.queued_bytes(), 80);
        assert_eq!(out.offer(&[b'z'; 20]), Offer::Queued);
    }

    #[test]
    fn what_waits_can_be_taken_for_a_last_write() {
        let mut out = Outbox::new(100);
        out.offer(b"a");
        out.offer(b"b");
        out.offer(b"c");
        assert_eq!(out.take_pending(), b"bc");
        assert_eq!(out.written(), None);
    }
}
