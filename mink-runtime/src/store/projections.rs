//! Where projections keep their place: checkpoints, leases, control
//! requests written by other processes, and parked (dead-letter) events.
//! Each adapter implements [`ProjectionStore`] beside its events, in the
//! same database, so that a read model written in that database commits
//! with its checkpoint (docs/adr/013-checkpoints-and-leases.md).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreTransaction;
use crate::error::{Error, Result};
use crate::event::Position;

/// What a projection is doing, as its worker reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProjectionState {
    /// Applying events, or waiting for new ones.
    Running,
    /// Paused on request; its checkpoint stays where it is.
    Paused,
    /// Replaying a range of the log after a rebuild request.
    Rebuilding,
    /// Stopped by an error its policy does not let it pass (retries
    /// exhausted, or a poison event under the pause policy).
    Faulted,
    /// No worker runs it.
    Stopped,
}

impl ProjectionState {
    /// The lowercase name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectionState::Running => "running",
            ProjectionState::Paused => "paused",
            ProjectionState::Rebuilding => "rebuilding",
            ProjectionState::Faulted => "faulted",
            ProjectionState::Stopped => "stopped",
        }
    }
}

impl fmt::Display for ProjectionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProjectionState {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "running" => ProjectionState::Running,
            "paused" => ProjectionState::Paused,
            "rebuilding" => ProjectionState::Rebuilding,
            "faulted" => ProjectionState::Faulted,
            "stopped" => ProjectionState::Stopped,
            other => {
                return Err(Error::backend(format!(
                    "unknown projection state `{other}` stored"
                )));
            }
        })
    }
}

/// What an operator asks of a projection, from any process: the running
/// worker reads it from the store and obeys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Desired {
    /// Work the projection.
    #[default]
    Running,
    /// Leave the checkpoint where it is until resumed.
    Paused,
}

impl Desired {
    /// The lowercase name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Desired::Running => "running",
            Desired::Paused => "paused",
        }
    }
}

impl FromStr for Desired {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "running" => Ok(Desired::Running),
            "paused" => Ok(Desired::Paused),
            other => Err(Error::backend(format!(
                "unknown desired projection state `{other}` stored"
            ))),
        }
    }
}

/// A request to rebuild a projection: clear its read model, then replay the
/// events after `from`, up to and including `to` when given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RebuildRequest {
    /// Tells one request from the next; allocated by the store.
    pub id: u64,
    /// Replay the events strictly after this position.
    pub from: Position,
    /// Stop after this position (inclusive); `None`: run on to the head and
    /// keep going.
    pub to: Option<Position>,
    /// Whether the worker has cleared the read model and moved the
    /// checkpoint to `from` (in one transaction) for this request.
    pub started: bool,
}

/// Everything stored about one projection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectionRecord {
    /// The projection's unique name.
    pub name: String,
    /// The last position applied: the worker reads strictly after it.
    pub checkpoint: Position,
    /// What the worker last reported.
    pub state: ProjectionState,
    /// What an operator asked for.
    pub desired: Desired,
    /// A rebuild waiting or under way.
    pub rebuild: Option<RebuildRequest>,
    /// The instance holding the lease, if any (even an expired one).
    pub owner: Option<String>,
    /// Bumped each time the lease changes hands; every checkpoint write is
    /// fenced by it.
    pub generation: u64,
    /// When the current lease runs out (the database's clock).
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// The owner's last heartbeat.
    pub heartbeat_at: Option<DateTime<Utc>>,
    /// Events applied since the record was created (rebuilds included).
    pub events_processed: u64,
    /// The last error the worker reported, cleared when it recovers.
    pub last_error: Option<String>,
    /// When the record last changed.
    pub updated_at: DateTime<Utc>,
}

/// The right to work one projection, held by one instance at a time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Lease {
    /// The projection.
    pub projection: String,
    /// The instance holding it.
    pub owner: String,
    /// The generation it was granted with.
    pub generation: u64,
}

/// What a worker reports with each heartbeat and on release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    /// Its state.
    pub state: ProjectionState,
    /// Its last error, if it is failing.
    pub last_error: Option<String>,
}

/// An event a projection could not apply and parked by its policy. It
/// stays in the store, with the error, until replayed or removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The projection that parked it.
    pub projection: String,
    /// The event's place in the log.
    pub position: Position,
    /// The event's id (nil when the row could not be decoded).
    pub event_id: Uuid,
    /// Its stream.
    pub stream_id: String,
    /// Its version in the stream (0 when unknown).
    pub version: u64,
    /// Its type name (empty when unknown).
    pub event_type: String,
    /// Why it failed.
    pub error: String,
    /// How many attempts were made.
    pub attempts: u32,
    /// When it was parked.
    pub parked_at: DateTime<Utc>,
}

/// The rebuild step a checkpoint commit takes with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RebuildStep {
    /// None: an ordinary batch.
    #[default]
    None,
    /// The read model was cleared in this transaction and the checkpoint
    /// moves to the request's `from`: marks the request started.
    Started(u64),
    /// The replay reached the request's bound: the request is done. When it
    /// had a `to` bound, the projection is left paused there.
    Finished(u64),
}

