//! What sagas keep beside the events: their records (state, status,
//! version), the associations by which events find them, the commands
//! they emit (their outbox), their deadlines and their history. Each
//! adapter implements [`SagaStore`] in the event store's database, so that
//! a batch of events commits the sagas' new state, what they emit and the
//! saga type's cursor (a projection checkpoint) in one transaction
//! (docs/adr/016-sagas.md).
//!
//! Times stored here come from the saga manager's clock (injectable in
//! tests), not the database's: they decide when a deadline or a retry is
//! due, which a test must be able to move.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{IdempotencyStore, StoreTransaction};
use crate::error::{Error, Result};

/// Where a saga stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SagaStatus {
    /// Reacting to events; its associations find it.
    Running,
    /// One of its steps failed for good: the compensations of the steps
    /// that succeeded are being sent.
    Compensating,
    /// It called `complete()` and its commands were sent.
    Completed,
    /// A step failed for good and nothing needed compensating.
    Failed,
    /// A step failed and every compensation succeeded.
    Compensated,
    /// A step failed and at least one compensation failed too.
    CompensationFailed,
}

impl SagaStatus {
    /// Every status, in the order above.
    pub const ALL: [SagaStatus; 6] = [
        SagaStatus::Running,
        SagaStatus::Compensating,
        SagaStatus::Completed,
        SagaStatus::Failed,
        SagaStatus::Compensated,
        SagaStatus::CompensationFailed,
    ];

    /// The snake_case name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            SagaStatus::Running => "running",
            SagaStatus::Compensating => "compensating",
            SagaStatus::Completed => "completed",
            SagaStatus::Failed => "failed",
            SagaStatus::Compensated => "compensated",
            SagaStatus::CompensationFailed => "compensation_failed",
        }
    }

    /// Whether the saga no longer reacts to events: its associations are
    /// free for a new saga and its deadlines do nothing.
    pub fn has_ended(self) -> bool {
        !matches!(self, SagaStatus::Running)
    }

    /// Whether nothing more happens to it unless an operator retries it.
    pub fn is_terminal(self) -> bool {
        !matches!(self, SagaStatus::Running | SagaStatus::Compensating)
    }
}

impl fmt::Display for SagaStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SagaStatus {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        SagaStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| {
                Error::invalid(
                    "saga status",
                    format!(
                        "`{s}` is not one of running, compensating, completed, failed, \
                         compensated, compensation_failed"
                    ),
                )
            })
    }
}

/// One saga, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SagaRecord {
    /// Its id (UUIDv7).
    pub id: Uuid,
    /// Its type's name (`Saga::NAME`).
    pub saga_type: String,
    /// Its state, JSON.
    pub state: Vec<u8>,
    /// Where it stands.
    pub status: SagaStatus,
    /// Bumped by every write; writes are compare-and-set on it.
    pub version: u64,
    /// How many commands it has emitted (compensations included): the
    /// sequence number of the next one.
    pub commands_issued: u64,
    /// When it started.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Why it failed, if it did.
    pub last_error: Option<String>,
}

/// A saga written in a [`SagaWrite`]: inserted when `expected` is `None`,
/// otherwise updated only when the stored version is `expected`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SagaUpsert {
    /// The record as it is to be stored.
    pub record: SagaRecord,
    /// The version it was read at; `None` for a new saga.
    pub expected: Option<u64>,
}

/// A value by which events of one saga type find one saga.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SagaAssociation {
    /// The saga type: lookups never cross types.
    pub saga_type: String,
    /// The key, such as `order_id`.
    pub key: String,
    /// The value.
    pub value: String,
    /// The saga it finds.
    pub saga_id: Uuid,
    /// Whether it finds it now: only the associations of sagas that have
    /// not ended are active, and `(saga_type, key, value)` is unique among
    /// active ones.
    pub active: bool,
}

/// Whether a saga's command is a step or undoes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SagaCommandKind {
    /// A command a handler returned.
    Step,
    /// A compensation of a step that succeeded.
    Compensation,
}

impl SagaCommandKind {
    /// The lowercase name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            SagaCommandKind::Step => "step",
            SagaCommandKind::Compensation => "compensation",
        }
    }
}

impl FromStr for SagaCommandKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "step" => Ok(SagaCommandKind::Step),
            "compensation" => Ok(SagaCommandKind::Compensation),
            other => Err(Error::backend(format!(
                "unknown saga command kind `{other}` stored"
            ))),
        }
    }
}

/// Where a saga's command stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SagaCommandStatus {
    /// Waiting to be sent (again, after a transient failure, at
    /// `next_attempt_at`).
    Pending,
    /// Sent and accepted by its handler.
    Sent,
    /// Failed for good, or ran out of attempts.
    Failed,
    /// Not sent: its saga failed before its turn.
    Cancelled,
}

