//! The application's sagas: [`MinkBuilder::saga`] adds a saga type, whose
//! manager `build()` starts; the manager sends its commands through the
//! application's bus behind an idempotency layer keyed by each command's
//! message id, so a re-send after a crash runs nothing twice
//! (docs/adr/016-sagas.md).

use std::any::TypeId;
use std::sync::Arc;

use futures::FutureExt;
use tower::{Layer, ServiceExt};

use super::Mink;
use super::builder::MinkBuilder;
use super::execution::Runtime;
use crate::bus::{BusService, CommandEnvelope, IdempotencyLayer, InFlight, KeyStrategy};
use crate::command::{Command, CommandError, CommandRoute, Context, DispatchError};
use crate::error::{Error, Result};
use crate::event::Serializer;
use crate::saga::{
    Clock, Saga, SagaCommandError, SagaDispatchFuture, SagaEngine, SagaExecutor, SagaOptions,
    SagaRunner, Sagas, SystemClock,
};
use crate::store::EventStore;

/// Builds the manager of one saga type once the bus exists.
type Maker<S> = Box<dyn FnOnce(&Deps<S>) -> Result<Arc<dyn SagaRunner>> + Send + Sync + 'static>;

/// What a saga manager is built from.
struct Deps<S> {
    store: Arc<dyn EventStore>,
    serializer: AppSerializer<S>,
    executor: SagaBus<S>,
    clock: Arc<dyn Clock>,
    options: SagaOptions,
    instance: Option<String>,
}

/// The saga part of a [`MinkBuilder`].
pub(super) struct SagaParts<S> {
    makers: Vec<(&'static str, Maker<S>)>,
    /// Saga types added before `.serializer(…)` replaced the serializer
    /// their managers were typed with.
    dropped: Vec<&'static str>,
    clock: Arc<dyn Clock>,
    options: SagaOptions,
    start: bool,
    /// Whether the application's bus has an [`IdempotencyLayer`] already.
    idempotent_bus: bool,
}

impl<S> Default for SagaParts<S> {
    fn default() -> Self {
        SagaParts {
            makers: Vec::new(),
            dropped: Vec::new(),
            clock: Arc::new(SystemClock),
            options: SagaOptions::default(),
            start: true,
            idempotent_bus: false,
        }
    }
}

impl<S: Serializer> SagaParts<S> {
    /// The parts under another serializer: the saga types added so far are
    /// typed with the old one, so `build()` fails naming them.
    pub(super) fn carry<S2>(self) -> SagaParts<S2> {
        let mut dropped = self.dropped;
        dropped.extend(self.makers.iter().map(|(name, _)| *name));
        SagaParts {
            makers: Vec::new(),
            dropped,
            clock: self.clock,
            options: self.options,
            start: self.start,
            idempotent_bus: self.idempotent_bus,
        }
    }

    /// Notes a layer added to the bus: an [`IdempotencyLayer`] there makes
    /// the sagas' own unnecessary (and two would wait on each other's
    /// claim of one key).
    pub(super) fn note_layer<L: 'static>(&mut self) {
        if TypeId::of::<L>() == TypeId::of::<IdempotencyLayer>() {
            self.idempotent_bus = true;
        }
    }

    /// Builds the managers of the saga types added (starting them unless
    /// told not to) and the operator's view of the store's sagas.
    pub(super) fn assemble(
        self,
        store: &Arc<dyn EventStore>,
        runtime: &Arc<Runtime<S>>,
        bus: &BusService,
        instance: Option<String>,
    ) -> Result<Sagas> {
        if !self.dropped.is_empty() {
            return Err(Error::Configuration(format!(
                "saga type(s) {} were added before `.serializer(…)`: call `.serializer(…)` \
                 first, then `.saga::<…>()`, so that their managers decode events with the \
                 application's serializer",
                self.dropped.join(", ")
            )));
        }
        let saga_store = store.saga_store();
        if self.makers.is_empty() {
            return Ok(Sagas::with_runners(saga_store, Vec::new(), self.clock));
        }
        let saga_store = saga_store.ok_or_else(|| {
            Error::Configuration(
                "sagas need a store that keeps saga records; this store keeps none".to_owned(),
            )
        })?;
        let bus = if self.idempotent_bus {
            bus.clone()
        } else {
            BusService::new(
                IdempotencyLayer::shared(saga_store.idempotency())
                    .strategy(KeyStrategy::Explicit)
                    .in_flight(InFlight::Reject)
                    .lease(self.options.idempotency_lease)
                    .layer(bus.clone()),
            )
        };
        let mut names: Vec<&str> = self.makers.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(Error::Configuration(format!(
                "saga type `{}` was added twice; saga names must be unique",
                w[0]
            )));
        }
        let deps = Deps {
            store: Arc::clone(store),
            serializer: AppSerializer(Arc::clone(runtime)),
            executor: SagaBus {
                runtime: Arc::clone(runtime),
                bus,
            },
            clock: Arc::clone(&self.clock),
            options: self.options,
            instance,
        };
        let mut runners = Vec::new();
        for (_, make) in self.makers {
            runners.push(make(&deps)?);
        }
        let sagas = Sagas::with_runners(Some(saga_store), runners, self.clock);
        if self.start {
            sagas.start();
        }
        Ok(sagas)
    }
}

