//! [`MinkBuilder`]: the store, the serializer, the bus's layers and the
//! units of work of an application.

use std::sync::Arc;

use tower::{Layer, Service, ServiceExt};

use super::Mink;
use super::execution::AggregateQueue;
use super::execution::Runtime;
use super::registry::Registry;
use crate::aggregate::AggregateCache;
use crate::bus::{BusService, CommandEnvelope, ExecuteService};
use crate::command::{CommandError, CommandResult};
use crate::error::{Error, Result};
use crate::event::{JsonSerializer, Serializer};
use crate::projection::{
    InlineProjections, InlineStore, Projection, ProjectionEngine, ProjectionKind,
    ProjectionRegistration,
};
use crate::store::{EventStore, UnitOfWork};
use crate::subscription::StartFrom;

/// Applies one layer to the bus (a layer with its types erased).
type LayerFn = Box<dyn Fn(BusService) -> BusService + Send + Sync>;

/// Configures a [`Mink`]; see [`Mink::builder`].
pub struct MinkBuilder<S: Serializer = JsonSerializer> {
    store: Option<Arc<dyn EventStore>>,
    serializer: S,
    layers: Vec<LayerFn>,
    work: Vec<Arc<dyn UnitOfWork>>,
    projections: Projections,
    outbox: Option<crate::outbox::Outbox>,
    cache: Option<Arc<AggregateCache>>,
    queue: Option<Arc<AggregateQueue>>,
    pub(super) sagas: super::sagas::SagaParts<S>,
}

/// The projection part of a [`MinkBuilder`].
struct Projections {
    given: Vec<(Arc<dyn Projection>, StartFrom)>,
    discover: bool,
    start: bool,
    instance: Option<String>,
}

impl Default for Projections {
    fn default() -> Self {
        Projections {
            given: Vec::new(),
            discover: true,
            start: true,
            instance: None,
        }
    }
}

impl<S: Serializer> std::fmt::Debug for MinkBuilder<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MinkBuilder")
            .field("store", &self.store.is_some())
            .field("layers", &self.layers.len())
            .field("units_of_work", &self.work.len())
            .field("projections", &self.projections.given.len())
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
            projections: Projections::default(),
            outbox: None,
            cache: Some(Arc::new(AggregateCache::default())),
            queue: None,
            sagas: super::sagas::SagaParts::default(),
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
            projections: self.projections,
            outbox: self.outbox,
            cache: self.cache,
            queue: self.queue,
            sagas: self.sagas.carry(),
        }
    }

    /// Replaces the [`AggregateCache`] (by default 1,024 aggregates for 60
    /// seconds): a load reads only the events stored after the cached
    /// version. Aggregates whose type is not `Clone` are never cached.
    pub fn aggregate_cache(mut self, cache: AggregateCache) -> Self {
        self.cache = Some(Arc::new(cache));
        self
    }

    /// Turns the [`AggregateCache`] off: every load replays the whole
    /// stream.
    pub fn no_aggregate_cache(mut self) -> Self {
        self.cache = None;
        self
    }

    /// Runs the commands of one aggregate one at a time in this instance
    /// (off by default): a command waits for the one before it on the same
    /// aggregate to load, decide and append, instead of racing it and
    /// losing on a concurrency conflict. With the [`AggregateCache`], the
    /// next command then reads only the events its predecessor wrote. Other
    /// instances still race through optimistic concurrency. Aggregates
    /// share `stripes` locks by the hash of their stream id, so two
    /// aggregates may sometimes wait for each other; 0 turns it off.
    pub fn queue_commands_per_aggregate(mut self, stripes: usize) -> Self {
        self.queue = (stripes > 0).then(|| Arc::new(AggregateQueue::new(stripes)));
        self
    }

    /// Adds a projection instance. Inline projections run in every append's
    /// transaction; async and live ones run in the application's
    /// [`ProjectionEngine`]. An instance replaces the registered projection
    /// of the same name, so a projection whose type is not `Default` is
    /// added this way.
    pub fn projection(mut self, projection: impl Projection) -> Self {
        self.projections
            .given
            .push((Arc::new(projection), StartFrom::Now));
        self
    }

    /// Adds a projection already shared elsewhere.
    pub fn shared_projection(mut self, projection: Arc<dyn Projection>) -> Self {
        self.projections.given.push((projection, StartFrom::Now));
        self
    }

    /// Adds a live projection that starts from `from` rather than from now.
    pub fn live_projection_from(mut self, projection: impl Projection, from: StartFrom) -> Self {
        self.projections.given.push((Arc::new(projection), from));
        self
    }

    /// Whether to run the `#[projection]`s registered in the binary whose
    /// types are `Default` (on by default). Their names are checked for
    /// clashes either way.
    pub fn registered_projections(mut self, run: bool) -> Self {
        self.projections.discover = run;
        self
    }

    /// Whether [`build`](Self::build) starts the async and live projections
    /// (on by default); otherwise call `app.projections().start()`.
    pub fn start_projections(mut self, start: bool) -> Self {
        self.projections.start = start;
        self
    }

    /// Names this instance in projection leases and status.
    pub fn instance_id(mut self, id: impl Into<String>) -> Self {
        self.projections.instance = Some(id.into());
        self
    }

    /// Runs `work` inside the transaction of every append the application
    /// makes (dispatched commands, saved aggregates), after the events are
    /// written and before the commit. When it fails, nothing of that append
    /// is stored. Units of work run in the order they were added.
    pub fn unit_of_work(mut self, work: impl UnitOfWork + 'static) -> Self {
        self.work.push(Arc::new(work));
        self
    }

    /// Gives the application a transactional outbox: every append writes
    /// the messages of its routes in the append's transaction, and (when it
    /// has publishers) a relay started by [`build`](Self::build) sends
    /// them. See `docs/guide/outbox.md`.
    pub fn outbox(mut self, outbox: crate::outbox::Outbox) -> Self {
        self.outbox = Some(outbox);
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
        self.sagas.note_layer::<L>();
        self.layers.push(Box::new(move |inner| {
            BusService::new(layer.layer(inner).map_err(Into::into))
        }));
        self
    }

    /// Discovers the registered events and handlers, assembles the bus and
    /// builds the application.
    ///
    /// Fails with [`Error::DuplicateEventType`] when two Rust types claim one
    /// event type name, and with [`Error::Configuration`] without a store,
    /// or when two projections or two `#[saga]` types share a name (naming
    /// where both are declared).
    pub async fn build(self) -> Result<Mink<S>> {
        let store = self
            .store
            .ok_or_else(|| Error::Configuration("no event store: call .store(…)".into()))?;
        let registry = Registry::discover()?;
        crate::saga::check_unique_saga_names(crate::saga::registered())?;
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
        let (store, engine) = self.projections.assemble(store)?;
        let (store, outbox) = super::outbox::attach(self.outbox, store)?;
        let runtime = Arc::new(Runtime {
            store,
            serializer: self.serializer,
            registry,
            work: self.work,
            cache: self.cache,
            queue: self.queue,
        });
        let instance = self.projections.instance.clone();
        let sagas = self
            .sagas
            .assemble(&runtime.store, &runtime, &bus, instance)?;
        if self.projections.start {
            engine.start();
        }
        Ok(Mink {
            runtime,
            bus,
            projections: engine,
            outbox,
            sagas,
        })
    }
}

