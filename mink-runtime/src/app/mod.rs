//! [`Mink`], the entry point: a store, a serializer, the registrations
//! found in the binary, the units of work run in every append, and the
//! command bus.
//!
//! Layer: the top. It wires the store, the command routing and the bus, and
//! implements [`crate::command::Execute`] for them.

mod builder;
mod execution;
mod outbox;
mod registry;
mod sagas;

use std::sync::Arc;

use tower::ServiceExt;

pub use builder::MinkBuilder;
pub use registry::Registry;

use crate::aggregate::{Aggregate, Tracked};
use crate::bus::{BusService, CommandEnvelope};
use crate::command::{Command, CommandResult, CommandRoute, Context, DispatchError};
use crate::error::{Error, Result};
use crate::event::{JsonSerializer, Serializer};
use crate::projection::ProjectionEngine;
use crate::store::{AppendResult, EventStore, ReadFilter};
use crate::subscription::{StartFrom, Subscription};

use execution::Runtime;

/// A configured mink application: load and save aggregates, dispatch
/// commands through the middleware stack.
///
/// Cheap to clone; clones share the store and the bus.
///
/// # Examples
///
/// ```
/// # use mink_runtime::{Mink, adapters::memory::InMemoryStore};
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> mink_runtime::Result<()> {
/// let app = Mink::builder().store(InMemoryStore::new()).build().await?;
/// assert_eq!(app.store().head_position().await?, mink_runtime::Position::START);
/// # Ok(()) }
/// ```
pub struct Mink<S: Serializer = JsonSerializer> {
    runtime: Arc<Runtime<S>>,
    bus: BusService,
    sagas: crate::saga::Sagas,
    projections: ProjectionEngine,
    outbox: Option<crate::outbox::RelayHandle>,
}

impl<S: Serializer> Clone for Mink<S> {
    fn clone(&self) -> Self {
        Mink {
            runtime: Arc::clone(&self.runtime),
            bus: self.bus.clone(),
            sagas: self.sagas.clone(),
            projections: self.projections.clone(),
            outbox: self.outbox.clone(),
        }
    }
}

impl<S: Serializer> std::fmt::Debug for Mink<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mink")
            .field("serializer", &self.runtime.serializer.format())
            .field("events", &self.runtime.registry.events().count())
            .field("handlers", &self.runtime.registry.handlers().len())
            .field("units_of_work", &self.runtime.work.len())
            .finish_non_exhaustive()
    }
}

impl Mink {
    /// Starts configuring an application.
    pub fn builder() -> MinkBuilder {
        MinkBuilder::new()
    }
}

