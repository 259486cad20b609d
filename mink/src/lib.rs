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
//! assert_eq!(done.version, Some(1));
//! let counter = app.load_aggregate::<Counter>("c1").await?;
//! assert_eq!(counter.total, 2);
//! # Ok(()) }
//! ```
//!
//! ## Features
//!
//! - `sqlite` (default): [`SqliteStore`], a single-file store.
//! - `postgres`: [`PostgresStore`], the production store.
//! - `prometheus`: a Prometheus exporter of every metric mink emits
//!   ([`observability`]).
//! - `otel`: OpenTelemetry traces that follow each command's events into
//!   the projections that handle them ([`observability`]).
//! - `cli`: the `mink` command line's commands, to embed in the
//!   application's own binary (`mink::cli`).

pub use mink_macros::ReadModel;
pub use mink_macros::saga;
pub use mink_macros::{Aggregate, command, command_handler, event, projection};
pub use mink_runtime::ContentType;
#[cfg(feature = "msgpack")]
pub use mink_runtime::MessagePackSerializer;
#[cfg(feature = "protobuf")]
pub use mink_runtime::ProtobufSerializer;
pub use mink_runtime::read_model::ReadModel;
pub use mink_runtime::{
    Aggregate, AppendResult, AppendedStream, BoxError, Command, CommandError, CommandResult,
    Context, DispatchError, Error, Event, EventMetadata, EventStore, ExpectedVersion,
    HandlerContext, HandlerFuture, Handles, IdempotencyKey, IdempotencyStore, JsonSerializer,
    Limits, Mink, MinkBuilder, NewEvent, NoAggregate, PlainHandler, Position, ReadAll, ReadFilter,
    RecordedEvent, Registry, Result, Serializer, StoreTransaction, StreamAppend, StreamInfo,
    Tracked, UnitOfWork, Validate, ValidationErrors, Violation, WrittenEvent, category_of,
    stream_id_for,
};

/// Aggregates and their event types, the runtime's tracking of versions,
/// and the aggregate cache.
pub mod aggregate {
    pub use mink_runtime::aggregate::*;
}

/// The command vocabulary: commands, handlers, routing, context,
/// validation and outcomes.
pub mod command {
    pub use mink_runtime::command::*;
}

/// The command bus and its middleware layers, idempotency included.
pub mod bus {
    pub use mink_runtime::bus::*;
}

/// Projections: the `Projection` trait that `#[projection]` implements, its
/// kinds, options, context and error classes, and the registry of declared
/// projections.
pub mod projection {
    pub use mink_runtime::projection::*;
}

/// Sagas: the `Saga` trait that `#[saga]` implements, the context its
/// handlers get, and how their commands reach the command bus.
pub mod saga {
    pub use mink_runtime::saga::*;
}

/// The transactional outbox: messages written with the events, relayed to
/// publishers (webhook, NATS JetStream, RabbitMQ, or your own).
pub mod outbox {
    pub use mink_runtime::outbox::*;
}

/// Subscriptions to the log: catch-up, then live.
pub mod subscription {
    pub use mink_runtime::subscription::*;
}

/// Read models: typed field handles, queries and the repository, on every
/// store (`docs/guide/read-models.md`).
pub mod read_model {
    pub use mink_runtime::read_model::*;
}

/// The event store trait, its requests and outcomes, units of work and
/// idempotency records.
pub mod store {
    pub use mink_runtime::store::*;
}

/// Event store adapters, and opening one from a URL.
pub mod adapters {
    pub use mink_runtime::adapters::*;
}

pub mod observability;

/// The `mink` command line's commands, embedded in the application's own
/// binary with `mink::cli::run(mink::cli::Application::from_mink(&app))`
/// (feature `cli`; `docs/guide/cli.md`).
#[cfg(feature = "cli")]
pub use mink_cli as cli;

