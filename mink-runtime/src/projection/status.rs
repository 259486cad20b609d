//! What the engine reports about each projection, and the figures it
//! keeps for them. `ProjectionEngine::status`, `wait_caught_up` and the
//! metrics all read these.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::event::Position;
use crate::store::ProjectionState;

use super::ProjectionKind;

/// Gauge: how many log positions a projection is behind the head.
pub const PROJECTION_LAG_EVENTS: &str = "mink_projection_lag_events";
/// Gauge: how old the oldest event a projection has not applied is, in
/// seconds (0 when caught up).
pub const PROJECTION_LAG_SECONDS: &str = "mink_projection_lag_seconds";
/// Counter: events a projection applied.
pub const PROJECTION_EVENTS_TOTAL: &str = "mink_projection_events_total";
/// Counter: handler failures of a projection (each attempt counts).
pub const PROJECTION_ERRORS_TOTAL: &str = "mink_projection_errors_total";

/// The progress of a rebuild under way.
#[derive(Debug, Clone, PartialEq)]
pub struct RebuildProgress {
    /// The rebuild request.
    pub request: u64,
    /// Replaying after this position.
    pub from: Position,
    /// Up to this position, or the head.
    pub to: Option<Position>,
    /// Events applied by this rebuild so far.
    pub events_done: u64,
    /// Events per second since the rebuild started here.
    pub rate: f64,
    /// Time left at that rate, when it can be estimated.
    pub eta: Option<Duration>,
}

/// A projection's status, as [`super::ProjectionEngine::status`] reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectionStatus {
    /// The projection's name.
    pub name: String,
    /// How it runs.
    pub kind: ProjectionKind,
    /// What it is doing. A projection another instance works is reported
    /// with that instance's state.
    pub state: ProjectionState,
    /// The last position applied.
    pub checkpoint: Position,
    /// The head of the log (as readers can see it).
    pub head: Position,
    /// Log positions between the checkpoint and the head: exact on memory
    /// and SQLite; on PostgreSQL an upper bound, since positions of rolled
    /// back appends are never used.
    pub lag_events: u64,
    /// Age of the oldest event the projection has not applied, in seconds.
    pub lag_seconds: f64,
    /// Events applied (stored with the checkpoint; for live projections,
    /// since the engine started).
    pub events_processed: u64,
    /// The last error, while it is failing.
    pub last_error: Option<String>,
    /// The instance that holds its lease.
    pub owner: Option<String>,
    /// Whether this engine is the owner.
    pub owned_here: bool,
    /// Events parked in its dead letters.
    pub dead_letters: usize,
    /// A rebuild under way on this instance.
    pub rebuild: Option<RebuildProgress>,
}

/// What a worker knows about its projection, shared with the engine.
#[derive(Debug)]
pub(super) struct Figures {
    inner: Mutex<Local>,
}

#[derive(Debug, Clone)]
pub(super) struct Local {
    pub state: ProjectionState,
    pub checkpoint: Position,
    pub processed: u64,
    pub last_error: Option<String>,
    pub owned: bool,
    pub rebuild: Option<RebuildRun>,
}

#[derive(Debug, Clone)]
pub(super) struct RebuildRun {
    pub request: u64,
    pub from: Position,
    pub to: Option<Position>,
    pub started: Instant,
    pub done: u64,
}

impl Figures {
    pub(super) fn new() -> Self {
        Figures {
            inner: Mutex::new(Local {
                state: ProjectionState::Stopped,
                checkpoint: Position::START,
                processed: 0,
                last_error: None,
                owned: false,
                rebuild: None,
            }),
        }
    }

    pub(super) fn get(&self) -> Local {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(super) fn update(&self, f: impl FnOnce(&mut Local)) {
        f(&mut self.inner.lock().unwrap_or_else(|p| p.into_inner()));
    }
}
