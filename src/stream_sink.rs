//! The hub's SSE streams: the writable half of a byte pipe (the runtime's native
//! `IdentityTransformStream`, see [`pipe`]) whose readable half is the body of the subscriber's
//! response, written through an [`Outbox`] so that a burst of events
//! goes out as one chunk per subscriber (one runtime write and one network write instead of
//! one per event), while a lone event is written at once.
//!
//! A write's promise settles when the runtime has taken the chunk (the reader pulled it), which
//! is when the next chunk may go. The callbacks are two closures shared by every stream of the
//! object and bound to a stream's key once, when it opens; a stream that is gone by the time its
//! promise settles is simply not found.

use std::cell::{Cell, OnceCell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};

use js_sys::{Function, Promise, Uint8Array};
use wasm_bindgen::prelude::{wasm_bindgen, Closure};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::WritableStreamDefaultWriter;

use crate::outbox::{Offer, Outbox};

#[wasm_bindgen]
extern "C" {
    /// A promise seen untyped, to hand `then`/`catch` plain (bound) functions.
    type Settling;
    #[wasm_bindgen(method, js_name = then)]
    fn then_calling(this: &Settling, on_fulfilled: &JsValue, on_rejected: &JsValue) -> Promise;
    #[wasm_bindgen(method, js_name = catch)]
    fn catch_calling(this: &Settling, on_rejected: &JsValue) -> Promise;
}

#[wasm_bindgen]
extern "C" {
    /// workerd's byte pipe (`IdentityTransformStream`): what is written is handed natively to
    /// whoever reads, with no JavaScript queue or promise machinery per chunk in between.
    /// <https://developers.cloudflare.com/workers/runtime-apis/streams/transformstream/>
    type IdentityTransformStream;
    #[wasm_bindgen(constructor, catch)]
    fn new() -> Result<IdentityTransformStream, JsValue>;
    #[wasm_bindgen(method, getter)]
    fn readable(this: &IdentityTransformStream) -> web_sys::ReadableStream;
    #[wasm_bindgen(method, getter)]
    fn writable(this: &IdentityTransformStream) -> web_sys::WritableStream;
}

/// A byte pipe for one SSE response: its writer (for the hub) and its readable end (the body).
/// The runtime's native pipe where there is one; a standard `TransformStream` elsewhere.
pub fn pipe() -> Result<(WritableStreamDefaultWriter, web_sys::ReadableStream), JsValue> {
    let (writable, readable) = match IdentityTransformStream::new() {
        Ok(native) => (native.writable(), native.readable()),
        Err(_) => {
            let standard = web_sys::TransformStream::new()?;
            (standard.writable(), standard.readable())
        }
    };
    Ok((writable.get_writer()?, readable))
}

fn settling(promise: &Promise) -> &Settling {
    promise.unchecked_ref()
}

type Registry = Rc<RefCell<HashMap<u32, Weak<Stream>>>>;

/// Every SSE stream of one object, and the two callbacks their writes settle into.
pub struct Streams {
    registry: Registry,
    next_key: Cell<u32>,
    on_written: Closure<dyn FnMut(JsValue, JsValue)>,
    on_failed: Closure<dyn FnMut(JsValue, JsValue)>,
    /// Bytes a subscriber may leave unread before it is dropped.
    limit: usize,
}

impl Streams {
    pub fn new(limit: usize) -> Streams {
        let registry: Registry = Rc::default();
        let find = |registry: &Registry, key: &JsValue| {
            let key = key.as_f64()? as u32;
            registry.borrow().get(&key).and_then(Weak::upgrade)
        };
        let written = registry.clone();
        let failed = registry.clone();
        Streams {
            registry,
            next_key: Cell::new(1),
            on_written: Closure::new(move |key: JsValue, _: JsValue| {
                if let Some(stream) = find(&written, &key) {
                    stream.written();
                }
            }),
            on_failed: Closure::new(move |key: JsValue, _: JsValue| {
                if let Some(stream) = find(&failed, &key) {
                    stream.broken.set(true);
                }
            }),
            limit,
        }
    }

