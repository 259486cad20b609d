//! [`CoalescingStore`]: concurrent appends to different streams, written by
//! one call of the store underneath (one statement in one transaction on
//! PostgreSQL, one transaction on SQLite), so that many writers share one
//! commit (docs/adr/021-coalesced-commits.md).
//!
//! An append that arrives while no call is being written is written at
//! once, by its caller's task, without a queue or a hop to another task: a
//! lone writer pays nothing for coalescing. Appends that arrive while a
//! call is being written queue, and the merging tasks write what queued in
//! shared calls.
//!
//! Each caller still gets its own outcome. A merged call that fails for
//! any reason (one caller's concurrency conflict, a duplicate event id, a
//! limit, a lost connection) wrote nothing, so each of its callers' appends
//! is run again on its own, and each caller gets exactly the result or
//! error its append alone gets: one caller's conflict never fails another
//! caller's append. A caller returns only after its events are committed.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};

use super::{
    AppendResult, EventStore, LogChanges, OutboxStore, ProjectionStore, ReadAll, SagaStore,
    StreamAppend, StreamInfo, UnitOfWork,
};
use crate::error::{Error, Result};
use crate::event::{Position, RecordedEvent};

/// Counts the calls a [`CoalescingStore`] made to its store, by how many
/// callers' appends each carried (`appends`: `1`, `2-4`, `5-16`, `17+`) and
/// by `outcome` (`ok`, or `split` when the merged call failed and each
/// append was run again on its own).
pub const COALESCED_CALLS_TOTAL: &str = "mink_store_coalesced_calls_total";

/// How a [`CoalescingStore`] merges appends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoalesceOptions {
    /// The most callers' appends merged into one call.
    pub max_appends: usize,
    /// The most events in one merged call (an append with more runs alone).
    pub max_events: usize,
    /// How long the first append of a call waits for others to join it.
    /// Zero (the default) adds no wait: a call takes the appends that
    /// queued while the previous call was committing.
    pub window: Duration,
    /// How many merged calls may run at once (each holds one connection).
    /// An append that finds no call running is written at once by its
    /// caller, beside these.
    pub in_flight: usize,
}

impl Default for CoalesceOptions {
    /// Up to 64 appends and 4,096 events per call, no added wait, and two
    /// calls at once.
    fn default() -> Self {
        CoalesceOptions {
            max_appends: 64,
            max_events: 4096,
            window: Duration::ZERO,
            in_flight: 2,
        }
    }
}

/// One caller's append, waiting to be written.
struct Pending {
    appends: Vec<StreamAppend>,
    reply: oneshot::Sender<Result<AppendResult>>,
}

impl Pending {
    fn events(&self) -> usize {
        self.appends.iter().map(|a| a.events.len()).sum()
    }
}

/// Wraps an [`EventStore`] so that concurrent
/// [`append_to_streams`](EventStore::append_to_streams) calls (and
/// [`append_to_stream`](EventStore::append_to_stream)) to different streams
/// share one call of the store underneath, and so one commit.
///
/// Appends that carry a [`UnitOfWork`]
/// ([`append_with`](EventStore::append_with)) and every read go straight
/// to the store. Two appends to one stream are never merged into one call
/// (they would conflict in it): the later one waits for a later call.
///
/// Must be used inside a Tokio runtime (the merging tasks start with the
/// first append).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> mink_runtime::Result<()> {
/// use mink_runtime::adapters::memory::InMemoryStore;
/// use mink_runtime::store::{CoalesceOptions, CoalescingStore};
/// use mink_runtime::{EventStore, ExpectedVersion, NewEvent};
///
/// let store = CoalescingStore::new(InMemoryStore::new(), CoalesceOptions::default());
/// let (a, b) = tokio::join!(
///     store.append_to_stream("a-1", ExpectedVersion::NoStream, vec![NewEvent::json("A", &1)?]),
///     store.append_to_stream("b-1", ExpectedVersion::Exact(3), vec![NewEvent::json("B", &2)?]),
/// );
/// assert_eq!(a?.last_version_of("a-1"), Some(1));
/// assert!(b.unwrap_err().is_concurrency_conflict(), "b-1 has no version 3");
/// # Ok(()) }
/// ```
pub struct CoalescingStore<S: EventStore + ?Sized> {
    inner: Arc<S>,
    options: CoalesceOptions,
    queue: OnceLock<mpsc::UnboundedSender<Pending>>,
    /// Calls being written now, by callers and by the merging tasks.
    busy: Arc<AtomicUsize>,
}