impl SagaCommandStatus {
    /// The lowercase name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            SagaCommandStatus::Pending => "pending",
            SagaCommandStatus::Sent => "sent",
            SagaCommandStatus::Failed => "failed",
            SagaCommandStatus::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for SagaCommandStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SagaCommandStatus {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "pending" => Ok(SagaCommandStatus::Pending),
            "sent" => Ok(SagaCommandStatus::Sent),
            "failed" => Ok(SagaCommandStatus::Failed),
            "cancelled" => Ok(SagaCommandStatus::Cancelled),
            other => Err(Error::backend(format!(
                "unknown saga command status `{other}` stored"
            ))),
        }
    }
}

/// A command in a saga's outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SagaCommandRecord {
    /// Its stable id (see [`message_id`]): the idempotency key it is sent
    /// with is derived from it.
    pub message_id: Uuid,
    /// The saga that emitted it.
    pub saga_id: Uuid,
    /// That saga's type.
    pub saga_type: String,
    /// Its place among the saga's commands: sent in this order,
    /// compensated in the reverse.
    pub seq: u64,
    /// A step or a compensation.
    pub kind: SagaCommandKind,
    /// The command compensated, for a compensation.
    pub compensates: Option<Uuid>,
    /// The command's name (`Command::NAME`).
    pub name: String,
    /// The command, JSON.
    pub payload: Vec<u8>,
    /// Its aggregate's id, for operators.
    pub aggregate_id: Option<String>,
    /// The correlation id it is sent with.
    pub correlation_id: Option<String>,
    /// What caused it (the event or deadline's id).
    pub causation_id: Option<String>,
    /// The user id of the event that caused it.
    pub user_id: Option<String>,
    /// The tenant id of the event that caused it.
    pub tenant_id: Option<String>,
    /// Where it stands.
    pub status: SagaCommandStatus,
    /// How many times it was sent.
    pub attempts: u32,
    /// When it may be sent (again).
    pub next_attempt_at: DateTime<Utc>,
    /// Its last failure.
    pub last_error: Option<String>,
    /// The command's result (JSON of `CommandResult`) once sent.
    pub result: Option<String>,
    /// When it was emitted.
    pub created_at: DateTime<Utc>,
}

/// How a command's row changes after an attempt or an operator's retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SagaCommandUpdate {
    /// The command.
    pub message_id: Uuid,
    /// Its new status.
    pub status: SagaCommandStatus,
    /// Its attempts so far.
    pub attempts: u32,
    /// When it may be sent again.
    pub next_attempt_at: DateTime<Utc>,
    /// Its last failure.
    pub last_error: Option<String>,
    /// Its result.
    pub result: Option<String>,
}

/// A durable timer of one saga.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SagaDeadline {
    /// Tells one scheduling from the next (a rescheduled deadline gets a
    /// new id); commands its delivery emits derive their ids from it.
    pub id: Uuid,
    /// The saga it belongs to.
    pub saga_id: Uuid,
    /// That saga's type.
    pub saga_type: String,
    /// Its name, unique within the saga.
    pub name: String,
    /// When it fires, by the manager's clock.
    pub due: DateTime<Utc>,
    /// The type name of the event delivered.
    pub event_type: String,
    /// Its schema version.
    pub schema_version: u32,
    /// The event's payload, JSON.
    pub payload: Vec<u8>,
}

/// One line of a saga's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SagaHistoryEntry {
    /// The saga.
    pub saga_id: Uuid,
    /// When it happened, by the manager's clock.
    pub at: DateTime<Utc>,
    /// What happened: `event`, `deadline`, `command`, `compensation`,
    /// `status` or `retry`.
    pub kind: String,
    /// The details (event type and position, command name and outcome, …).
    pub detail: String,
}

/// Everything one step of a saga manager writes, applied in this order:
/// sagas (compare-and-set), released then reactivated associations, new
/// associations, removed then scheduled deadlines, new commands, command
/// updates, history. Written in a checkpoint's transaction with
/// [`SagaStore::write_in`], or alone with [`SagaStore::write`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SagaWrite {
    /// Sagas to insert or update.
    pub sagas: Vec<SagaUpsert>,
    /// Sagas whose associations stop finding them (they ended).
    pub release: Vec<Uuid>,
    /// Sagas whose associations find them again (an operator's retry).
    pub reactivate: Vec<Uuid>,
    /// New active associations.
    pub associate: Vec<SagaAssociation>,
    /// Deadlines removed by saga and name (cancelled or replaced).
    pub cancel_deadlines: Vec<(Uuid, String)>,
    /// Deadlines removed by id (delivered).
    pub remove_deadlines: Vec<Uuid>,
    /// Every deadline of these sagas is removed (they ended).
    pub clear_deadlines: Vec<Uuid>,
    /// Deadlines scheduled (replacing one of the same saga and name).
    pub deadlines: Vec<SagaDeadline>,
    /// Commands emitted.
    pub commands: Vec<SagaCommandRecord>,
    /// Commands whose status changes.
    pub command_updates: Vec<SagaCommandUpdate>,
    /// History lines.
    pub history: Vec<SagaHistoryEntry>,
}