impl Projections {
    /// Checks names, gathers the registered and given projections, and
    /// splits them: inline ones wrap the store, the others go to the
    /// engine.
    fn assemble(
        &self,
        store: Arc<dyn EventStore>,
    ) -> Result<(Arc<dyn EventStore>, ProjectionEngine)> {
        check_registered_names(crate::projection::registered())?;
        let mut chosen: Vec<(Arc<dyn Projection>, StartFrom)> = Vec::new();
        if self.discover {
            for registration in crate::projection::registered() {
                let given = self
                    .given
                    .iter()
                    .any(|(p, _)| p.name() == registration.name);
                if given {
                    continue;
                }
                if let Some(projection) = (registration.make)() {
                    chosen.push((projection, StartFrom::Now));
                }
            }
        }
        chosen.extend(self.given.iter().cloned());
        chosen.sort_by(|a, b| a.0.name().cmp(b.0.name()));
        let mut inline = InlineProjections::new();
        let mut engine = ProjectionEngine::builder(Arc::clone(&store));
        if let Some(id) = &self.instance {
            engine = engine.instance_id(id.clone());
        }
        for (projection, from) in chosen {
            if projection.kind() == ProjectionKind::Inline {
                inline.add(projection)?;
            } else {
                engine = engine.shared_projection_from(projection, from);
            }
        }
        let engine = engine.build()?;
        if let Some(name) = inline.names().find(|n| engine.names().any(|m| m == *n)) {
            return Err(Error::Configuration(format!(
                "two projections are named `{name}`; projection names must be unique"
            )));
        }
        let store: Arc<dyn EventStore> = if inline.is_empty() {
            store
        } else {
            Arc::new(InlineStore::new(store, inline))
        };
        Ok((store, engine))
    }
}

/// Fails when two `#[projection]`s of different types share a name, naming
/// where each is declared.
fn check_registered_names<'a>(
    registrations: impl Iterator<Item = &'a ProjectionRegistration>,
) -> Result<()> {
    let mut seen: std::collections::BTreeMap<&str, &ProjectionRegistration> =
        std::collections::BTreeMap::new();
    let mut clashes = Vec::new();
    for r in registrations {
        match seen.get(r.name) {
            Some(first) if first.rust_type != r.rust_type || first.declared_at != r.declared_at => {
                let (a, b) = if first.declared_at <= r.declared_at {
                    (*first, r)
                } else {
                    (r, *first)
                };
                clashes.push(format!(
                    "two projections are named `{}`: `{}` at {} and `{}` at {}; rename one with #[projection(name = \"…\")]",
                    r.name, a.rust_type, a.declared_at, b.rust_type, b.declared_at
                ));
            }
            Some(_) => {}
            None => {
                seen.insert(r.name, r);
            }
        }
    }
    clashes.sort();
    match clashes.into_iter().next() {
        Some(message) => Err(Error::Configuration(message)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registration(
        name: &'static str,
        rust_type: &'static str,
        at: &'static str,
    ) -> ProjectionRegistration {
        ProjectionRegistration {
            name,
            kind: ProjectionKind::Async,
            rust_type,
            declared_at: at,
            make: || None,
        }
    }

    #[test]
    fn a_duplicate_projection_name_names_both_places() {
        let a = registration("sales", "app::Sales", "src/a.rs:10");
        let b = registration("sales", "app::Other", "src/b.rs:20");
        let c = registration("orders", "app::Orders", "src/c.rs:1");
        let err = check_registered_names([c, b, a].iter())
            .unwrap_err()
            .to_string();
        assert!(err.contains("`sales`"), "{err}");
        assert!(err.contains("app::Sales` at src/a.rs:10"), "{err}");
        assert!(err.contains("app::Other` at src/b.rs:20"), "{err}");
        assert!(check_registered_names([a, c].iter()).is_ok());
    }
}
