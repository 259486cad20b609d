//! The [`EventStore`] trait every adapter implements, its request and
//! outcome types, the rules adapters share, the unit of work that runs
//! inside an append transaction, and what each adapter keeps beside the
//! events: idempotency records, projection checkpoints and leases, and
//! wake-ups for readers of the log.
//!
//! Layer: above [`crate::event`]; below everything that runs commands.

mod changes;
mod coalesce;
mod idempotency;
pub mod instrumented;
mod limits;
mod outbox;
mod outcome;
mod projections;
mod request;
pub mod rules;
mod sagas;
mod unit_of_work;

use std::time::Duration;

use async_trait::async_trait;

pub use changes::{LogChanges, LogSignal};
pub use coalesce::{COALESCED_CALLS_TOTAL, CoalesceOptions, CoalescingStore};
pub use idempotency::{Claim, IdempotencyStore};
pub use instrumented::InstrumentedStore;
pub use limits::Limits;
pub use outbox::{OutboxClaim, OutboxCounts, OutboxRow, OutboxStatus, OutboxStore};
pub use outcome::{AppendResult, AppendedStream, StreamInfo, WrittenEvent};
pub use projections::{
    CheckpointTransaction, CheckpointUpdate, DeadLetter, Desired, Lease, ProjectionRecord,
    ProjectionState, ProjectionStore, RebuildRequest, RebuildStep, StatusReport,
};
pub use request::{ReadAll, ReadFilter, StreamAppend};
pub use sagas::{
    SagaAssociation, SagaCommandKind, SagaCommandRecord, SagaCommandStatus, SagaCommandUpdate,
    SagaDeadline, SagaHistoryEntry, SagaQuery, SagaRecord, SagaStatus, SagaStore, SagaUpsert,
    SagaWrite, association_taken, message_id, saga_conflict,
};
pub use unit_of_work::{StoreTransaction, ThenWork, UnitOfWork, WorkFuture};

use crate::error::{Error, Result};
use crate::event::{ExpectedVersion, NewEvent, Position, RecordedEvent};