/// How a checkpoint moves when a batch commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointUpdate {
    /// The checkpoint the batch started from: the commit fails with
    /// [`Error::LeaseLost`] when the stored one differs.
    pub from: Position,
    /// The new checkpoint.
    pub to: Position,
    /// Events applied in the batch, added to `events_processed`.
    pub applied: u64,
    /// Events parked in the batch, stored in the same transaction.
    pub parked: Vec<DeadLetter>,
    /// The rebuild step this commit takes.
    pub rebuild: RebuildStep,
}

/// A transaction on the projection store's database, in which a worker
/// writes a batch's read-model changes and then its checkpoint.
///
/// Dropping it without [`commit`](Self::commit) rolls everything back.
#[async_trait]
pub trait CheckpointTransaction: Send {
    /// The open transaction, for the read-model writes (downcast it to the
    /// adapter's type, as for a unit of work).
    fn transaction(&mut self) -> &mut dyn StoreTransaction;

    /// Writes the checkpoint compare-and-set, fenced by the lease's
    /// generation, then commits. Fails with [`Error::LeaseLost`], having
    /// stored nothing, when the generation or the checkpoint moved.
    async fn commit(self: Box<Self>, update: CheckpointUpdate) -> Result<()>;
}

/// Checkpoints, leases, control requests and dead letters of projections,
/// kept in the event store's database.
///
/// Times (lease expiry, heartbeats) come from the database's clock, so that
/// instances on machines whose clocks differ agree on them.
#[async_trait]
pub trait ProjectionStore: Send + Sync + 'static {
    /// The record of `name`, if any.
    async fn record(&self, name: &str) -> Result<Option<ProjectionRecord>>;

    /// Every record, by name.
    async fn records(&self) -> Result<Vec<ProjectionRecord>>;

    /// Takes the lease on `name` for `ttl` when it is free, expired, or
    /// already held by `owner`, creating the record (at
    /// [`Position::START`]) when missing. A take-over by another owner, or
    /// after expiry, bumps the generation. `None` when another owner holds
    /// a live lease.
    async fn acquire(&self, name: &str, owner: &str, ttl: Duration) -> Result<Option<Lease>>;

    /// Extends a held lease by `ttl` and stores `status`. Returns the
    /// record as it is now, or `None` when the lease was lost (another
    /// generation holds it).
    async fn renew(
        &self,
        lease: &Lease,
        ttl: Duration,
        status: &StatusReport,
    ) -> Result<Option<ProjectionRecord>>;

    /// Gives the lease up (the worker stopped), storing `status`. Does
    /// nothing when the lease was already lost.
    async fn release(&self, lease: &Lease, status: &StatusReport) -> Result<()>;

    /// Opens a transaction for one batch of the lease's projection.
    async fn begin(&self, lease: &Lease) -> Result<Box<dyn CheckpointTransaction>>;

    /// Asks the projection's worker, wherever it runs, to pause or resume.
    /// Creates the record when missing.
    async fn set_desired(&self, name: &str, desired: Desired) -> Result<()>;

    /// Asks for a rebuild, replacing a request not yet finished; returns its
    /// id. Creates the record when missing.
    async fn request_rebuild(
        &self,
        name: &str,
        from: Position,
        to: Option<Position>,
    ) -> Result<u64>;

    /// Withdraws a rebuild request, started or not. The read model keeps
    /// what the replay wrote so far.
    async fn cancel_rebuild(&self, name: &str) -> Result<()>;

    /// The events `name` parked, in log order.
    async fn dead_letters(&self, name: &str) -> Result<Vec<DeadLetter>>;

    /// Removes one parked event (after it was replayed or given up on).
    /// Returns whether it was there.
    async fn remove_dead_letter(&self, name: &str, position: Position) -> Result<bool>;
}

#[async_trait]
impl<S: ProjectionStore + ?Sized> ProjectionStore for std::sync::Arc<S> {
    async fn record(&self, name: &str) -> Result<Option<ProjectionRecord>> {
        (**self).record(name).await
    }
    async fn records(&self) -> Result<Vec<ProjectionRecord>> {
        (**self).records().await
    }
    async fn acquire(&self, name: &str, owner: &str, ttl: Duration) -> Result<Option<Lease>> {
        (**self).acquire(name, owner, ttl).await
    }
    async fn renew(
        &self,
        lease: &Lease,
        ttl: Duration,
        status: &StatusReport,
    ) -> Result<Option<ProjectionRecord>> {
        (**self).renew(lease, ttl, status).await
    }
    async fn release(&self, lease: &Lease, status: &StatusReport) -> Result<()> {
        (**self).release(lease, status).await
    }
    async fn begin(&self, lease: &Lease) -> Result<Box<dyn CheckpointTransaction>> {
        (**self).begin(lease).await
    }
    async fn set_desired(&self, name: &str, desired: Desired) -> Result<()> {
        (**self).set_desired(name, desired).await
    }
    async fn request_rebuild(
        &self,
        name: &str,
        from: Position,
        to: Option<Position>,
    ) -> Result<u64> {
        (**self).request_rebuild(name, from, to).await
    }
    async fn cancel_rebuild(&self, name: &str) -> Result<()> {
        (**self).cancel_rebuild(name).await
    }
    async fn dead_letters(&self, name: &str) -> Result<Vec<DeadLetter>> {
        (**self).dead_letters(name).await
    }
    async fn remove_dead_letter(&self, name: &str, position: Position) -> Result<bool> {
        (**self).remove_dead_letter(name, position).await
    }
}
