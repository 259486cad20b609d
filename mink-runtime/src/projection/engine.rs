//! [`ProjectionEngine`]: runs async and live projections, and carries the
//! operator's requests (pause, resume, rebuild) to whichever instance works
//! each projection.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};
use rand::Rng;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tracing::Instrument;

use super::handler::{
    FailureKind, PoisonPolicy, Projection, ProjectionContext, ProjectionKind, ProjectionOptions,
};
use super::status::{
    Figures, PROJECTION_ERRORS_TOTAL, PROJECTION_EVENTS_TOTAL, PROJECTION_LAG_EVENTS,
    PROJECTION_LAG_SECONDS, ProjectionStatus, RebuildProgress,
};
use super::worker::{Worker, panic_message};
use crate::error::{Error, Result};
use crate::event::Position;
use crate::store::{
    DeadLetter, Desired, EventStore, ProjectionState, ProjectionStore, ReadAll, ReadFilter,
};
use crate::subscription::{StartFrom, Subscription, SubscriptionItem, SubscriptionOptions};

/// One projection the engine runs.
pub(super) struct Entry {
    pub name: String,
    pub projection: Arc<dyn Projection>,
    pub kind: ProjectionKind,
    pub options: ProjectionOptions,
    pub event_types: Vec<String>,
    pub figures: Figures,
    /// Wakes the worker for an operator's request.
    pub nudge: Arc<Notify>,
    /// Live projections: paused in this process.
    pub live_paused: watch::Sender<bool>,
    /// Live projections: where to start.
    pub live_start: StartFrom,
    /// Dead letters to replay, for the worker holding the lease.
    pub replays: Mutex<Vec<Replay>>,
}

/// A request to apply a parked event again.
pub(super) struct Replay {
    pub position: Position,
    pub done: tokio::sync::oneshot::Sender<Result<()>>,
}

impl Entry {
    /// The pause before attempt `n` (1-based) after failures: exponential,
    /// capped, with full jitter on its upper half.
    pub fn backoff(&self, n: u32) -> Duration {
        let base = self.options.backoff_initial;
        let cap = self.options.backoff_max.max(base);
        let exp = base
            .saturating_mul(1u32 << n.saturating_sub(1).min(20))
            .min(cap);
        let half = exp / 2;
        let jitter = rand::rng().random_range(0..=half.as_millis().max(1) as u64);
        half + Duration::from_millis(jitter)
    }
}

/// Builds a [`ProjectionEngine`].
pub struct ProjectionEngineBuilder {
    store: Arc<dyn EventStore>,
    instance: Option<String>,
    projections: Vec<(Arc<dyn Projection>, StartFrom)>,
}

impl std::fmt::Debug for ProjectionEngineBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProjectionEngineBuilder")
            .field("instance", &self.instance)
            .field("projections", &self.projections.len())
            .finish_non_exhaustive()
    }
}

impl ProjectionEngineBuilder {
    /// Names this instance in leases and status (default: host name,
    /// process id and a random suffix).
    pub fn instance_id(mut self, id: impl Into<String>) -> Self {
        self.instance = Some(id.into());
        self
    }

    /// Adds an async or live projection. A live projection starts from
    /// now; see [`live_projection_from`](Self::live_projection_from).
    pub fn projection(mut self, projection: impl Projection) -> Self {
        self.projections
            .push((Arc::new(projection), StartFrom::Now));
        self
    }

    /// Adds a projection already shared elsewhere.
    pub fn shared_projection(mut self, projection: Arc<dyn Projection>) -> Self {
        self.projections.push((projection, StartFrom::Now));
        self
    }

    /// Adds a shared projection; a live one starts from `from`.
    pub fn shared_projection_from(
        mut self,
        projection: Arc<dyn Projection>,
        from: StartFrom,
    ) -> Self {
        self.projections.push((projection, from));
        self
    }