    /// A sink writing to `writer`.
    pub fn open(&self, writer: WritableStreamDefaultWriter) -> StreamSink {
        let key = self.next_key.get();
        self.next_key.set(key.wrapping_add(1));
        let bind = |closure: &Closure<dyn FnMut(JsValue, JsValue)>| {
            let f: &Function = closure.as_ref().unchecked_ref();
            JsValue::from(f.bind1(&JsValue::NULL, &JsValue::from(key)))
        };
        let stream = Rc::new(Stream {
            writer,
            outbox: RefCell::new(Outbox::new(self.limit)),
            written: bind(&self.on_written),
            failed: bind(&self.on_failed),
            broken: Cell::new(false),
            in_flight: RefCell::new(None),
        });
        self.registry
            .borrow_mut()
            .insert(key, Rc::downgrade(&stream));
        StreamSink {
            key,
            stream,
            registry: Rc::downgrade(&self.registry),
        }
    }
}

struct Stream {
    writer: WritableStreamDefaultWriter,
    outbox: RefCell<Outbox>,
    /// `on_written` / `on_failed` bound to this stream's key.
    written: JsValue,
    failed: JsValue,
    /// The stream errored (the client went away and its body was cancelled).
    broken: Cell<bool>,
    /// The write in flight, for a replay that waits until the reader drained.
    in_flight: RefCell<Option<Promise>>,
}

impl Stream {
    fn start(&self, chunk: &Uint8Array) {
        let write = self.writer.write_with_chunk(chunk);
        let promise = settling(&write).then_calling(&self.written, &self.failed);
        self.in_flight.replace(Some(promise));
    }

    /// The write in flight is done: everything that waited goes out as one chunk.
    fn written(&self) {
        let next = self.outbox.borrow_mut().written();
        match next {
            Some(chunk) => self.start(&Uint8Array::from(chunk.as_slice())),
            None => {
                self.in_flight.replace(None);
            }
        }
    }
}

/// One subscriber's SSE stream. Dropping it ends the client's stream (after what still waits).
pub struct StreamSink {
    key: u32,
    stream: Rc<Stream>,
    registry: Weak<RefCell<HashMap<u32, Weak<Stream>>>>,
}

impl StreamSink {
    /// Writes (or queues) a frame; `shared` holds the same bytes as a runtime array once built
    /// (one event's frame, built at most once for every subscriber), used when the frame goes
    /// out on its own. False when the client is gone or too far behind: the hub drops it.
    pub fn write(&self, bytes: &[u8], shared: &OnceCell<Uint8Array>) -> bool {
        let stream = &self.stream;
        if stream.broken.get() {
            return false;
        }
        let offer = stream.outbox.borrow_mut().offer(bytes);
        match offer {
            Offer::WriteNow => {
                // An errored stream has no size: the client left since the last write.
                if !matches!(stream.writer.desired_size(), Ok(Some(_))) {
                    stream.broken.set(true);
                    return false;
                }
                stream.start(shared.get_or_init(|| Uint8Array::from(bytes)));
                true
            }
            Offer::Queued => true,
            Offer::Overflow => false,
        }
    }

    /// True when the client is gone. (One that stops reading is dropped on the write that
    /// would take it past the limit.)
    pub fn broken(&self) -> bool {
        self.stream.broken.get()
    }

    /// The write in flight while more than `bytes` wait, for a replay that must not read the log
    /// faster than the reader drains.
    pub fn backlog_over(&self, bytes: usize) -> Option<Promise> {
        let stream = &self.stream;
        // A broken stream never drains: its settled promise would be awaited forever in a loop.
        if stream.broken.get() || stream.outbox.borrow().queued_bytes() <= bytes {
            return None;
        }
        stream.in_flight.borrow().clone()
    }
}

impl Drop for StreamSink {
    fn drop(&mut self) {
        if let Some(registry) = self.registry.upgrade() {
            registry.borrow_mut().remove(&self.key);
        }
        let stream = &self.stream;
        // What still waits (a last `reauth`, say) goes before the end of the stream.
        let rest = stream.outbox.borrow_mut().take_pending();
        if !rest.is_empty() && !stream.broken.get() {
            let write = stream
                .writer
                .write_with_chunk(&Uint8Array::from(rest.as_slice()));
            let _ = settling(&write).catch_calling(&stream.failed);
        }
        let _ = settling(&stream.writer.close()).catch_calling(&stream.failed);
    }
}
