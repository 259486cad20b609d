//! [`Mink`], the entry point: a store, a serializer, the registrations
//! found in the binary, and the command bus.

use std::sync::Arc;

use futures::future::BoxFuture;
use tower::{Layer, Service, ServiceExt};

use crate::aggregate::{Aggregate, Event, Tracked};
use crate::bus::{
    self, BusError, BusService, CommandEnvelope, Context, ExecuteService, Executor, LayerFn, Typed,
};
use crate::command::{Command, CommandResult, DispatchError, Handles, Target};
use crate::error::{BoxError, Error, Result};
use crate::event::ExpectedVersion;
use crate::registry::Registry;
use crate::serializer::{JsonSerializer, Serializer};
use crate::store::{AppendResult, AppendedStream, EventStore};

/// How many events one read of a stream fetches while loading an aggregate.
const LOAD_PAGE: usize = 4096;

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
    core: Arc<Core<S>>,
    bus: BusService,
}

/// What command execution needs, shared by every envelope in flight.
struct Core<S> {
    store: Arc<dyn EventStore>,
    serializer: S,
    registry: Registry,
}

impl<S: Serializer> Clone for Mink<S> {
    fn clone(&self) -> Self {
        Mink {
            core: Arc::clone(&self.core),
            bus: self.bus.clone(),
        }
    }
}

impl<S: Serializer> std::fmt::Debug for Mink<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mink")
            .field("serializer", &self.core.serializer.format())
            .field("events", &self.core.registry.events().count())
            .field("handlers", &self.core.registry.handlers().len())
            .finish_non_exhaustive()
    }
}

impl Mink {
    /// Starts configuring an application.
    pub fn builder() -> MinkBuilder {
        MinkBuilder {
            store: None,
            serializer: JsonSerializer,
            layers: Vec::new(),
        }
    }
}

/// Configures a [`Mink`]; see [`Mink::builder`].
pub struct MinkBuilder<S: Serializer = JsonSerializer> {
    store: Option<Arc<dyn EventStore>>,
    serializer: S,
    layers: Vec<LayerFn>,
}

impl<S: Serializer> std::fmt::Debug for MinkBuilder<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MinkBuilder")
            .field("store", &self.store.is_some())
            .field("layers", &self.layers.len())
            .finish_non_exhaustive()
    }
}