impl<S: Serializer> Mink<S> {
    /// The event store. Appends made through it run the application's
    /// inline projections in their transaction; the units of work added
    /// with [`MinkBuilder::unit_of_work`] run in the appends the
    /// application makes itself (commands, saved aggregates).
    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.runtime.store
    }

    /// The engine running the application's async and live projections:
    /// status, pause, resume, rebuild, stop.
    pub fn projections(&self) -> &ProjectionEngine {
        &self.projections
    }

    /// Subscribes to the log (or the part `filter` passes) from `from`:
    /// catch-up, then live.
    pub fn subscribe_all(&self, from: StartFrom, filter: ReadFilter) -> Subscription {
        crate::subscription::subscribe_all(Arc::clone(&self.runtime.store), from, filter)
    }

    /// Subscribes to one stream.
    pub fn subscribe_stream(&self, stream_id: &str, from: StartFrom) -> Subscription {
        crate::subscription::subscribe_stream(Arc::clone(&self.runtime.store), stream_id, from)
    }

    /// Subscribes to one category of streams.
    pub fn subscribe_category(&self, category: &str, from: StartFrom) -> Subscription {
        crate::subscription::subscribe_category(Arc::clone(&self.runtime.store), category, from)
    }

    /// Stops the projection engine gracefully (see
    /// [`ProjectionEngine::stop`]), and the outbox relay if it runs one.
    pub async fn shutdown(&self) {
        self.sagas.stop().await;
        self.projections.stop().await;
        if let Some(relay) = &self.outbox {
            relay.stop().await;
        }
    }

    /// The serializer.
    pub fn serializer(&self) -> &S {
        &self.runtime.serializer
    }

    /// What was discovered at build time.
    pub fn registry(&self) -> &Registry {
        &self.runtime.registry
    }

    /// The command bus, to call as a `tower::Service` directly.
    pub fn bus(&self) -> BusService {
        self.bus.clone()
    }

    /// A new, empty aggregate with this id (version 0).
    pub fn new_aggregate<A: Aggregate>(&self, id: &str) -> Result<Tracked<A>> {
        Tracked::new(id)
    }

    /// Loads an aggregate by folding its stream. Fails with
    /// [`Error::StreamNotFound`] when it has no events.
    pub async fn load_aggregate<A: Aggregate>(&self, id: &str) -> Result<Tracked<A>> {
        let tracked = self.runtime.load_or_new::<A>(id).await?;
        if tracked.version() == 0 {
            return Err(Error::StreamNotFound {
                stream: tracked.stream_id().to_owned(),
            });
        }
        Ok(tracked)
    }

    /// Loads an aggregate, or returns a new one when its stream is empty.
    pub async fn load_or_new<A: Aggregate>(&self, id: &str) -> Result<Tracked<A>> {
        self.runtime.load_or_new(id).await
    }

    /// Appends the aggregate's uncommitted events, expecting the version it
    /// was loaded at, with metadata from `Context::new()`, and runs the
    /// application's units of work in the same transaction. On a conflict
    /// or a failed unit of work nothing is written and the events stay
    /// uncommitted.
    pub async fn save_aggregate<A: Aggregate>(
        &self,
        aggregate: &mut Tracked<A>,
    ) -> Result<AppendResult> {
        self.save_aggregate_with(aggregate, &Context::new()).await
    }

    /// Like [`Mink::save_aggregate`], with the ids of `context` on the
    /// events.
    pub async fn save_aggregate_with<A: Aggregate>(
        &self,
        aggregate: &mut Tracked<A>,
        context: &Context,
    ) -> Result<AppendResult> {
        let events = aggregate.take_uncommitted();
        match self
            .runtime
            .append_events(aggregate, &events, context)
            .await
        {
            Ok((result, _)) => Ok(result),
            Err(e) => {
                aggregate.restore_uncommitted(events);
                Err(e)
            }
        }
    }

    /// Dispatches a command with a fresh [`Context`]: see
    /// [`Mink::dispatch_with`].
    ///
    /// A command without a `#[command_handler]` does not compile.
    pub async fn dispatch<C>(
        &self,
        command: C,
    ) -> Result<CommandResult, DispatchError<<C::Aggregate as CommandRoute<C>>::Error>>
    where
        C: Command,
        C::Aggregate: CommandRoute<C>,
    {
        self.dispatch_with(command, Context::new()).await
    }

    /// Dispatches a command through the middleware stack: loads its
    /// aggregate, runs the handler, and appends the events expecting the
    /// loaded version, with the application's units of work in the same
    /// transaction. Every event carries the context's correlation id
    /// (created when absent), user and tenant ids, and the command id as
    /// causation id.
    pub async fn dispatch_with<C>(
        &self,
        command: C,
        mut context: Context,
    ) -> Result<CommandResult, DispatchError<<C::Aggregate as CommandRoute<C>>::Error>>
    where
        C: Command,
        C::Aggregate: CommandRoute<C>,
    {
        context.ensure_correlation_id();
        let envelope = CommandEnvelope::new(command, context, Arc::clone(&self.runtime));
        self.bus
            .clone()
            .oneshot(envelope)
            .await
            .map_err(|e| e.into_typed())
    }
}
