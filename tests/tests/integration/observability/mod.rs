//! Observability: the Prometheus endpoint scraped over HTTP after known
//! work, OpenTelemetry traces followed from a command through its events
//! into the projections that handle them, and the conformance suite
//! through the instrumented store.
//!
//! Event, command and projection names are prefixed with `obs`: they are
//! global to the test binary, and so is the Prometheus recorder, which
//! sees the metrics of every test running beside these.

mod conformance;
mod otel;
mod prometheus;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use mink::prelude::*;
use mink::projection::{HandlerError, Projection, ProjectionContext, ProjectionKind};
use mink::store::{LogChanges, ProjectionStore, UnitOfWork};
use mink::{AppendResult, Position, ReadAll, RecordedEvent, StreamAppend, StreamInfo};
use tokio::sync::Barrier;

/// The type name of the only event here.
pub(crate) const DEPOSITED: &str = "obs.Deposited";

#[event]
#[derive(Debug, Clone, PartialEq)]
pub enum ObsLedgerEvent {
    #[event(name = "obs.Deposited")]
    Deposited { amount: u64 },
}

#[derive(Aggregate, Default)]
#[aggregate(events = ObsLedgerEvent, category = "obsledger")]
pub struct ObsLedger {
    #[aggregate(id)]
    id: String,
    balance: u64,
}

#[command(aggregate = ObsLedger)]
pub struct ObsDeposit {
    #[command(id)]
    pub ledger: String,
    pub amount: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("a deposit must be positive")]
pub struct ObsZeroDeposit;

#[command_handler]
impl ObsLedger {
    fn deposit(&self, cmd: ObsDeposit) -> Result<Vec<ObsLedgerEvent>, ObsZeroDeposit> {
        if cmd.amount == 0 {
            return Err(ObsZeroDeposit);
        }
        Ok(vec![ObsLedgerEvent::Deposited { amount: cmd.amount }])
    }

    fn apply(&mut self, event: &ObsLedgerEvent) {
        match event {
            ObsLedgerEvent::Deposited { amount } => self.balance += amount,
        }
    }
}

pub(crate) fn deposit(ledger: &str, amount: u64) -> ObsDeposit {
    ObsDeposit {
        ledger: ledger.into(),
        amount,
    }
}

/// A projection counting deposits, of the given kind. Not registered, so
/// no other application in the binary runs it.
pub(crate) struct DepositCounter {
    pub name: &'static str,
    pub kind: ProjectionKind,
    pub seen: Arc<AtomicU64>,
}

impl DepositCounter {
    pub(crate) fn new(name: &'static str, kind: ProjectionKind) -> Self {
        DepositCounter {
            name,
            kind,
            seen: Arc::default(),
        }
    }
}

#[async_trait]
impl Projection for DepositCounter {
    fn name(&self) -> &str {
        self.name
    }

    fn kind(&self) -> ProjectionKind {
        self.kind
    }

    fn event_types(&self) -> Vec<&'static str> {
        vec![DEPOSITED]
    }

    async fn handle(
        &self,
        _event: &RecordedEvent,
        _ctx: &mut ProjectionContext<'_>,
    ) -> Result<(), HandlerError> {
        self.seen.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// A real store whose reads of one stream wait until `n` readers have read
/// it: `n` commands dispatched at once all load the same version, and all
/// but one of their appends meet a concurrency conflict.
pub(crate) struct RaceGate<S> {
    pub inner: S,
    pub stream: String,
    pub gate: Arc<Barrier>,
}

#[async_trait]
impl<S: EventStore> EventStore for RaceGate<S> {
    async fn append_to_streams(&self, appends: Vec<StreamAppend>) -> mink::Result<AppendResult> {
        self.inner.append_to_streams(appends).await
    }

    async fn append_with(
        &self,
        appends: Vec<StreamAppend>,
        work: &dyn UnitOfWork,
    ) -> mink::Result<AppendResult> {
        self.inner.append_with(appends, work).await
    }

    async fn read_stream_forward(
        &self,
        stream_id: &str,
        from_version: u64,
        limit: usize,
    ) -> mink::Result<Vec<RecordedEvent>> {
        let page = self
            .inner
            .read_stream_forward(stream_id, from_version, limit)
            .await?;
        if stream_id == self.stream {
            self.gate.wait().await;
        }
        Ok(page)
    }

    async fn read_all_forward(&self, request: ReadAll) -> mink::Result<Vec<RecordedEvent>> {
        self.inner.read_all_forward(request).await
    }

    async fn stream_info(&self, stream_id: &str) -> mink::Result<Option<StreamInfo>> {
        self.inner.stream_info(stream_id).await
    }

    async fn head_position(&self) -> mink::Result<Position> {
        self.inner.head_position().await
    }

    async fn wait_until_visible(&self, position: Position, timeout: Duration) -> mink::Result<()> {
        self.inner.wait_until_visible(position, timeout).await
    }

    fn log_changes(&self) -> LogChanges {
        self.inner.log_changes()
    }

    fn projection_store(&self) -> Option<Arc<dyn ProjectionStore>> {
        self.inner.projection_store()
    }

    fn saga_store(&self) -> Option<Arc<dyn mink::store::SagaStore>> {
        self.inner.saga_store()
    }

    fn outbox_store(&self) -> Option<Arc<dyn mink::store::OutboxStore>> {
        self.inner.outbox_store()
    }
}