impl<S: Serializer> MinkBuilder<S> {
    /// The event store to use (required).
    pub fn store(mut self, store: impl EventStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// An event store already shared elsewhere.
    pub fn shared_store(mut self, store: Arc<dyn EventStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Replaces the JSON serializer.
    pub fn serializer<S2: Serializer>(self, serializer: S2) -> MinkBuilder<S2> {
        MinkBuilder {
            store: self.store,
            serializer,
            layers: self.layers,
        }
    }

    /// Adds a middleware layer to the command bus. The first layer added is
    /// the outermost. Any `tower::Layer` over [`BusService`] works,
    /// including tower's timeout, concurrency-limit and load-shed layers.
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: Layer<BusService> + Send + Sync + 'static,
        L::Service:
            Service<CommandEnvelope, Response = CommandResult> + Clone + Send + Sync + 'static,
        <L::Service as Service<CommandEnvelope>>::Error: Into<BoxError>,
        <L::Service as Service<CommandEnvelope>>::Future: Send + 'static,
    {
        self.layers.push(Box::new(move |inner| {
            BusService::new(layer.layer(inner).map_err(Into::into))
        }));
        self
    }

    /// Discovers the registered events and handlers, assembles the bus and
    /// builds the application.
    ///
    /// Fails with [`Error::DuplicateEventType`] when two Rust types claim one
    /// event type name, and with [`Error::Configuration`] without a store.
    pub async fn build(self) -> Result<Mink<S>> {
        let store = self
            .store
            .ok_or_else(|| Error::Configuration("no event store: call .store(…)".into()))?;
        let registry = Registry::discover()?;
        tracing::debug!(
            events = registry.events().count(),
            handlers = registry.handlers().len(),
            layers = self.layers.len(),
            "mink application built"
        );
        let mut bus = BusService::new(ExecuteService);
        for layer in self.layers.iter().rev() {
            bus = layer(bus);
        }
        Ok(Mink {
            core: Arc::new(Core {
                store,
                serializer: self.serializer,
                registry,
            }),
            bus,
        })
    }
}

impl<S: Serializer> Mink<S> {
    /// The event store.
    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.core.store
    }

    /// The serializer.
    pub fn serializer(&self) -> &S {
        &self.core.serializer
    }

    /// What was discovered at build time.
    pub fn registry(&self) -> &Registry {
        &self.core.registry
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
        let tracked = self.core.load_or_new::<A>(id).await?;
        if tracked.version() == 0 {
            return Err(Error::StreamNotFound {
                stream: A::stream_id(id),
            });
        }
        Ok(tracked)
    }

    /// Loads an aggregate, or returns a new one when its stream is empty.
    pub async fn load_or_new<A: Aggregate>(&self, id: &str) -> Result<Tracked<A>> {
        self.core.load_or_new(id).await
    }

    /// Appends the aggregate's uncommitted events, expecting the version it
    /// was loaded at, with metadata from `Context::new()`. On a conflict
    /// nothing is written and the events stay uncommitted.
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
        match self.core.append_events(aggregate, &events, context).await {
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
    /// A command without a `#[command_handler]` method does not compile.
    pub async fn dispatch<C>(
        &self,
        command: C,
    ) -> Result<CommandResult, DispatchError<<C::Aggregate as Target<C>>::Error>>
    where
        C: Command,
        C::Aggregate: Target<C>,
    {
        self.dispatch_with(command, Context::new()).await
    }

    /// Dispatches a command through the middleware stack: loads its
    /// aggregate, runs the handler, and appends the events expecting the
    /// loaded version. Every event carries the context's correlation id
    /// (created when absent), user and tenant ids, and the command id as
    /// causation id.
    pub async fn dispatch_with<C>(
        &self,
        command: C,
        mut context: Context,
    ) -> Result<CommandResult, DispatchError<<C::Aggregate as Target<C>>::Error>>
    where
        C: Command,
        C::Aggregate: Target<C>,
    {
        context.ensure_correlation_id();
        let envelope = CommandEnvelope::new(
            C::NAME,
            command.aggregate_id(),
            context,
            Box::new(Typed {
                command,
                executor: self.clone(),
            }),
        );
        self.bus
            .clone()
            .oneshot(envelope)
            .await
            .map_err(bus::into_dispatch_error)
    }
}

impl<S: Serializer> Core<S> {
    async fn load_or_new<A: Aggregate>(&self, id: &str) -> Result<Tracked<A>> {
        let mut tracked = Tracked::<A>::new(id)?;
        let stream_id = A::stream_id(id);
        let mut next = 1;
        loop {
            let page = self
                .store
                .read_stream_forward(&stream_id, next, LOAD_PAGE)
                .await?;
            for recorded in &page {
                let event = A::Event::from_recorded(recorded, &self.serializer)?;
                tracked.replay(&event, recorded.version);
            }
            if page.len() < LOAD_PAGE {
                return Ok(tracked);
            }
            next += page.len() as u64;
        }
    }

    /// Appends `events` for `aggregate` (expecting its loaded version) and
    /// marks them committed. Returns the append result and the event ids.
    async fn append_events<A: Aggregate>(
        &self,
        aggregate: &mut Tracked<A>,
        events: &[A::Event],
        context: &Context,
    ) -> Result<(AppendResult, Vec<uuid::Uuid>)> {
        let stream_id = aggregate.stream_id();
        if events.is_empty() {
            let v = aggregate.version();
            let result = AppendResult {
                streams: vec![AppendedStream {
                    stream_id,
                    first_version: v,
                    last_version: v,
                }],
            };
            return Ok((result, Vec::new()));
        }
        let metadata = context.event_metadata();
        let encoded = events
            .iter()
            .map(|e| e.to_new_event(&self.serializer, metadata.clone()))
            .collect::<Result<Vec<_>>>()?;
        let ids = encoded.iter().map(|e| e.event_id).collect();
        let result = self
            .store
            .append_to_stream(
                &stream_id,
                ExpectedVersion::Exact(aggregate.version()),
                encoded,
            )
            .await?;
        aggregate.committed(result.last_version());
        Ok((result, ids))
    }

    async fn execute<C>(&self, command: C, context: Context) -> Result<CommandResult, BoxError>
    where
        C: Command,
        C::Aggregate: Aggregate + Handles<C>,
    {
        let id = command.aggregate_id();
        let mut aggregate = self
            .load_or_new::<C::Aggregate>(&id)
            .await
            .map_err(BusError::Store)?;
        let events = aggregate
            .state()
            .handle(command)
            .map_err(|e| BusError::Rejected(Box::new(e)))?;
        let (result, event_ids) = self
            .append_events(&mut aggregate, &events, &context)
            .await
            .map_err(BusError::Store)?;
        Ok(CommandResult {
            command: C::NAME.to_owned(),
            aggregate_id: id,
            stream_id: aggregate.stream_id(),
            version: result.last_version(),
            event_ids,
        })
    }
}

impl<S: Serializer> Mink<S> {
    /// Loads the command's aggregate, runs its handler, appends the events.
    pub(crate) async fn execute_on_aggregate<C>(
        &self,
        command: C,
        context: Context,
    ) -> Result<CommandResult, BoxError>
    where
        C: Command,
        C::Aggregate: Aggregate + Handles<C>,
    {
        self.core.execute(command, context).await
    }
}

impl<C, S> Executor<C> for Mink<S>
where
    C: Command,
    C::Aggregate: Target<C>,
    S: Serializer,
{
    fn execute(
        &self,
        command: C,
        context: Context,
    ) -> BoxFuture<'static, Result<CommandResult, BoxError>> {
        <C::Aggregate as Target<C>>::execute(self, command, context)
    }
}