/// Counts one call in `busy` until dropped (also when its future is).
struct Busy(Arc<AtomicUsize>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl<S: EventStore + ?Sized> std::fmt::Debug for CoalescingStore<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoalescingStore")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<S: EventStore + ?Sized> CoalescingStore<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, options: CoalesceOptions) -> Self
    where
        S: Sized,
    {
        CoalescingStore::shared(Arc::new(inner), options)
    }

    /// Wraps a store shared elsewhere.
    pub fn shared(inner: Arc<S>, options: CoalesceOptions) -> Self {
        let options = CoalesceOptions {
            max_appends: options.max_appends.max(1),
            max_events: options.max_events.max(1),
            in_flight: options.in_flight.max(1),
            ..options
        };
        CoalescingStore {
            inner,
            options,
            queue: OnceLock::new(),
            busy: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The store underneath.
    pub fn inner(&self) -> &Arc<S> {
        &self.inner
    }

    /// The queue the merging tasks read, started on first use.
    fn queue(&self) -> &mpsc::UnboundedSender<Pending> {
        self.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::unbounded_channel();
            let shared = Arc::new(Merger {
                receiver: tokio::sync::Mutex::new(receiver),
                held: Mutex::new(Vec::new()),
                options: self.options,
                busy: Arc::clone(&self.busy),
            });
            for _ in 0..self.options.in_flight {
                tokio::spawn(Arc::clone(&shared).run(Arc::clone(&self.inner)));
            }
            sender
        })
    }
}

/// What the merging tasks share: the queue, and appends held back from the
/// call they were drawn for (a second append to a stream already in it).
struct Merger {
    receiver: tokio::sync::Mutex<mpsc::UnboundedReceiver<Pending>>,
    held: Mutex<Vec<Pending>>,
    options: CoalesceOptions,
    busy: Arc<AtomicUsize>,
}

impl Merger {
    /// Draws calls from the queue and makes them, until every
    /// [`CoalescingStore`] handle is gone.
    async fn run<S: EventStore + ?Sized>(self: Arc<Self>, store: Arc<S>) {
        while let Some(batch) = self.next_batch().await {
            self.busy.fetch_add(1, Ordering::AcqRel);
            let _busy = Busy(Arc::clone(&self.busy));
            write(&*store, batch).await;
        }
    }

    /// The next call's appends: held-back ones first, then the first queued
    /// one, then whatever else is queued (after the window), within the
    /// limits and never two appends to one stream.
    async fn next_batch(&self) -> Option<Vec<Pending>> {
        let mut receiver = self.receiver.lock().await;
        let mut candidates: Vec<Pending> = std::mem::take(&mut *self.lock_held());
        if candidates.is_empty() {
            candidates.push(receiver.recv().await?);
            if !self.options.window.is_zero() {
                tokio::time::sleep(self.options.window).await;
            }
        }
        let mut batch = Vec::new();
        let mut streams = HashSet::new();
        let mut events = 0;
        let mut held = Vec::new();
        let mut next = candidates.into_iter();
        loop {
            let pending = match next.next() {
                Some(p) => p,
                None if batch.len() < self.options.max_appends => match receiver.try_recv() {
                    Ok(p) => p,
                    Err(_) => break,
                },
                None => break,
            };
            let fits = batch.is_empty()
                || (batch.len() < self.options.max_appends
                    && events + pending.events() <= self.options.max_events
                    && pending
                        .appends
                        .iter()
                        .all(|a| !streams.contains(&a.stream_id)));
            if fits {
                streams.extend(pending.appends.iter().map(|a| a.stream_id.clone()));
                events += pending.events();
                batch.push(pending);
            } else {
                held.push(pending);
            }
        }
        drop(receiver);
        self.lock_held().extend(held);
        Some(batch)
    }