impl<S: Serializer> MinkBuilder<S> {
    /// Adds saga type `G`: `build()` starts its manager, which decodes
    /// events with the application's serializer and sends the saga's
    /// commands through the application's bus, exactly once (see
    /// `docs/guide/sagas.md`).
    ///
    /// Call [`serializer`](Self::serializer) first: a saga added before it
    /// makes `build()` fail with [`Error::Configuration`].
    pub fn saga<G: Saga>(mut self) -> Self {
        let make: Maker<S> = Box::new(|deps: &Deps<S>| {
            let mut engine = SagaEngine::builder::<G, AppSerializer<S>, SagaBus<S>>(
                Arc::clone(&deps.store),
                deps.serializer.clone(),
                deps.executor.clone(),
            )
            .clock(Arc::clone(&deps.clock))
            .options(deps.options.clone());
            if let Some(id) = &deps.instance {
                engine = engine.instance_id(id.clone());
            }
            Ok(Arc::new(engine.build()?) as Arc<dyn SagaRunner>)
        });
        self.sagas.makers.push((G::NAME, make));
        self
    }

    /// The clock the sagas' deadlines and retries go by (default: the
    /// system's); a [`ManualClock`](crate::saga::ManualClock) in tests.
    pub fn saga_clock(mut self, clock: impl Clock) -> Self {
        self.sagas.clock = Arc::new(clock);
        self
    }

    /// How the saga managers work.
    pub fn saga_options(mut self, options: SagaOptions) -> Self {
        self.sagas.options = options;
        self
    }

    /// Whether [`build`](Self::build) starts the saga managers (on by
    /// default); otherwise call `app.sagas().start()`.
    pub fn start_sagas(mut self, start: bool) -> Self {
        self.sagas.start = start;
        self
    }
}

/// The application's serializer, shared with its runtime.
pub(super) struct AppSerializer<S>(Arc<Runtime<S>>);

impl<S> Clone for AppSerializer<S> {
    fn clone(&self) -> Self {
        AppSerializer(Arc::clone(&self.0))
    }
}

impl<S: Serializer> Serializer for AppSerializer<S> {
    fn format(&self) -> &'static str {
        self.0.serializer.format()
    }

    fn content_type(&self) -> crate::event::ContentType {
        self.0.serializer.content_type()
    }

    fn serialize<T: serde::Serialize + ?Sized>(
        &self,
        value: &T,
    ) -> std::result::Result<Vec<u8>, crate::error::BoxError> {
        self.0.serializer.serialize(value)
    }

    fn deserialize<T: serde::de::DeserializeOwned>(
        &self,
        bytes: &[u8],
    ) -> std::result::Result<T, crate::error::BoxError> {
        self.0.serializer.deserialize(bytes)
    }
}

/// Sends a saga's commands through the application's bus (behind an
/// idempotency layer). Holds the bus, not the application, so that the
/// application's managers do not keep it alive.
pub(super) struct SagaBus<S> {
    runtime: Arc<Runtime<S>>,
    bus: BusService,
}

impl<S> Clone for SagaBus<S> {
    fn clone(&self) -> Self {
        SagaBus {
            runtime: Arc::clone(&self.runtime),
            bus: self.bus.clone(),
        }
    }
}

fn send_on<C, S>(
    bus: BusService,
    runtime: Arc<Runtime<S>>,
    command: C,
    mut context: Context,
) -> SagaDispatchFuture
where
    C: Command,
    C::Aggregate: CommandRoute<C>,
    S: Serializer,
{
    context.ensure_correlation_id();
    let envelope = CommandEnvelope::new(command, context, runtime);
    async move {
        bus.oneshot(envelope)
            .await
            .map_err(|e| classify(C::NAME, e))
    }
    .boxed()
}

/// Whether a failed command may succeed later.
fn classify(command: &str, error: CommandError) -> SagaCommandError {
    let transient = match &error {
        DispatchError::TimedOut
        | DispatchError::Overloaded
        | DispatchError::InProgress { .. }
        | DispatchError::Middleware(_) => true,
        DispatchError::Store(e) => e.is_transient() || e.is_concurrency_conflict(),
        _ => false,
    };
    let command = command.to_owned();
    let source = Box::new(error);
    if transient {
        SagaCommandError::Transient { command, source }
    } else {
        SagaCommandError::Permanent { command, source }
    }
}

impl<S: Serializer> SagaExecutor for SagaBus<S> {
    fn send<C>(&self, command: C, context: Context) -> SagaDispatchFuture
    where
        C: Command,
        C::Aggregate: CommandRoute<C>,
    {
        send_on(
            self.bus.clone(),
            Arc::clone(&self.runtime),
            command,
            context,
        )
    }
}

/// Sends through the application's bus as it is: a saga engine built by
/// hand on a `Mink` is exactly once when the bus has an
/// [`IdempotencyLayer`]. The managers that [`MinkBuilder::saga`] adds get
/// one in any case.
impl<S: Serializer> SagaExecutor for Mink<S> {
    fn send<C>(&self, command: C, context: Context) -> SagaDispatchFuture
    where
        C: Command,
        C::Aggregate: CommandRoute<C>,
    {
        send_on(
            self.bus.clone(),
            Arc::clone(&self.runtime),
            command,
            context,
        )
    }
}

impl<S: Serializer> Mink<S> {
    /// The application's sagas: list, show, retry, resume stalled ones;
    /// start and stop their managers.
    pub fn sagas(&self) -> &Sagas {
        &self.sagas
    }
}
