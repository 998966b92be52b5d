//! What this node's dispatcher knows of one endpoint while it has work: attempts in
//! flight, claimed jobs waiting for room or for the rate limit, and the adaptive limit
//! (which the dispatcher keeps aside while the endpoint is idle, when it has learnt
//! something, so it is not relearned from the ceiling each time).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::domain::limit::{Limit, Sent};
use crate::store::Job;

/// How an attempt ended, as the dispatcher learns it.
#[derive(Debug, Clone)]
pub struct Done {
    pub endpoint_id: String,
    pub sent: Sent,
    pub succeeded: bool,
    pub congested: bool,
    pub probe: bool,
    /// The delivery had an ordering key (the next of its key may be due now).
    pub ordered: bool,
    /// The receiver paused the endpoint until then (business time, ms).
    pub pause_until: Option<crate::domain::Millis>,
}

pub struct EndpointLoad {
    pub in_flight: u32,
    /// Failed attempts in a row as this node saw them, from the count the store had when
    /// the endpoint's work was claimed; at the endpoint's `circuit_after` its circuit is
    /// open, and what this node still holds for it goes back to the store.
    pub failures_in_row: u32,
    pub circuit_after: u32,
    pub limit: Limit,
    /// Claimed but not started: over the limit, or waiting for the rate limit.
    pub queued: VecDeque<Job>,
    pub next_slot: Option<Instant>,
    pub interval: Option<Duration>,
}

impl EndpointLoad {
    pub fn new(limit: Limit) -> Self {
        EndpointLoad {
            in_flight: 0,
            failures_in_row: 0,
            circuit_after: 0,
            limit,
            queued: VecDeque::new(),
            next_slot: None,
            interval: None,
        }
    }

    /// No room for more now: leave its work in the store.
    pub fn busy(&self, now: Instant) -> bool {
        self.in_flight >= self.limit.current()
            || !self.queued.is_empty()
            || self.next_slot.is_some_and(|s| s > now)
    }

    pub fn idle(&self, now: Instant) -> bool {
        self.in_flight == 0 && self.queued.is_empty() && self.next_slot.is_none_or(|s| s <= now)
    }

    /// Learns from a finished attempt; true when the circuit has just opened.
    pub fn learn(&mut self, done: &Done) -> bool {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.failures_in_row = if done.succeeded {
            0
        } else {
            self.failures_in_row + 1
        };
        if done.probe && done.succeeded {
            // The circuit closed: start low and ramp up.
            self.limit.restart_low();
        } else if done.congested {
            self.limit.congested(done.sent);
        } else if done.succeeded {
            self.limit.succeeded(done.sent);
        }
        self.circuit_after > 0 && self.failures_in_row >= self.circuit_after
    }
}

/// Each endpoint's adaptive limit on this node, for the health view and metrics.
#[derive(Clone, Default)]
pub struct Board(Arc<Mutex<HashMap<String, u32>>>);

impl Board {
    pub fn set(&self, endpoint_id: &str, limit: u32) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.get(endpoint_id) != Some(&limit) {
            map.insert(endpoint_id.to_string(), limit);
        }
    }

    /// Every endpoint's limit on this node.
    pub fn all(&self) -> Vec<(String, u32)> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.iter().map(|(id, limit)| (id.clone(), *limit)).collect()
    }

    /// This node's limit for the endpoint, if it has delivered to it.
    pub fn limit(&self, endpoint_id: &str) -> Option<u32> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(endpoint_id)
            .copied()
    }
}
