//! The read side: projections and the engine that runs them.
//!
//! - [`Projection`] is what `#[projection]` implements: one handler per
//!   event type, with a [`ProjectionContext`] giving the transaction the
//!   read model writes in.
//! - Inline projections run inside the append transaction
//!   ([`InlineProjections`], added by the application builder).
//! - Async projections run in a [`ProjectionEngine`]: leased, batched,
//!   checkpointed in the read model's transaction, retried, with poison
//!   events parked, and obeying pause, resume and rebuild requests written
//!   by any process.
//! - Live projections follow a subscription in memory.
//!
//! Layer: above `store` and `subscription`, using
//! the event vocabulary; below the application (`app`).

mod engine;
mod handler;
mod inline;
mod registration;
mod status;
mod worker;

pub use engine::{ProjectionEngine, ProjectionEngineBuilder};
pub use handler::{
    FailureKind, HandlerError, PoisonPolicy, Projection, ProjectionContext, ProjectionKind,
    ProjectionOptions, Transient,
};
pub use inline::{InlineProjections, InlineStore, InlineWork, ProjectionFailed};
pub use registration::{ProjectionRegistration, registered};
pub use status::{
    PROJECTION_ERRORS_TOTAL, PROJECTION_EVENTS_TOTAL, PROJECTION_LAG_EVENTS,
    PROJECTION_LAG_SECONDS, ProjectionStatus, RebuildProgress,
};