    /// Adds a live projection that starts from `from` (a checkpoint the
    /// application kept, or the beginning).
    pub fn live_projection_from(mut self, projection: impl Projection, from: StartFrom) -> Self {
        self.projections.push((Arc::new(projection), from));
        self
    }

    /// Checks the projections and builds the engine, not yet started.
    ///
    /// Fails with [`Error::Configuration`] when two projections share a
    /// name, when an inline projection is given (it runs in the append
    /// transaction: add it to `Mink::builder()`), or when an async
    /// projection is given and the store keeps no checkpoints.
    pub fn build(self) -> Result<ProjectionEngine> {
        let checkpoints = self.store.projection_store();
        let mut entries = BTreeMap::new();
        for (projection, live_start) in self.projections {
            let name = projection.name().to_owned();
            let kind = projection.kind();
            if kind == ProjectionKind::Inline {
                return Err(Error::Configuration(format!(
                    "projection `{name}` is inline: it runs inside the append transaction, so add it to `Mink::builder()` rather than to a projection engine"
                )));
            }
            if kind == ProjectionKind::Async && checkpoints.is_none() {
                return Err(Error::Configuration(format!(
                    "projection `{name}` is async, and this store keeps no checkpoints"
                )));
            }
            let options = projection.options();
            if options.batch_size == 0 {
                return Err(Error::Configuration(format!(
                    "projection `{name}` has a batch size of 0"
                )));
            }
            let event_types = projection
                .event_types()
                .into_iter()
                .map(str::to_owned)
                .collect();
            let entry = Entry {
                name: name.clone(),
                projection,
                kind,
                options,
                event_types,
                figures: Figures::new(),
                nudge: Arc::new(Notify::new()),
                live_paused: watch::channel(false).0,
                live_start,
                replays: Mutex::new(Vec::new()),
            };
            if entries.insert(name.clone(), Arc::new(entry)).is_some() {
                return Err(Error::Configuration(format!(
                    "two projections are named `{name}`; projection names must be unique"
                )));
            }
        }
        let instance = self.instance.unwrap_or_else(default_instance_id);
        Ok(ProjectionEngine {
            inner: Arc::new(Engine {
                store: self.store,
                checkpoints,
                instance,
                entries,
                running: Mutex::new(None),
            }),
        })
    }
}

fn default_instance_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "mink".to_owned());
    let suffix = format!("{:08x}", rand::rng().random::<u32>());
    format!("{host}-{}-{suffix}", std::process::id())
}

/// Runs async projections (one leased worker each) and live projections,
/// and carries control requests to them.
///
/// Cloning is cheap and shares the engine. Control requests for async
/// projections ([`pause`](Self::pause), [`resume`](Self::resume),
/// [`rebuild`](Self::rebuild)) are stored beside the checkpoint, so that the
/// instance working the projection obeys them, in this process or another.
#[derive(Clone)]
pub struct ProjectionEngine {
    inner: Arc<Engine>,
}

