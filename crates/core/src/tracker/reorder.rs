//! The reorder buffer: holds events until the watermark passes them, then releases them in
//! (timestamp, kind, event id) order, so that events arriving out of order within the
//! allowed lateness are folded exactly as if they had arrived sorted. Within one instant
//! the kinds follow the funnel (views, adds, removals, cart views, checkouts, orders,
//! cancellations, messages): sources with second resolution (REES46) often log the last add
//! and the purchase in the same second, and the add must not land after the order.
//!
//! The watermark is the newest timestamp seen minus the lateness. An event is released once
//! its timestamp is *strictly* below the watermark, and an arriving event is late when its
//! timestamp is strictly below it: so every event that is not late is released after every
//! event that sorts before it, whatever the arrival order. Late events are handed back to
//! the caller at once (nothing accepted is lost).

use crate::event::{Event, EventId, EventKind};
use crate::time::{Duration, Timestamp};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// What happened to a pushed event.
#[derive(Debug)]
pub enum Admission {
    /// Held until the watermark passes it.
    Buffered,
    /// Older than the watermark: the caller must fold it now, in arrival order.
    Late(Box<Event>),
}

/// The order events are folded in: timestamp, then kind (funnel order), then id.
pub fn release_key(event: &Event) -> (Timestamp, EventKind, EventId) {
    (event.timestamp, event.kind, event.id)
}

/// [`release_key`] plus the event's slot, as one comparable value: the id as a big-endian
/// `u128` orders exactly as its bytes do, and compares in one instruction pair.
type SlotKey = (Timestamp, EventKind, u128, u32);

/// Orders events by [`release_key`] within a bounded lateness.
///
/// Held events sit in a slab; small keys pointing into it are ordered, so an event is moved
/// once in and once out. Input that arrives in order (the usual case: a log file, a live
/// stream) appends to `run`, a queue already sorted; only events that arrive out of order go
/// through the heap. The next event out is the smaller of the two heads, so the release
/// order is the one a single heap of every key would give.
pub struct ReorderBuffer {
    lateness: Duration,
    /// Keys in strictly increasing order.
    run: VecDeque<SlotKey>,
    heap: BinaryHeap<Reverse<SlotKey>>,
    slots: Vec<Option<Event>>,
    free_slots: Vec<u32>,
    newest: Option<Timestamp>,
    last_released: Option<(Timestamp, EventId)>,
    duplicates: u64,
}

impl ReorderBuffer {
    pub fn new(lateness: Duration) -> Self {
        ReorderBuffer {
            lateness: Duration::millis(lateness.as_millis().max(0)),
            run: VecDeque::new(),
            heap: BinaryHeap::new(),
            slots: Vec::new(),
            free_slots: Vec::new(),
            newest: None,
            last_released: None,
            duplicates: 0,
        }
    }

    /// Newest timestamp seen minus the lateness; `None` before the first event.
    pub fn watermark(&self) -> Option<Timestamp> {
        self.newest
            .map(|t| Timestamp(t.0.saturating_sub(self.lateness.0)))
    }

    /// Accepts an event: buffers it, or hands it back when it is late.
    pub fn push(&mut self, event: Event) -> Admission {
        if let Some(watermark) = self.watermark()
            && event.timestamp < watermark
        {
            return Admission::Late(Box::new(event));
        }
        if self.newest.is_none_or(|n| event.timestamp > n) {
            self.newest = Some(event.timestamp);
        }
        let (timestamp, kind, id) = release_key(&event);
        let slot = match self.free_slots.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(event);
                slot
            }
            None => {
                self.slots.push(Some(event));
                (self.slots.len() - 1) as u32
            }
        };
        let key = (timestamp, kind, u128::from_be_bytes(id.0), slot);
        if self.run.back().is_none_or(|last| key > *last) {
            self.run.push_back(key);
        } else {
            self.heap.push(Reverse(key));
        }
        Admission::Buffered
    }

    /// The smallest held key.
    fn peek(&self) -> Option<SlotKey> {
        match (self.run.front(), self.heap.peek()) {
            (Some(run), Some(Reverse(heap))) => Some(*run.min(heap)),
            (Some(run), None) => Some(*run),
            (None, Some(Reverse(heap))) => Some(*heap),
            (None, None) => None,
        }
    }

    /// Removes and returns the smallest held key.
    fn pop_key(&mut self) -> Option<SlotKey> {
        let from_run = match (self.run.front(), self.heap.peek()) {
            (Some(run), Some(Reverse(heap))) => run < heap,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if from_run {
            self.run.pop_front()
        } else {
            self.heap.pop().map(|Reverse(key)| key)
        }
    }

    /// The next event whose timestamp is below the watermark, in [`release_key`] order.
    pub fn pop_ready(&mut self) -> Option<Event> {
        let watermark = self.watermark()?;
        loop {
            let (timestamp, ..) = self.peek()?;
            if timestamp >= watermark {
                return None;
            }
            if let Some(event) = self.release_next() {
                return Some(event);
            }
        }
    }

    /// The next buffered event regardless of the watermark (end of input).
    pub fn pop_any(&mut self) -> Option<Event> {
        while !self.is_empty() {
            if let Some(event) = self.release_next() {
                return Some(event);
            }
        }
        None
    }

    /// Takes the smallest held key; `None` when it repeats the event released just before.
    fn release_next(&mut self) -> Option<Event> {
        let (timestamp, _, id, slot) = self.pop_key()?;
        let event = self.slots[slot as usize].take()?;
        self.free_slots.push(slot);
        let key = (timestamp, EventId(id.to_be_bytes()));
        if self.last_released == Some(key) {
            self.duplicates += 1;
            return None;
        }
        self.last_released = Some(key);
        Some(event)
    }

    /// Events currently held.
    pub fn len(&self) -> usize {
        self.run.len() + self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.run.is_empty() && self.heap.is_empty()
    }

    /// Events dropped because the same (timestamp, id) was released just before.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }
}