/// Test fixtures: given / when / then for aggregates and projections,
/// event assertions with diffs, throwaway test databases (feature
/// `testing`; `docs/tutorial/04-testing.md`).
#[cfg(feature = "testing")]
pub mod testing {
    pub use mink_runtime::testing::*;
}

pub use mink_runtime::adapters::memory::InMemoryStore;
#[cfg(feature = "postgres")]
pub use mink_runtime::adapters::postgres::PostgresStore;
#[cfg(feature = "sqlite")]
pub use mink_runtime::adapters::sqlite::SqliteStore;

/// Everything a first program needs: `use mink::prelude::*;`.
pub mod prelude {
    #[cfg(feature = "postgres")]
    pub use crate::PostgresStore;
    pub use crate::ReadModel;
    #[cfg(feature = "sqlite")]
    pub use crate::SqliteStore;
    pub use crate::bus::IdempotencyLayer;
    pub use crate::read_model::{Query, ReadModelRepository};
    pub use crate::{
        Aggregate, Context, DispatchError, Error, EventMetadata, EventStore, ExpectedVersion,
        HandlerContext, InMemoryStore, Mink, NewEvent, Position, ReadAll, ReadFilter, command,
        command_handler, event, projection, saga,
    };
}

#[doc(hidden)]
pub mod __private {
    //! The one door generated code uses to reach the runtime. Not a public
    //! API: it changes without notice.
    pub use mink_runtime::__private::*;
    pub use mink_runtime::{
        Aggregate, BoxError, Command, Error, Event, HandlerContext, HandlerFuture, Handles,
        NoAggregate, PlainHandler, Serializer, ValidationErrors,
    };
}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

/// The operations guide's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/guide/operations.md")]
pub struct GuideOperations;

/// The command bus guide's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/guide/command-bus.md")]
pub struct GuideCommandBus;

/// The read models guide's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/guide/read-models.md")]
pub struct GuideReadModels;

/// The projections guide's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/guide/projections.md")]
pub struct GuideProjections;

/// The observability guide's examples, compiled and run as doctests.
#[cfg(all(doctest, feature = "prometheus", feature = "otel"))]
#[doc = include_str!("../../docs/guide/observability.md")]
pub struct GuideObservability;

/// The payload formats guide's examples, compiled and run as doctests.
#[cfg(all(doctest, feature = "msgpack", feature = "protobuf"))]
#[doc = include_str!("../../docs/guide/serializers.md")]
pub struct GuideSerializers;

/// The outbox guide's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/guide/outbox.md")]
pub struct GuideOutbox;

/// The sagas guide's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/guide/sagas.md")]
pub struct GuideSagas;

/// The outbox publishers guide's examples, compiled as doctests (the
/// custom publisher's run; the others need their servers).
#[cfg(all(doctest, feature = "webhook", feature = "nats", feature = "rabbitmq"))]
#[doc = include_str!("../../docs/guide/publishers.md")]
pub struct GuidePublishers;

/// Tutorial part 1, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/tutorial/01-events-and-aggregates.md")]
pub struct Tutorial1EventsAndAggregates;

/// Tutorial part 2, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/tutorial/02-commands-and-the-bus.md")]
pub struct Tutorial2CommandsAndTheBus;

/// Tutorial part 3, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/tutorial/03-projections-and-read-models.md")]
pub struct Tutorial3ProjectionsAndReadModels;

/// Tutorial part 4, compiled and run as doctests (its fixtures need the
/// `testing` feature, which `cargo test --workspace` turns on).
#[cfg(all(doctest, feature = "testing"))]
#[doc = include_str!("../../docs/tutorial/04-testing.md")]
pub struct Tutorial4Testing;

/// Tutorial part 5, compiled as doctests (not run: they need a server).
#[cfg(all(doctest, feature = "postgres"))]
#[doc = include_str!("../../docs/tutorial/05-postgresql.md")]
pub struct Tutorial5Postgresql;

/// Tutorial part 6, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/tutorial/06-observability-and-operations.md")]
pub struct Tutorial6ObservabilityAndOperations;