impl std::fmt::Debug for ProjectionEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProjectionEngine")
            .field("instance", &self.inner.instance)
            .field(
                "projections",
                &self.inner.entries.keys().collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

struct Engine {
    store: Arc<dyn EventStore>,
    checkpoints: Option<Arc<dyn ProjectionStore>>,
    instance: String,
    entries: BTreeMap<String, Arc<Entry>>,
    running: Mutex<Option<Running>>,
}

struct Running {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl ProjectionEngine {
    /// Starts configuring an engine over `store`.
    pub fn builder(store: Arc<dyn EventStore>) -> ProjectionEngineBuilder {
        ProjectionEngineBuilder {
            store,
            instance: None,
            projections: Vec::new(),
        }
    }

    /// This instance's id, as leases show it.
    pub fn instance_id(&self) -> &str {
        &self.inner.instance
    }

    /// The names of the projections it runs.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.inner.entries.keys().map(String::as_str)
    }

    /// Starts a worker per projection; does nothing when started already.
    /// Must be called inside a Tokio runtime.
    pub fn start(&self) {
        let mut running = self.inner.running.lock().unwrap_or_else(|p| p.into_inner());
        if running.is_some() {
            return;
        }
        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = Vec::new();
        for entry in self.inner.entries.values() {
            let entry = Arc::clone(entry);
            let stop = stop_rx.clone();
            match (entry.kind, &self.inner.checkpoints) {
                (ProjectionKind::Async, Some(checkpoints)) => {
                    let worker = Worker {
                        changes: self.inner.store.log_changes(),
                        entry,
                        events: Arc::clone(&self.inner.store),
                        checkpoints: Arc::clone(checkpoints),
                        instance: self.inner.instance.clone(),
                        stop,
                    };
                    tasks.push(tokio::spawn(worker.run()));
                }
                (ProjectionKind::Live, _) => {
                    let store = Arc::clone(&self.inner.store);
                    tasks.push(tokio::spawn(run_live(store, entry, stop)));
                }
                _ => {}
            }
        }
        *running = Some(Running { stop, tasks });
    }

    /// Stops every worker gracefully: a batch under way is finished and its
    /// checkpoint stored, a worker backing off stops at once, and leases
    /// are released so another instance can take over without waiting.
    pub async fn stop(&self) {
        let running = self
            .inner
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let Some(running) = running else {
            return;
        };
        let _ = running.stop.send(true);
        for task in running.tasks {
            if let Err(e) = task.await
                && e.is_panic()
            {
                tracing::error!("a projection worker panicked while stopping");
            }
        }
    }

    fn entry(&self, name: &str) -> Result<&Arc<Entry>> {
        self.inner
            .entries
            .get(name)
            .ok_or_else(|| Error::UnknownProjection(name.to_owned()))
    }

    fn checkpoints(&self) -> Result<&Arc<dyn ProjectionStore>> {
        self.inner.checkpoints.as_ref().ok_or_else(|| {
            Error::Configuration("this store keeps no projection checkpoints".into())
        })
    }

    /// Pauses a projection: its checkpoint stays where it is. For an async
    /// projection the request is stored, so the instance working it obeys,
    /// wherever it runs; a live projection pauses in this process and
    /// resumes where it stopped.
    pub async fn pause(&self, name: &str) -> Result<()> {
        self.set_desired(name, Desired::Paused).await
    }

    /// Resumes a paused projection, or retries a faulted one.
    pub async fn resume(&self, name: &str) -> Result<()> {
        self.set_desired(name, Desired::Running).await
    }

    async fn set_desired(&self, name: &str, desired: Desired) -> Result<()> {
        let entry = self.entry(name)?;
        if entry.kind == ProjectionKind::Live {
            let _ = entry.live_paused.send(desired == Desired::Paused);
        } else {
            self.checkpoints()?.set_desired(name, desired).await?;
        }
        entry.nudge.notify_waiters();
        Ok(())
    }

    /// Asks for a rebuild of an async projection: its reset hook clears the
    /// read model and the checkpoint moves to `from`, in one transaction;
    /// then the events after `from` are replayed, up to `to` (inclusive)
    /// when given, after which it stays paused there. Returns the request's
    /// id. A rebuild survives restarts and take-overs; cancel it with
    /// [`cancel_rebuild`](Self::cancel_rebuild).
    pub async fn rebuild(&self, name: &str, from: Position, to: Option<Position>) -> Result<u64> {
        let entry = self.entry(name)?;
        if entry.kind != ProjectionKind::Async {
            return Err(Error::invalid(
                "projection",
                format!(
                    "`{name}` is a {} projection; only async projections rebuild",
                    entry.kind
                ),
            ));
        }
        let id = self.checkpoints()?.request_rebuild(name, from, to).await?;
        entry.nudge.notify_waiters();
        Ok(id)
    }

    /// Withdraws a rebuild; the projection goes on from where the replay
    /// got to.
    pub async fn cancel_rebuild(&self, name: &str) -> Result<()> {
        let entry = self.entry(name)?;
        self.checkpoints()?.cancel_rebuild(name).await?;
        entry.nudge.notify_waiters();
        Ok(())
    }

    /// The events an async projection parked.
    pub async fn dead_letters(&self, name: &str) -> Result<Vec<DeadLetter>> {
        self.entry(name)?;
        self.checkpoints()?.dead_letters(name).await
    }

    /// Applies a parked event again, in the projection's transaction, and
    /// removes it from the dead letters when it applies. The checkpoint does
    /// not move. Runs on the worker holding the lease, which must be in
    /// this engine; fails with the handler's error, leaving the event
    /// parked, when it fails again.
    pub async fn replay_dead_letter(&self, name: &str, position: Position) -> Result<()> {
        let entry = self.entry(name)?;
        if entry.kind != ProjectionKind::Async {
            return Err(Error::invalid(
                "projection",
                format!(
                    "`{name}` is a {} projection; only async projections park events",
                    entry.kind
                ),
            ));
        }
        if !entry.figures.get().owned {
            let owner = self
                .checkpoints()?
                .record(name)
                .await?
                .and_then(|r| r.owner)
                .unwrap_or_else(|| "no instance".to_owned());
            return Err(Error::invalid(
                "projection",
                format!("`{name}` is worked by {owner}, not by this engine; replay it there"),
            ));
        }
        let (done, result) = tokio::sync::oneshot::channel();
        entry
            .replays
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Replay { position, done });
        entry.nudge.notify_waiters();
        result.await.map_err(|_| {
            Error::Configuration(format!(
                "the worker of `{name}` stopped before replaying {position}"
            ))
        })?
    }

    /// The status of every projection, by name.
    pub async fn status(&self) -> Result<Vec<ProjectionStatus>> {
        let mut all = Vec::with_capacity(self.inner.entries.len());
        for name in self.inner.entries.keys() {
            all.push(self.status_of(name).await?);
        }
        Ok(all)
    }

    /// The status of one projection. Also sets its lag gauges.
    pub async fn status_of(&self, name: &str) -> Result<ProjectionStatus> {
        let entry = self.entry(name)?;
        let local = entry.figures.get();
        let head = self.inner.store.head_position().await?;
        let mut status = ProjectionStatus {
            name: name.to_owned(),
            kind: entry.kind,
            state: local.state,
            checkpoint: local.checkpoint,
            head,
            lag_events: 0,
            lag_seconds: 0.0,
            events_processed: local.processed,
            last_error: local.last_error.clone(),
            owner: None,
            owned_here: local.owned,
            dead_letters: 0,
            rebuild: None,
        };
        if entry.kind == ProjectionKind::Async {
            let checkpoints = self.checkpoints()?;
            if let Some(record) = checkpoints.record(name).await? {
                status.checkpoint = record.checkpoint;
                status.events_processed = record.events_processed;
                status.owner = record.owner.clone();
                if !local.owned {
                    let live = record
                        .lease_expires_at
                        .is_some_and(|t| t > chrono::Utc::now());
                    status.state = if live {
                        record.state
                    } else {
                        ProjectionState::Stopped
                    };
                    status.last_error = record.last_error.clone();
                }
            }
            status.dead_letters = checkpoints.dead_letters(name).await?.len();
        }
        status.lag_events = head.event.saturating_sub(status.checkpoint.event);
        if status.checkpoint < head {
            let filter = ReadFilter {
                event_types: entry.event_types.clone(),
                ..ReadFilter::default()
            };
            let next = self
                .inner
                .store
                .read_all_forward(ReadAll::after(status.checkpoint, 1).filter(filter))
                .await;
            match next {
                Ok(next) => match next.first() {
                    Some(oldest) if oldest.position <= head => {
                        let age = chrono::Utc::now() - oldest.timestamp;
                        status.lag_seconds = age.num_milliseconds().max(0) as f64 / 1000.0;
                    }
                    // Nothing it handles is waiting: only other events.
                    _ => status.lag_events = 0,
                },
                Err(Error::Undecodable { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        if let Some(run) = local.rebuild.filter(|_| local.owned) {
            let elapsed = run.started.elapsed().as_secs_f64();
            let rate = if elapsed > 0.0 {
                run.done as f64 / elapsed
            } else {
                0.0
            };
            let end = run.to.unwrap_or(head);
            let left = end.event.saturating_sub(status.checkpoint.event);
            status.rebuild = Some(RebuildProgress {
                request: run.request,
                from: run.from,
                to: run.to,
                events_done: run.done,
                rate,
                eta: (rate > 0.0).then(|| Duration::from_secs_f64(left as f64 / rate)),
            });
        }
        let label = name.to_owned();
        metrics::gauge!(PROJECTION_LAG_EVENTS, "projection" => label.clone())
            .set(status.lag_events as f64);
        metrics::gauge!(PROJECTION_LAG_SECONDS, "projection" => label).set(status.lag_seconds);
        Ok(status)
    }

    /// Whether an event the projection handles lies after `checkpoint`, up
    /// to `target`.
    async fn pending(&self, entry: &Entry, checkpoint: Position, target: Position) -> Result<bool> {
        let filter = ReadFilter {
            event_types: entry.event_types.clone(),
            ..ReadFilter::default()
        };
        match self
            .inner
            .store
            .read_all_forward(ReadAll::after(checkpoint, 1).filter(filter))
            .await
        {
            Ok(next) => Ok(next.first().is_some_and(|e| e.position <= target)),
            // A row that cannot be read is waiting: the worker parks it.
            Err(Error::Undecodable { position, .. }) => Ok(position <= target),
            Err(e) => Err(e),
        }
    }

    /// Waits until projection `name` has applied every event it handles
    /// that is visible now (up to the head read at the call), for at most
    /// `timeout`; fails with [`Error::ProjectionLagging`] after that.
    pub async fn wait_caught_up(&self, name: &str, timeout: Duration) -> Result<()> {
        let entry = self.entry(name)?;
        let started = Instant::now();
        let target = self.inner.store.head_position().await?;
        let mut pause = Duration::from_millis(2);
        loop {
            let checkpoint = match (entry.kind, &self.inner.checkpoints) {
                (ProjectionKind::Async, Some(checkpoints)) => checkpoints
                    .record(name)
                    .await?
                    .map_or(Position::START, |r| r.checkpoint),
                _ => entry.figures.get().checkpoint,
            };
            if checkpoint >= target || !self.pending(entry, checkpoint, target).await? {
                return Ok(());
            }
            let waited = started.elapsed();
            if waited >= timeout {
                return Err(Error::ProjectionLagging {
                    projection: name.to_owned(),
                    checkpoint,
                    target,
                    waited,
                });
            }
            tokio::time::sleep(pause.min(timeout - waited)).await;
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }
}

/// Runs a live projection: a subscription from its start, applied in
/// memory, paused by not reading.
async fn run_live(store: Arc<dyn EventStore>, entry: Arc<Entry>, mut stop: watch::Receiver<bool>) {
    let filter = ReadFilter {
        event_types: entry.event_types.clone(),
        ..ReadFilter::default()
    };
    let options = SubscriptionOptions::default()
        .page_size(entry.options.batch_size)
        .poll_interval(entry.options.poll_interval);
    let mut subscription = Subscription::new(store, entry.live_start, filter, options);
    let mut paused = entry.live_paused.subscribe();
    entry.figures.update(|f| {
        f.owned = true;
        f.state = ProjectionState::Running;
    });
    // An event taken from the subscription and not yet applied: a faulted
    // live projection keeps it for when it resumes.
    let mut pending = None;
    'events: loop {
        while *paused.borrow_and_update() {
            entry.figures.update(|f| f.state = ProjectionState::Paused);
            tokio::select! {
                _ = paused.changed() => {}
                _ = stop.changed() => break 'events,
            }
        }
        entry.figures.update(|f| f.state = ProjectionState::Running);
        if let Some(event) = pending.take() {
            if !apply_live(&entry, event, &mut stop, &mut pending).await {
                break;
            }
            continue;
        }
        let item = tokio::select! {
            item = subscription.next() => item,
            _ = stop.changed() => break,
            _ = paused.changed() => continue,
        };
        let event = match item {
            Some(Ok(SubscriptionItem::Event(event))) => event,
            Some(Ok(SubscriptionItem::CaughtUp)) => {
                if let Some(p) = subscription.position() {
                    entry.figures.update(|f| f.checkpoint = f.checkpoint.max(p));
                }
                continue;
            }
            Some(Err(e)) => {
                metrics::counter!(PROJECTION_ERRORS_TOTAL, "projection" => entry.name.clone())
                    .increment(1);
                entry.figures.update(|f| f.last_error = Some(e.to_string()));
                continue;
            }
            None => break,
        };
        if !apply_live(&entry, event, &mut stop, &mut pending).await {
            break;
        }
    }
    entry.figures.update(|f| {
        f.state = ProjectionState::Stopped;
        f.owned = false;
    });
}

/// Applies one event of a live projection, retrying by its options. Returns
/// `false` when the engine stops. Under the pause policy, an event it gives
/// up on is kept in `pending` and the projection pauses.
async fn apply_live(
    entry: &Entry,
    event: crate::event::RecordedEvent,
    stop: &mut watch::Receiver<bool>,
    pending: &mut Option<crate::event::RecordedEvent>,
) -> bool {
    let mut attempts = 0u32;
    loop {
        let outcome = {
            let mut ctx = ProjectionContext::new(&entry.name, ProjectionKind::Live, None);
            let span = super::worker::handling_span(&entry.name, ProjectionKind::Live, &event);
            crate::observability::continue_trace(&span, &event.metadata);
            std::panic::AssertUnwindSafe(entry.projection.handle(&event, &mut ctx))
                .catch_unwind()
                .instrument(span)
                .await
        };
        let error = match outcome {
            Ok(Ok(())) => {
                metrics::counter!(PROJECTION_EVENTS_TOTAL, "projection" => entry.name.clone())
                    .increment(1);
                entry.figures.update(|f| {
                    f.checkpoint = event.position;
                    f.processed += 1;
                    f.last_error = None;
                });
                return true;
            }
            Ok(Err(e)) => e,
            Err(panic) => super::HandlerError::permanent(format!(
                "the handler panicked: {}",
                panic_message(&panic)
            )),
        };
        metrics::counter!(PROJECTION_ERRORS_TOTAL, "projection" => entry.name.clone()).increment(1);
        entry
            .figures
            .update(|f| f.last_error = Some(error.to_string()));
        if error.kind() == FailureKind::Permanent {
            attempts += 1;
        }
        let give_up = attempts >= entry.options.max_attempts.max(1)
            && entry.options.on_poison != PoisonPolicy::Retry;
        if give_up {
            if entry.options.on_poison == PoisonPolicy::Pause {
                entry.figures.update(|f| f.state = ProjectionState::Faulted);
                *pending = Some(event);
                let _ = entry.live_paused.send(true);
                return true;
            }
            tracing::warn!(projection = %entry.name, position = %event.position, error = %error, "a live projection skips an event it cannot apply");
            entry.figures.update(|f| f.checkpoint = event.position);
            return true;
        }
        let pause = entry.backoff(attempts.max(1));
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.changed() => return false,
        }
    }
}