    fn lock_held(&self) -> std::sync::MutexGuard<'_, Vec<Pending>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Writes `batch` in one call when it can, else each append on its own,
/// and answers every caller.
async fn write<S: EventStore + ?Sized>(store: &S, batch: Vec<Pending>) {
    if batch.len() == 1 {
        let pending = batch.into_iter().next().expect("one append");
        let result = store.append_to_streams(pending.appends).await;
        metrics::counter!(COALESCED_CALLS_TOTAL, "appends" => "1", "outcome" => "ok").increment(1);
        let _ = pending.reply.send(result);
        return;
    }
    let size = match batch.len() {
        2..=4 => "2-4",
        5..=16 => "5-16",
        _ => "17+",
    };
    let merged: Vec<StreamAppend> = batch.iter().flat_map(|p| p.appends.clone()).collect();
    let split = match store.append_to_streams(merged).await {
        Ok(result) => split_result(&batch, result),
        Err(_) => None,
    };
    match split {
        Some(results) => {
            metrics::counter!(COALESCED_CALLS_TOTAL, "appends" => size, "outcome" => "ok")
                .increment(1);
            for (pending, result) in batch.into_iter().zip(results) {
                let _ = pending.reply.send(Ok(result));
            }
        }
        None => {
            // Nothing of the merged call was written: each append alone
            // gets exactly the outcome it would have had uncoalesced.
            metrics::counter!(COALESCED_CALLS_TOTAL, "appends" => size, "outcome" => "split")
                .increment(1);
            let alone = batch.into_iter().map(|pending| async move {
                let result = store.append_to_streams(pending.appends).await;
                let _ = pending.reply.send(result);
            });
            futures::future::join_all(alone).await;
        }
    }
}

/// Gives each caller the streams of its own appends, in its order; `None`
/// when the store's result does not line up with the request (then each
/// append would be answered from a result it cannot be told apart in).
fn split_result(batch: &[Pending], result: AppendResult) -> Option<Vec<AppendResult>> {
    let total: usize = batch.iter().map(|p| p.appends.len()).sum();
    if result.streams.len() != total {
        return None;
    }
    let mut streams = result.streams.into_iter();
    let mut out = Vec::with_capacity(batch.len());
    for pending in batch {
        let mut own = Vec::with_capacity(pending.appends.len());
        for append in &pending.appends {
            let stream = streams.next()?;
            if stream.stream_id != append.stream_id {
                return None;
            }
            own.push(stream);
        }
        out.push(AppendResult { streams: own });
    }
    Some(out)
}

#[async_trait]
impl<S: EventStore + ?Sized> EventStore for CoalescingStore<S> {
    async fn append_to_streams(&self, appends: Vec<StreamAppend>) -> Result<AppendResult> {
        if self
            .busy
            .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            // Nothing is being written: nobody to share a commit with now,
            // so write at once, in this task.
            let _busy = Busy(Arc::clone(&self.busy));
            let result = self.inner.append_to_streams(appends).await;
            metrics::counter!(COALESCED_CALLS_TOTAL, "appends" => "1", "outcome" => "ok")
                .increment(1);
            return result;
        }
        let (reply, answer) = oneshot::channel();
        if self.queue().send(Pending { appends, reply }).is_err() {
            return Err(Error::backend("the coalescing store's writers stopped"));
        }
        answer
            .await
            .map_err(|_| Error::backend("the coalescing store's writer stopped mid-call"))?
    }

    async fn append_with(
        &self,
        appends: Vec<StreamAppend>,
        work: &dyn UnitOfWork,
    ) -> Result<AppendResult> {
        self.inner.append_with(appends, work).await
    }

    async fn read_stream_forward(
        &self,
        stream_id: &str,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>> {
        self.inner
            .read_stream_forward(stream_id, from_version, limit)
            .await
    }

    async fn read_all_forward(&self, request: ReadAll) -> Result<Vec<RecordedEvent>> {
        self.inner.read_all_forward(request).await
    }

    async fn stream_info(&self, stream_id: &str) -> Result<Option<StreamInfo>> {
        self.inner.stream_info(stream_id).await
    }

    async fn head_position(&self) -> Result<Position> {
        self.inner.head_position().await
    }

    async fn wait_until_visible(&self, position: Position, timeout: Duration) -> Result<()> {
        self.inner.wait_until_visible(position, timeout).await
    }

    fn log_changes(&self) -> LogChanges {
        self.inner.log_changes()
    }

    fn projection_store(&self) -> Option<Arc<dyn ProjectionStore>> {
        self.inner.projection_store()
    }

    fn outbox_store(&self) -> Option<Arc<dyn OutboxStore>> {
        self.inner.outbox_store()
    }

    fn saga_store(&self) -> Option<Arc<dyn SagaStore>> {
        self.inner.saga_store()
    }
}
