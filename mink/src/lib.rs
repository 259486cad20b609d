//! # mink
//!
//! Event sourcing and CQRS for Rust. Annotate plain domain types; the macros
//! generate the wiring and the compiler checks it.
//!
//! ```rust,standalone_crate
//! use mink::prelude::*;
//!
//! #[event]
//! pub enum CounterEvent {
//!     Incremented { by: u32 },
//! }
//!
//! #[derive(Aggregate, Default)]
//! #[aggregate(events = CounterEvent, category = "counter")]
//! pub struct Counter {
//!     #[aggregate(id)]
//!     id: String,
//!     total: u64,
//! }
//!
//! #[command(aggregate = Counter)]
//! pub struct Increment {
//!     #[command(id)]
//!     counter_id: String,
//!     by: u32,
//! }
//!
//! #[derive(Debug, thiserror::Error)]
//! #[error("the increment must be positive")]
//! pub struct ZeroIncrement;
//!
//! #[command_handler]
//! impl Counter {
//!     fn increment(&self, cmd: Increment) -> Result<Vec<CounterEvent>, ZeroIncrement> {
//!         if cmd.by == 0 {
//!             return Err(ZeroIncrement);
//!         }
//!         Ok(vec![CounterEvent::Incremented { by: cmd.by }])
//!     }
//!
//!     fn apply(&mut self, event: &CounterEvent) {
//!         match event {
//!             CounterEvent::Incremented { by } => self.total += u64::from(*by),
//!         }
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let app = Mink::builder().store(InMemoryStore::new()).build().await?;
//! let done = app.dispatch(Increment { counter_id: "c1".into(), by: 2 }).await?;
//! assert_eq!(done.version, 1);
//! let counter = app.load_aggregate::<Counter>("c1").await?;
//! assert_eq!(counter.total, 2);
//! # Ok(()) }
//! ```
//!
//! ## Features
//!
//! - `sqlite` (default): [`SqliteStore`], a single-file store.
//! - `postgres`: [`PostgresStore`], the production store.

pub use mink_macros::{Aggregate, command, command_handler, event};
pub use mink_runtime::{
    Aggregate, AppendResult, AppendedStream, BoxError, Command, CommandFor, CommandResult,
    DispatchError, Error, Event, EventMetadata, EventOf, EventRegistration, EventStore,
    ExpectedVersion, HandlerOutput, HandlerRegistration, Handles, JsonSerializer, Limits, Mink,
    MinkBuilder, NewEvent, Position, ReadAll, ReadFilter, RecordedEvent, Registry, Result,
    Serializer, StreamAppend, StreamInfo, Tracked, async_trait, category_of, stream_id_for,
};

/// The command bus and its middleware layers.
pub mod bus {
    pub use mink_runtime::bus::*;
}

/// Idempotent commands: the layer and its stores.
pub mod idempotency {
    pub use mink_runtime::idempotency::*;
}

pub use mink_runtime::bus::{Context, Validate, ValidationErrors};
pub use mink_runtime::{
    HandlerContext, HandlerFuture, IdempotencyKey, Plain, PlainHandler, PlainOutput, Target,
};

/// Event store adapters.
pub mod adapters {
    pub use mink_runtime::adapters::*;
}

pub use mink_runtime::adapters::memory::InMemoryStore;
#[cfg(feature = "postgres")]
pub use mink_runtime::adapters::postgres::PostgresStore;
#[cfg(feature = "sqlite")]
pub use mink_runtime::adapters::sqlite::SqliteStore;

/// Everything an application usually needs: `use mink::prelude::*;`.
pub mod prelude {
    #[cfg(feature = "postgres")]
    pub use crate::PostgresStore;
    #[cfg(feature = "sqlite")]
    pub use crate::SqliteStore;
    pub use crate::{
        Aggregate, Context, EventMetadata, EventStore, ExpectedVersion, HandlerContext,
        InMemoryStore, Mink, command, command_handler, event,
    };
}

#[doc(hidden)]
pub mod __private {
    //! The one door generated code uses to reach the runtime. Not a public
    //! API: it changes without notice.
    pub use mink_runtime::__private::{
        KeyViaDefault, KeyViaImpl, Probe, ValidateViaDefault, ValidateViaImpl, assert_command_for,
        inventory, parse_id, serde,
    };
    pub use mink_runtime::bus::ValidationErrors;
    pub use mink_runtime::{
        Aggregate, BoxError, Command, CommandFor, Error, Event, EventOf, EventRegistration,
        HandlerContext, HandlerFuture, HandlerOutput, HandlerRegistration, Handles, Plain,
        PlainHandler, PlainOutput, Serializer,
    };
}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

/// The command bus guide's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/guide/command-bus.md")]
pub struct GuideCommandBus;
