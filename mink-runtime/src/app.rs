//! [`Mink`], the entry point: a store, a serializer and the registrations
//! found in the binary.

use std::sync::Arc;

use crate::aggregate::{Aggregate, Event, Tracked};
use crate::command::{Command, CommandResult, DispatchError, Handles};
use crate::error::{Error, Result};
use crate::event::{EventMetadata, ExpectedVersion};
use crate::registry::Registry;
use crate::serializer::{JsonSerializer, Serializer};
use crate::store::{AppendResult, EventStore};

/// How many events one read of a stream fetches while loading an aggregate.
const LOAD_PAGE: usize = 4096;

/// A configured mink application: load and save aggregates, dispatch
/// commands.
///
/// Cheap to clone; clones share the store.
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
    store: Arc<dyn EventStore>,
    serializer: Arc<S>,
    registry: Arc<Registry>,
}

impl<S: Serializer> Clone for Mink<S> {
    fn clone(&self) -> Self {
        Mink {
            store: Arc::clone(&self.store),
            serializer: Arc::clone(&self.serializer),
            registry: Arc::clone(&self.registry),
        }
    }
}

impl<S: Serializer> std::fmt::Debug for Mink<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mink")
            .field("serializer", &self.serializer.format())
            .field("events", &self.registry.events().count())
            .field("handlers", &self.registry.handlers().len())
            .finish_non_exhaustive()
    }
}

impl Mink {
    /// Starts configuring an application.
    pub fn builder() -> MinkBuilder {
        MinkBuilder {
            store: None,
            serializer: JsonSerializer,
        }
    }
}

/// Configures a [`Mink`]; see [`Mink::builder`].
pub struct MinkBuilder<S: Serializer = JsonSerializer> {
    store: Option<Arc<dyn EventStore>>,
    serializer: S,
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
        }
    }

    /// Discovers the registered events and handlers and builds the
    /// application.
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
            "mink application built"
        );
        Ok(Mink {
            store,
            serializer: Arc::new(self.serializer),
            registry: Arc::new(registry),
        })
    }
}

impl<S: Serializer> Mink<S> {
    /// The event store.
    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.store
    }

    /// The serializer.
    pub fn serializer(&self) -> &S {
        &self.serializer
    }

    /// What was discovered at build time.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// A new, empty aggregate with this id (version 0).
    pub fn new_aggregate<A: Aggregate>(&self, id: &str) -> Result<Tracked<A>> {
        Tracked::new(id)
    }

    /// Loads an aggregate by folding its stream. Fails with
    /// [`Error::StreamNotFound`] when it has no events.
    pub async fn load_aggregate<A: Aggregate>(&self, id: &str) -> Result<Tracked<A>> {
        let tracked = self.load_or_new::<A>(id).await?;
        if tracked.version() == 0 {
            return Err(Error::StreamNotFound {
                stream: A::stream_id(id),
            });
        }
        Ok(tracked)
    }

    /// Loads an aggregate, or returns a new one when its stream is empty.
    pub async fn load_or_new<A: Aggregate>(&self, id: &str) -> Result<Tracked<A>> {
        let mut tracked = Tracked::<A>::new(id)?;
        let stream_id = A::stream_id(id);
        let mut next = 1;
        loop {
            let page = self
                .store
                .read_stream_forward(&stream_id, next, LOAD_PAGE)
                .await?;
            for recorded in &page {
                let event = A::Event::from_recorded(recorded, &*self.serializer)?;
                tracked.replay(&event, recorded.version);
            }
            if page.len() < LOAD_PAGE {
                return Ok(tracked);
            }
            next += page.len() as u64;
        }
    }

    /// Appends the aggregate's uncommitted events, expecting the version it
    /// was loaded at. On a conflict nothing is written and the events stay
    /// uncommitted.
    pub async fn save_aggregate<A: Aggregate>(
        &self,
        aggregate: &mut Tracked<A>,
    ) -> Result<AppendResult> {
        self.save_with(aggregate, EventMetadata::default()).await
    }

    async fn save_with<A: Aggregate>(
        &self,
        aggregate: &mut Tracked<A>,
        metadata: EventMetadata,
    ) -> Result<AppendResult> {
        let events = aggregate.take_uncommitted();
        let encoded: Result<Vec<_>> = events
            .iter()
            .map(|e| e.to_new_event(&*self.serializer, metadata.clone()))
            .collect();
        let encoded = match encoded {
            Ok(encoded) => encoded,
            Err(e) => {
                aggregate.restore_uncommitted(events);
                return Err(e);
            }
        };
        let stream_id = aggregate.stream_id();
        if encoded.is_empty() {
            let v = aggregate.version();
            return Ok(AppendResult {
                streams: vec![crate::store::AppendedStream {
                    stream_id,
                    first_version: v,
                    last_version: v,
                }],
            });
        }
        match self
            .store
            .append_to_stream(
                &stream_id,
                ExpectedVersion::Exact(aggregate.version()),
                encoded,
            )
            .await
        {
            Ok(result) => {
                aggregate.committed(result.last_version());
                Ok(result)
            }
            Err(e) => {
                aggregate.restore_uncommitted(events);
                Err(e)
            }
        }
    }

    /// Dispatches a command: loads its aggregate, runs the handler, and
    /// appends the events expecting the loaded version.
    ///
    /// A command without a `#[command_handler]` method does not compile.
    pub async fn dispatch<C>(
        &self,
        command: C,
    ) -> Result<CommandResult, DispatchError<<C::Aggregate as Handles<C>>::Error>>
    where
        C: Command,
        C::Aggregate: Handles<C>,
    {
        let id = command.aggregate_id();
        let mut aggregate = self.load_or_new::<C::Aggregate>(&id).await?;
        let events = aggregate
            .state()
            .handle(command)
            .map_err(DispatchError::Rejected)?;
        let mut event_ids = Vec::with_capacity(events.len());
        for e in events {
            aggregate.record(e);
        }
        let stream_id = aggregate.stream_id();
        let metadata = EventMetadata::default();
        let uncommitted = aggregate.take_uncommitted();
        let mut encoded = Vec::with_capacity(uncommitted.len());
        for e in &uncommitted {
            let new = e.to_new_event(&*self.serializer, metadata.clone())?;
            event_ids.push(new.event_id);
            encoded.push(new);
        }
        let version = if encoded.is_empty() {
            aggregate.version()
        } else {
            self.store
                .append_to_stream(
                    &stream_id,
                    ExpectedVersion::Exact(aggregate.version()),
                    encoded,
                )
                .await?
                .last_version()
        };
        tracing::debug!(command = C::NAME, stream = %stream_id, version, "command dispatched");
        Ok(CommandResult {
            command: C::NAME,
            aggregate_id: id,
            stream_id,
            version,
            event_ids,
        })
    }
}
