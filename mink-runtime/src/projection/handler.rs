//! What a projection is, as the engine sees it: the [`Projection`] trait
//! that `#[projection]` implements, its options, the context its handlers
//! get, and how their errors are told apart.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;

use crate::error::{BoxError, Error};
use crate::event::RecordedEvent;
use crate::store::StoreTransaction;

/// How a projection runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProjectionKind {
    /// Inside the append transaction: its writes commit with the events,
    /// and its failure fails the append.
    Inline,
    /// In a background worker that reads the log after a checkpoint, which
    /// commits with the batch's read-model writes.
    Async,
    /// In memory, from a checkpoint or from now: catches up, then follows
    /// the log. Nothing is stored.
    Live,
}

impl ProjectionKind {
    /// `inline`, `async` or `live`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectionKind::Inline => "inline",
            ProjectionKind::Async => "async",
            ProjectionKind::Live => "live",
        }
    }
}

impl fmt::Display for ProjectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an async projection does with an event its handler keeps failing
/// on (a poison event) once its attempts are spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PoisonPolicy {
    /// Park the event in the dead letters, with its error and position,
    /// and go on with the next one.
    #[default]
    Skip,
    /// Stop at the event: the projection is faulted, its error in its
    /// status, until an operator resumes it.
    Pause,
    /// Keep retrying it, backing off, with the error in the status.
    Retry,
}

/// Options of an async projection (inline and live projections use none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectionOptions {
    /// The most events applied in one transaction.
    pub batch_size: usize,
    /// How long a worker waits for a batch to fill before applying a
    /// partial one; zero applies whatever is there at once.
    pub batch_timeout: Duration,
    /// Attempts at one event before [`PoisonPolicy`] decides.
    pub max_attempts: u32,
    /// What to do with a poison event.
    pub on_poison: PoisonPolicy,
    /// The first pause after a failure; doubled after each, with jitter.
    pub backoff_initial: Duration,
    /// The longest pause after a failure.
    pub backoff_max: Duration,
    /// How long a lease lasts without a heartbeat: another instance takes
    /// the projection over this long after its owner died.
    pub lease_ttl: Duration,
    /// How often an idle worker reads the log even when no wake-up came.
    pub poll_interval: Duration,
}

impl Default for ProjectionOptions {
    fn default() -> Self {
        ProjectionOptions {
            batch_size: 500,
            batch_timeout: Duration::ZERO,
            max_attempts: 5,
            on_poison: PoisonPolicy::Skip,
            backoff_initial: Duration::from_millis(50),
            backoff_max: Duration::from_secs(5),
            lease_ttl: Duration::from_secs(10),
            poll_interval: Duration::from_millis(500),
        }
    }
}

/// Where a handler is running, and the transaction its writes must join.
///
/// - Inline projections get the append transaction: their writes commit
///   with the events.
/// - Async projections get the batch's transaction: their writes commit
///   with the checkpoint, exactly once when the read model lives in the
///   store's database.
/// - Live projections get no transaction.
pub struct ProjectionContext<'a> {
    projection: &'a str,
    kind: ProjectionKind,
    tx: Option<&'a mut dyn StoreTransaction>,
}

impl fmt::Debug for ProjectionContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProjectionContext")
            .field("projection", &self.projection)
            .field("kind", &self.kind)
            .field("transaction", &self.tx.as_ref().map(|t| t.backend()))
            .finish()
    }
}

impl<'a> ProjectionContext<'a> {
    /// A context for `projection`, with the transaction its writes join.
    pub fn new(
        projection: &'a str,
        kind: ProjectionKind,
        tx: Option<&'a mut dyn StoreTransaction>,
    ) -> Self {
        ProjectionContext {
            projection,
            kind,
            tx,
        }
    }

    /// The projection's name.
    pub fn projection(&self) -> &str {
        self.projection
    }

    /// How the projection runs.
    pub fn kind(&self) -> ProjectionKind {
        self.kind
    }

    /// The transaction to write the read model in, if the projection has
    /// one (inline and async projections do).
    pub fn transaction(&mut self) -> Option<&mut dyn StoreTransaction> {
        match &mut self.tx {
            Some(tx) => Some(&mut **tx),
            None => None,
        }
    }