/// Stores events in streams and in one global log.
///
/// Every method is safe to call from many tasks at once. Appends are atomic
/// per call: either every event of every stream in the call is written, or
/// none is.
///
/// # Reading your own writes
///
/// Stream reads ([`read_stream_forward`](Self::read_stream_forward),
/// [`stream_info`](Self::stream_info)) see every committed append at once.
/// The global log ([`read_all_forward`](Self::read_all_forward),
/// [`head_position`](Self::head_position)) may show a committed append
/// later: a store whose writers commit concurrently (PostgreSQL) only shows
/// the log up to the oldest transaction still running, so that a reader
/// never skips an event that commits late. To read your own write in the
/// log, wait for its position with
/// [`wait_until_visible`](Self::wait_until_visible).
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Appends to one or more streams atomically, each with its own expected
    /// version. A mismatch on any stream fails the whole call with
    /// [`Error::ConcurrencyConflict`] and writes nothing. An event id that
    /// is already stored, or given twice, fails it with
    /// [`Error::DuplicateEventId`].
    async fn append_to_streams(&self, appends: Vec<StreamAppend>) -> Result<AppendResult>;

    /// Like [`append_to_streams`](Self::append_to_streams), and runs `work`
    /// inside the same transaction, after the events are written and before
    /// the commit. When the work fails, nothing is stored and the call
    /// fails with [`Error::UnitOfWork`].
    async fn append_with(
        &self,
        appends: Vec<StreamAppend>,
        work: &dyn UnitOfWork,
    ) -> Result<AppendResult>;

    /// Appends events to one stream atomically.
    async fn append_to_stream(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult> {
        self.append_to_streams(vec![StreamAppend::new(stream_id, expected, events)])
            .await
    }

    /// Reads up to `limit` events of one stream, starting at version
    /// `from_version` (1 is the first). A missing stream reads as empty.
    async fn read_stream_forward(
        &self,
        stream_id: &str,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>>;

    /// Reads a page of the global log, in log order. See [Reading your own
    /// writes](EventStore#reading-your-own-writes).
    async fn read_all_forward(&self, request: ReadAll) -> Result<Vec<RecordedEvent>>;

    /// Describes a stream, or `None` when it has no events.
    async fn stream_info(&self, stream_id: &str) -> Result<Option<StreamInfo>>;

    /// The position of the last event a reader of the log can see, or
    /// [`Position::START`] when the log is empty.
    async fn head_position(&self) -> Result<Position>;

    /// Waits until readers of the global log can see `position` (for
    /// example [`AppendResult::last_position`]), for at most `timeout`;
    /// fails with [`Error::NotVisible`] after that. Returns at once on
    /// stores whose log shows every commit immediately.
    async fn wait_until_visible(&self, position: Position, timeout: Duration) -> Result<()> {
        let started = tokio::time::Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            if self.head_position().await? >= position {
                return Ok(());
            }
            let waited = started.elapsed();
            if waited >= timeout {
                return Err(Error::NotVisible { position, waited });
            }
            tokio::time::sleep(pause.min(timeout - waited)).await;
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    /// Wake-ups for readers of the global log: woken after commits, so that
    /// subscriptions deliver at once rather than at their next poll. A
    /// store without them returns [`LogChanges::polling_only`].
    fn log_changes(&self) -> LogChanges {
        LogChanges::polling_only()
    }

    /// The checkpoints, leases and dead letters of projections, kept in this
    /// store's database; `None` when the store keeps none.
    fn projection_store(&self) -> Option<std::sync::Arc<dyn ProjectionStore>> {
        None
    }

    /// The outbox kept in this store's database, whose rows commit with the
    /// events; `None` when the store keeps none.
    fn outbox_store(&self) -> Option<std::sync::Arc<dyn OutboxStore>> {
        None
    }

    /// The records, outboxes and deadlines of sagas, kept in this store's
    /// database; `None` when the store keeps none.
    fn saga_store(&self) -> Option<std::sync::Arc<dyn SagaStore>> {
        None
    }
}

#[async_trait]
impl<S: EventStore + ?Sized> EventStore for std::sync::Arc<S> {
    async fn append_to_streams(&self, appends: Vec<StreamAppend>) -> Result<AppendResult> {
        (**self).append_to_streams(appends).await
    }
    async fn append_with(
        &self,
        appends: Vec<StreamAppend>,
        work: &dyn UnitOfWork,
    ) -> Result<AppendResult> {
        (**self).append_with(appends, work).await
    }
    async fn append_to_stream(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult> {
        (**self).append_to_stream(stream_id, expected, events).await
    }
    async fn read_stream_forward(
        &self,
        stream_id: &str,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>> {
        (**self)
            .read_stream_forward(stream_id, from_version, limit)
            .await
    }
    async fn read_all_forward(&self, request: ReadAll) -> Result<Vec<RecordedEvent>> {
        (**self).read_all_forward(request).await
    }
    async fn stream_info(&self, stream_id: &str) -> Result<Option<StreamInfo>> {
        (**self).stream_info(stream_id).await
    }
    async fn head_position(&self) -> Result<Position> {
        (**self).head_position().await
    }
    async fn wait_until_visible(&self, position: Position, timeout: Duration) -> Result<()> {
        (**self).wait_until_visible(position, timeout).await
    }
    fn log_changes(&self) -> LogChanges {
        (**self).log_changes()
    }
    fn projection_store(&self) -> Option<std::sync::Arc<dyn ProjectionStore>> {
        (**self).projection_store()
    }
    fn outbox_store(&self) -> Option<std::sync::Arc<dyn OutboxStore>> {
        (**self).outbox_store()
    }
    fn saga_store(&self) -> Option<std::sync::Arc<dyn SagaStore>> {
        (**self).saga_store()
    }
}
