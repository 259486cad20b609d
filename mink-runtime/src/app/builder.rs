//! [`MinkBuilder`]: the store, the serializer, the bus's layers and the
//! units of work of an application.

use std::sync::Arc;

use tower::{Layer, Service, ServiceExt};

use super::Mink;
use super::execution::Runtime;
use super::registry::Registry;
use crate::bus::{BusService, CommandEnvelope, ExecuteService};
use crate::command::{CommandError, CommandResult};
use crate::error::{Error, Result};
use crate::event::{JsonSerializer, Serializer};
use crate::store::{EventStore, UnitOfWork};

/// Applies one layer to the bus (a layer with its types erased).
type LayerFn = Box<dyn Fn(BusService) -> BusService + Send + Sync>;

/// Configures a [`Mink`]; see [`Mink::builder`].
pub struct MinkBuilder<S: Serializer = JsonSerializer> {
    store: Option<Arc<dyn EventStore>>,
    serializer: S,
    layers: Vec<LayerFn>,
    work: Vec<Arc<dyn UnitOfWork>>,
}

impl<S: Serializer> std::fmt::Debug for MinkBuilder<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MinkBuilder")
            .field("store", &self.store.is_some())
            .field("layers", &self.layers.len())
            .field("units_of_work", &self.work.len())
            .finish_non_exhaustive()
    }
}

impl MinkBuilder {
    pub(super) fn new() -> Self {
        MinkBuilder {
            store: None,
            serializer: JsonSerializer,
            layers: Vec::new(),
            work: Vec::new(),
        }
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
            work: self.work,
        }
    }

    /// Runs `work` inside the transaction of every append the application
    /// makes (dispatched commands, saved aggregates), after the events are
    /// written and before the commit. When it fails, nothing of that append
    /// is stored. Units of work run in the order they were added.
    pub fn unit_of_work(mut self, work: impl UnitOfWork) -> Self {
        self.work.push(Arc::new(work));
        self
    }

    /// Adds a middleware layer to the command bus. The first layer added is
    /// the outermost. Any `tower::Layer` over [`BusService`] works,
    /// including tower's timeout, concurrency-limit and load-shed layers,
    /// whose errors become [`CommandError`]s.
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: Layer<BusService> + Send + Sync + 'static,
        L::Service:
            Service<CommandEnvelope, Response = CommandResult> + Clone + Send + Sync + 'static,
        <L::Service as Service<CommandEnvelope>>::Error: Into<CommandError>,
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
            units_of_work = self.work.len(),
            "mink application built"
        );
        let mut bus = BusService::new(ExecuteService);
        for layer in self.layers.iter().rev() {
            bus = layer(bus);
        }
        Ok(Mink {
            runtime: Arc::new(Runtime {
                store,
                serializer: self.serializer,
                registry,
                work: self.work,
            }),
            bus,
        })
    }
}