impl SagaWrite {
    /// Whether it writes nothing.
    pub fn is_empty(&self) -> bool {
        self == &SagaWrite::default()
    }
}

/// Which sagas [`SagaStore::list`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SagaQuery {
    /// Only this type.
    pub saga_type: Option<String>,
    /// Only this status.
    pub status: Option<SagaStatus>,
    /// At most this many (0: no limit), most recently changed first.
    pub limit: usize,
}

/// The error of a compare-and-set that lost: another writer changed the
/// saga since it was read.
pub fn saga_conflict(id: Uuid, expected: u64) -> Error {
    Error::ConcurrencyConflict {
        stream: format!("saga-{id}"),
        expected: crate::event::ExpectedVersion::Exact(expected),
        actual: 0,
    }
}

/// The error of an association already held by another saga that has not
/// ended.
pub fn association_taken(association: &SagaAssociation) -> Error {
    Error::invalid(
        "saga association",
        format!(
            "`{}` = `{}` already finds another running saga of type `{}`",
            association.key, association.value, association.saga_type
        ),
    )
}

/// The stable id of the `index`-th command emitted by saga `saga_id` in
/// reaction to `trigger` (an event's position, a deadline's id, a
/// compensated command's id): the same inputs give the same id, so a
/// command re-emitted after a crash keeps its idempotency key.
pub fn message_id(saga_id: Uuid, trigger: &str, index: usize) -> Uuid {
    let digest = Sha256::new()
        .chain_update(saga_id.as_bytes())
        .chain_update(trigger.as_bytes())
        .chain_update([0u8])
        .chain_update((index as u64).to_be_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// Saga records, associations, commands, deadlines and history, kept in
/// the event store's database (`EventStore::saga_store`).
///
/// A saga type's cursor is not here: it is the projection checkpoint named
/// `saga:<NAME>`, whose transaction ([`super::CheckpointTransaction`])
/// [`write_in`](Self::write_in) writes in.
#[async_trait]
pub trait SagaStore: Send + Sync + 'static {
    /// Applies `write` inside `tx`, a transaction of this store's database
    /// (a checkpoint's). Fails with [`Error::ConcurrencyConflict`] when a
    /// saga's version moved, and with [`Error::InvalidInput`] when an
    /// association is held by another saga that has not ended; the caller
    /// then drops the transaction, so nothing is stored.
    async fn write_in(&self, tx: &mut dyn StoreTransaction, write: &SagaWrite) -> Result<()>;

    /// Applies `write` in a transaction of its own.
    async fn write(&self, write: &SagaWrite) -> Result<()>;

    /// The saga `id`.
    async fn saga(&self, id: Uuid) -> Result<Option<SagaRecord>>;

    /// The saga of `saga_type` that the active association `key` =
    /// `value` finds.
    async fn find(&self, saga_type: &str, key: &str, value: &str) -> Result<Option<SagaRecord>>;

    /// Sagas by type and status, most recently changed first.
    async fn list(&self, query: &SagaQuery) -> Result<Vec<SagaRecord>>;

    /// The associations of one saga, active or not.
    async fn associations(&self, saga_id: Uuid) -> Result<Vec<SagaAssociation>>;

    /// The commands of one saga, by sequence.
    async fn commands(&self, saga_id: Uuid) -> Result<Vec<SagaCommandRecord>>;

    /// Pending commands of `saga_type`, by saga and sequence, at most
    /// `limit` (due or not).
    async fn pending_commands(
        &self,
        saga_type: &str,
        limit: usize,
    ) -> Result<Vec<SagaCommandRecord>>;

    /// The deadlines of one saga.
    async fn deadlines(&self, saga_id: Uuid) -> Result<Vec<SagaDeadline>>;

    /// Deadlines of `saga_type` due at `now`, earliest first, at most
    /// `limit`.
    async fn due_deadlines(
        &self,
        saga_type: &str,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<SagaDeadline>>;

    /// The history of one saga, oldest first.
    async fn history(&self, saga_id: Uuid) -> Result<Vec<SagaHistoryEntry>>;

    /// The idempotency records of this database, through which a saga's
    /// commands are sent so that a re-send after a crash runs nothing.
    fn idempotency(&self) -> Arc<dyn IdempotencyStore>;
}