    /// The transaction as the adapter's own type (`PostgresTransaction`,
    /// `SqliteTransaction`, `MemoryTransaction`), when it is `T`.
    pub fn transaction_as<T: StoreTransaction>(&mut self) -> Option<&mut T> {
        self.transaction()?.downcast_mut::<T>()
    }
}

/// Marks an error as transient: the engine retries it, backing off, and
/// it does not count towards the event's attempts. Return
/// `Err(Transient::new(e).into())` (or `?` on a `Result<_, Transient>`)
/// from a handler.
#[derive(Debug)]
pub struct Transient(pub BoxError);

impl Transient {
    /// Wraps `error`.
    pub fn new(error: impl Into<BoxError>) -> Self {
        Transient(error.into())
    }
}

impl fmt::Display for Transient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "transient: {}", self.0)
    }
}

impl std::error::Error for Transient {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

/// Whether a failure may pass by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// Retried without limit, backing off: a lost connection, a busy store.
    Transient,
    /// Counted against the event's attempts, then handled by the
    /// projection's [`PoisonPolicy`].
    Permanent,
}

/// A handler's failure, classified.
#[derive(Debug)]
pub struct HandlerError {
    kind: FailureKind,
    source: BoxError,
}

impl HandlerError {
    /// Classifies an error: [`Transient`] wrappers, transient store errors
    /// ([`Error::is_transient`]) and read-model errors of an unavailable
    /// store are transient; everything else is permanent.
    pub fn classify(source: BoxError) -> Self {
        let transient = source
            .downcast_ref::<Error>()
            .is_some_and(Error::is_transient)
            || source
                .downcast_ref::<crate::read_model::ReadModelError>()
                .is_some_and(crate::read_model::ReadModelError::is_transient)
            || source.is::<Transient>();
        HandlerError {
            kind: if transient {
                FailureKind::Transient
            } else {
                FailureKind::Permanent
            },
            source,
        }
    }

    /// A permanent failure.
    pub fn permanent(source: impl Into<BoxError>) -> Self {
        HandlerError {
            kind: FailureKind::Permanent,
            source: source.into(),
        }
    }

    /// A transient failure.
    pub fn transient(source: impl Into<BoxError>) -> Self {
        HandlerError {
            kind: FailureKind::Transient,
            source: source.into(),
        }
    }

    /// The event could not be decoded into the handler's type: permanent.
    pub fn undecodable(source: Error) -> Self {
        HandlerError::permanent(source)
    }

    /// Whether it may pass by itself.
    pub fn kind(&self) -> FailureKind {
        self.kind
    }

    /// The error itself.
    pub fn into_source(self) -> BoxError {
        self.source
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.source.fmt(f)
    }
}

impl std::error::Error for HandlerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// A projection: it turns events into a read model.
///
/// `#[projection]` implements it from an impl block with one method per
/// event type; see `docs/guide/projections.md`. Implementing it by hand is
/// possible too.
#[async_trait]
pub trait Projection: Send + Sync + 'static {
    /// The projection's unique name: its checkpoint, lease and dead letters
    /// are stored under it.
    fn name(&self) -> &str;

    /// How it runs.
    fn kind(&self) -> ProjectionKind;

    /// The event type names it handles: the engine reads only those from
    /// the store (filtered in SQL where the store has SQL).
    fn event_types(&self) -> Vec<&'static str>;

    /// Its options (async projections).
    fn options(&self) -> ProjectionOptions {
        ProjectionOptions::default()
    }

    /// Applies one event. Events of types not in
    /// [`event_types`](Self::event_types) are never passed.
    async fn handle(
        &self,
        event: &RecordedEvent,
        ctx: &mut ProjectionContext<'_>,
    ) -> Result<(), HandlerError>;

    /// Clears the read model before a rebuild, in the transaction that
    /// moves the checkpoint back. The default does nothing.
    async fn reset(&self, ctx: &mut ProjectionContext<'_>) -> Result<(), HandlerError> {
        let _ = ctx;
        Ok(())
    }
}
