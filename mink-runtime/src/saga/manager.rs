//! The saga manager of one saga type: takes the type's lease, reads the
//! log after its cursor, hands each event to its saga, commits what the
//! sagas emit with the cursor in one fenced transaction, then sends their
//! commands and delivers their deadlines (docs/adr/016-sagas.md).

use std::collections::HashSet;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::BoxFuture;
use rand::Rng;
use tokio::sync::{Notify, watch};
use uuid::Uuid;

use super::clock::{Clock, SystemClock};
use super::declaration::{Saga, SagaCommandError, SagaExecutor};
use super::handling::{
    Batch, context_of, history, outgoing, panic_message, plan_failure, settle, state_of,
};
use crate::command::{CommandError, DispatchError};
use crate::error::{Error, Result};
use crate::event::{EventMetadata, JsonSerializer, Position, RecordedEvent, Serializer};
use crate::store::{
    CheckpointUpdate, EventStore, Lease, LogChanges, ProjectionState, ProjectionStore, ReadAll,
    ReadFilter, RebuildStep, SagaCommandKind, SagaCommandRecord, SagaCommandStatus,
    SagaCommandUpdate, SagaStatus, SagaStore, SagaUpsert, SagaWrite, StatusReport,
};

/// How a saga manager works.
#[derive(Debug, Clone)]
pub struct SagaOptions {
    /// Events read and handled per transaction (default 100).
    pub batch_size: usize,
    /// The longest wait for new events, due deadlines and retries when no
    /// wake-up comes (default 200 ms).
    pub poll_interval: Duration,
    /// How long the lease on the saga type lasts without a heartbeat
    /// (default 10 s); heartbeats come every third of it.
    pub lease_ttl: Duration,
    /// Attempts of a command failing transiently before it counts as
    /// failed for good (default 5).
    pub max_attempts: u32,
    /// The first pause before a failed command is sent again (default
    /// 100 ms), doubled per attempt, with jitter.
    pub backoff_initial: Duration,
    /// The longest such pause (default 30 s).
    pub backoff_max: Duration,
    /// How long a send's claim of its idempotency key holds off a re-send
    /// of the same command (default 30 s), in the idempotency layer the
    /// application puts in front of its sagas' commands: after a crash in
    /// the middle of a command, its re-send waits this long. A re-send that
    /// finds the key claimed is retried without counting an attempt.
    pub idempotency_lease: Duration,
}

impl Default for SagaOptions {
    fn default() -> Self {
        SagaOptions {
            batch_size: 100,
            poll_interval: Duration::from_millis(200),
            lease_ttl: Duration::from_secs(10),
            max_attempts: 5,
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_secs(30),
            idempotency_lease: Duration::from_secs(30),
        }
    }
}

impl SagaOptions {
    /// The pause after the `n`-th failure: exponential, capped, with the
    /// upper half jittered.
    pub fn backoff(&self, n: u32) -> Duration {
        let base = self.backoff_initial;
        let cap = self.backoff_max.max(base);
        let exp = base
            .saturating_mul(1u32 << n.saturating_sub(1).min(20))
            .min(cap);
        let half = exp / 2;
        let jitter = rand::rng().random_range(0..=half.as_millis().max(1) as u64);
        half + Duration::from_millis(jitter)
    }
}

/// The checkpoint (and lease) name of saga type `name`: `saga:<name>`.
pub fn cursor_name(name: &str) -> String {
    format!("saga:{name}")
}

/// A saga manager with its types erased, as the application and the
/// operator API hold it.
pub trait SagaRunner: Send + Sync + 'static {
    /// The saga type's name.
    fn saga_type(&self) -> &'static str;
    /// Starts the manager's task (a no-op when running).
    fn start(&self);
    /// Stops it: the current step finishes and the lease is released.
    fn stop(&self) -> BoxFuture<'_, ()>;
    /// Wakes it to look for work now (after an operator's retry, or a
    /// manual clock moved).
    fn nudge(&self);
}

/// Builds a [`SagaEngine`].
pub struct SagaEngineBuilder<G, S, X> {
    events: Arc<dyn EventStore>,
    serializer: S,
    executor: X,
    clock: Arc<dyn Clock>,
    options: SagaOptions,
    instance: Option<String>,
    _saga: PhantomData<fn() -> G>,
}

impl<G, S, X> std::fmt::Debug for SagaEngineBuilder<G, S, X> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SagaEngineBuilder")
            .field("options", &self.options)
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

impl<G: Saga, S: Serializer, X: SagaExecutor> SagaEngineBuilder<G, S, X> {
    /// The clock deadlines and retries go by (default: the system's).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// How the manager works.
    pub fn options(mut self, options: SagaOptions) -> Self {
        self.options = options;
        self
    }

    /// Names this instance in the lease (default: host name and process
    /// id).
    pub fn instance_id(mut self, id: impl Into<String>) -> Self {
        self.instance = Some(id.into());
        self
    }

    /// Builds the manager (not started). Fails with
    /// [`Error::Configuration`] when the store keeps no checkpoints or no
    /// saga records.
    pub fn build(self) -> Result<SagaEngine<G, S, X>> {
        let checkpoints = self.events.projection_store().ok_or_else(|| {
            Error::Configuration(format!(
                "saga `{}` needs a store that keeps checkpoints; this store keeps none",
                G::NAME
            ))
        })?;
        let sagas = self.events.saga_store().ok_or_else(|| {
            Error::Configuration(format!(
                "saga `{}` needs a store that keeps saga records; this store keeps none",
                G::NAME
            ))
        })?;
        let (stop, _) = watch::channel(false);
        Ok(SagaEngine {
            inner: Arc::new(Inner {
                name: cursor_name(G::NAME),
                events: self.events,
                checkpoints,
                sagas,
                serializer: self.serializer,
                executor: self.executor,
                clock: self.clock,
                options: self.options,
                instance: self.instance.unwrap_or_else(default_instance_id),
                nudge: Notify::new(),
                stop,
                task: Mutex::new(None),
                last_error: Mutex::new(None),
                _saga: PhantomData,
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
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{host}:{}:{}", std::process::id(), Uuid::now_v7().simple())
}

/// The manager of saga type `G`: decodes events with `S` (as an
/// aggregate's load does) and sends commands through `X`.
pub struct SagaEngine<G, S, X> {
    inner: Arc<Inner<G, S, X>>,
}

impl<G, S, X> Clone for SagaEngine<G, S, X> {
    fn clone(&self) -> Self {
        SagaEngine {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<G, S, X> std::fmt::Debug for SagaEngine<G, S, X> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SagaEngine")
            .field("name", &self.inner.name)
            .field("instance", &self.inner.instance)
            .finish_non_exhaustive()
    }
}

struct Inner<G, S, X> {
    name: String,
    events: Arc<dyn EventStore>,
    checkpoints: Arc<dyn ProjectionStore>,
    sagas: Arc<dyn SagaStore>,
    serializer: S,
    executor: X,
    clock: Arc<dyn Clock>,
    options: SagaOptions,
    instance: String,
    nudge: Notify,
    stop: watch::Sender<bool>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    last_error: Mutex<Option<String>>,
    _saga: PhantomData<fn() -> G>,
}

impl SagaEngine<(), (), ()> {
    /// Starts building the manager of saga type `G` on `events`, decoding
    /// with `serializer` and sending through `executor`.
    pub fn builder<G: Saga, S: Serializer, X: SagaExecutor>(
        events: Arc<dyn EventStore>,
        serializer: S,
        executor: X,
    ) -> SagaEngineBuilder<G, S, X> {
        SagaEngineBuilder {
            events,
            serializer,
            executor,
            clock: Arc::new(SystemClock),
            options: SagaOptions::default(),
            instance: None,
            _saga: PhantomData,
        }
    }
}

/// What one step of the manager did.
enum Progress {
    /// Something was handled, sent or delivered: look again at once.
    Busy,
    /// Nothing to do.
    Idle,
}

impl<G: Saga, S: Serializer, X: SagaExecutor> SagaEngine<G, S, X> {
    /// The saga records this manager writes.
    pub fn store(&self) -> &Arc<dyn SagaStore> {
        &self.inner.sagas
    }

    /// Starts the manager's task (a no-op when it runs).
    pub fn start(&self) {
        let mut task = self.inner.task.lock().unwrap_or_else(|p| p.into_inner());
        if task.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        self.inner.stop.send_replace(false);
        let inner = Arc::clone(&self.inner);
        *task = Some(tokio::spawn(async move { inner.run().await }));
    }

    /// Stops the manager: the step under way finishes, the lease is
    /// released so another instance takes over at once.
    pub async fn stop(&self) {
        self.inner.stop.send_replace(true);
        let task = self
            .inner
            .task
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    /// Wakes the manager to look for work now.
    pub fn nudge(&self) {
        self.inner.nudge.notify_one();
    }

    /// The last error the manager met, cleared when a step succeeds.
    pub fn last_error(&self) -> Option<String> {
        self.inner
            .last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl<G: Saga, S: Serializer, X: SagaExecutor> SagaRunner for SagaEngine<G, S, X> {
    fn saga_type(&self) -> &'static str {
        G::NAME
    }
    fn start(&self) {
        SagaEngine::start(self);
    }
    fn stop(&self) -> BoxFuture<'_, ()> {
        SagaEngine::stop(self).boxed()
    }
    fn nudge(&self) {
        SagaEngine::nudge(self);
    }
}

enum Exit {
    Stop,
    Lost,
}

impl<G: Saga, S: Serializer, X: SagaExecutor> Inner<G, S, X> {
    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    fn set_error(&self, error: Option<String>) {
        if let Some(e) = &error {
            tracing::warn!(saga = G::NAME, error = %e, "saga manager step failed");
        }
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = error;
    }

    fn report(&self, state: ProjectionState) -> StatusReport {
        StatusReport {
            state,
            last_error: self
                .last_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }

    async fn idle(&self, at_most: Duration, changes: Option<&mut LogChanges>) {
        let mut stop = self.stop.subscribe();
        if *stop.borrow_and_update() {
            return;
        }
        match changes {
            Some(changes) => tokio::select! {
                _ = changes.wait(at_most) => {}
                _ = stop.changed() => {}
                _ = self.nudge.notified() => {}
            },
            None => tokio::select! {
                _ = tokio::time::sleep(at_most) => {}
                _ = stop.changed() => {}
                _ = self.nudge.notified() => {}
            },
        }
    }

    async fn run(self: Arc<Self>) {
        let ttl = self.options.lease_ttl;
        let mut changes = self.events.log_changes();
        let mut failures = 0u32;
        while !self.stopping() {
            match self
                .checkpoints
                .acquire(&self.name, &self.instance, ttl)
                .await
            {
                Ok(Some(lease)) => {
                    failures = 0;
                    tracing::debug!(
                        saga = G::NAME,
                        generation = lease.generation,
                        "saga lease taken"
                    );
                    if let Exit::Stop = self.work(&lease, &mut changes).await {
                        let report = self.report(ProjectionState::Stopped);
                        if let Err(e) = self.checkpoints.release(&lease, &report).await {
                            tracing::warn!(saga = G::NAME, error = %e, "releasing the saga lease failed; it expires by itself");
                        }
                    }
                }
                Ok(None) => self.idle(ttl / 3, None).await,
                Err(e) => {
                    failures += 1;
                    self.set_error(Some(e.to_string()));
                    self.idle(self.options.backoff(failures), None).await;
                }
            }
        }
    }

    /// Works the saga type while holding `lease`.
    async fn work(&self, lease: &Lease, changes: &mut LogChanges) -> Exit {
        let heartbeat = self.options.lease_ttl / 3;
        let mut renewed_at: Option<Instant> = None;
        let mut checkpoint = Position::START;
        let mut failures = 0u32;
        loop {
            if self.stopping() {
                return Exit::Stop;
            }
            if renewed_at.is_none_or(|t| t.elapsed() >= heartbeat) {
                match self
                    .checkpoints
                    .renew(
                        lease,
                        self.options.lease_ttl,
                        &self.report(ProjectionState::Running),
                    )
                    .await
                {
                    Ok(Some(record)) => {
                        renewed_at = Some(Instant::now());
                        checkpoint = record.checkpoint;
                    }
                    Ok(None) => return Exit::Lost,
                    Err(e) => {
                        failures += 1;
                        self.set_error(Some(e.to_string()));
                        self.idle(self.options.backoff(failures).min(heartbeat), None)
                            .await;
                        continue;
                    }
                }
            }
            changes.mark_seen();
            let step = self.step(lease, &mut checkpoint).await;
            match step {
                Ok(Progress::Busy) => {
                    failures = 0;
                    self.set_error(None);
                }
                Ok(Progress::Idle) => {
                    failures = 0;
                    let wait = self.options.poll_interval.min(heartbeat);
                    self.idle(wait, Some(changes)).await;
                }
                Err(Error::LeaseLost { .. }) => return Exit::Lost,
                Err(e) => {
                    failures += 1;
                    self.set_error(Some(e.to_string()));
                    self.idle(self.options.backoff(failures), None).await;
                    // Read the checkpoint again.
                    renewed_at = None;
                }
            }
        }
    }

    /// Handles a batch of events, delivers due deadlines, sends due
    /// commands.
    async fn step(&self, lease: &Lease, checkpoint: &mut Position) -> Result<Progress> {
        let mut busy = false;
        if let Some(to) = self.handle_events(lease, *checkpoint).await? {
            *checkpoint = to;
            busy = true;
        }
        busy |= self.deliver_deadlines(lease, *checkpoint).await?;
        busy |= self.send_commands().await?;
        Ok(if busy { Progress::Busy } else { Progress::Idle })
    }

    /// Handles the next batch of events after `checkpoint` in one
    /// transaction with the cursor; returns the new cursor.
    async fn handle_events(&self, lease: &Lease, checkpoint: Position) -> Result<Option<Position>> {
        let read = ReadAll {
            after: checkpoint,
            filter: ReadFilter {
                event_types: G::event_types().into_iter().map(str::to_owned).collect(),
                ..ReadFilter::default()
            },
            limit: self.options.batch_size.max(1),
        };
        let events = match self.events.read_all_forward(read).await {
            Ok(events) => events,
            Err(Error::Undecodable {
                stream,
                version,
                position,
                reason,
            }) => {
                // A row nothing can decode: pass it, saying so; the event
                // stays in the log.
                tracing::error!(saga = G::NAME, %stream, version, %position, %reason, "saga manager passes an undecodable event");
                self.set_error(Some(format!(
                    "passed the undecodable event at {position} of `{stream}`: {reason}"
                )));
                let tx = self.checkpoints.begin(lease).await?;
                tx.commit(CheckpointUpdate {
                    from: checkpoint,
                    to: position,
                    applied: 0,
                    parked: Vec::new(),
                    rebuild: RebuildStep::None,
                })
                .await?;
                return Ok(Some(position));
            }
            Err(e) => return Err(e),
        };
        let Some(last) = events.last().map(|e| e.position) else {
            return Ok(None);
        };
        let mut tx = self.checkpoints.begin(lease).await?;
        let mut batch: Batch<'_, G> = Batch::new(&*self.sagas, self.clock.now());
        for event in &events {
            let trigger = format!("p:{}:{}", event.position.commit, event.position.event);
            batch
                .on_event(event, &self.serializer, &trigger, None)
                .await?;
        }
        for skipped in &batch.skipped {
            tracing::warn!(saga = G::NAME, "{skipped}");
        }
        let write = batch.finish()?;
        if !write.is_empty() {
            self.sagas.write_in(tx.transaction(), &write).await?;
        }
        tx.commit(CheckpointUpdate {
            from: checkpoint,
            to: last,
            applied: events.len() as u64,
            parked: Vec::new(),
            rebuild: RebuildStep::None,
        })
        .await?;
        Ok(Some(last))
    }

    /// Delivers the deadlines due by the clock, each in a transaction
    /// fenced by the lease (the cursor stays where it is).
    async fn deliver_deadlines(&self, lease: &Lease, checkpoint: Position) -> Result<bool> {
        let now = self.clock.now();
        let due = self
            .sagas
            .due_deadlines(G::NAME, now, self.options.batch_size.max(1))
            .await?;
        let delivered = !due.is_empty();
        for deadline in due {
            let mut tx = self.checkpoints.begin(lease).await?;
            let mut batch: Batch<'_, G> = Batch::new(&*self.sagas, now);
            let event = RecordedEvent {
                event_id: deadline.id,
                stream_id: format!("saga-{}", deadline.saga_id),
                version: 0,
                position: checkpoint,
                event_type: deadline.event_type.clone(),
                schema_version: deadline.schema_version,
                payload: deadline.payload.clone(),
                content_type: crate::event::ContentType::JSON,
                metadata: EventMetadata::default(),
                timestamp: deadline.due,
            };
            let trigger = format!("d:{}", deadline.id);
            batch
                .on_event(&event, &JsonSerializer, &trigger, Some(deadline.saga_id))
                .await?;
            for skipped in &batch.skipped {
                tracing::warn!(saga = G::NAME, "deadline `{}`: {skipped}", deadline.name);
            }
            let mut write = batch.finish()?;
            write.remove_deadlines.push(deadline.id);
            self.sagas.write_in(tx.transaction(), &write).await?;
            tx.commit(CheckpointUpdate {
                from: checkpoint,
                to: checkpoint,
                applied: 0,
                parked: Vec::new(),
                rebuild: RebuildStep::None,
            })
            .await?;
        }
        Ok(delivered)
    }

    /// Sends the first pending command of each saga, when due.
    async fn send_commands(&self) -> Result<bool> {
        let pending = self
            .sagas
            .pending_commands(G::NAME, self.options.batch_size.max(1) * 4)
            .await?;
        let now = self.clock.now();
        let mut seen: HashSet<Uuid> = HashSet::new();
        let mut sent_any = false;
        for command in pending {
            if !seen.insert(command.saga_id) || command.next_attempt_at > now {
                continue;
            }
            if self.stopping() {
                break;
            }
            self.send(command).await?;
            sent_any = true;
        }
        Ok(sent_any)
    }

    /// Sends one command and stores what came of it.
    async fn send(&self, command: SagaCommandRecord) -> Result<()> {
        let context = context_of(&command);
        let message = outgoing(&command);
        let outcome = AssertUnwindSafe(G::dispatch(&self.executor, &message, context))
            .catch_unwind()
            .await;
        let now = self.clock.now();
        // Another send of this command holds its idempotency key (a
        // manager that died in its middle): not an attempt of this one.
        let claimed_elsewhere = matches!(
            &outcome,
            Ok(Err(SagaCommandError::Transient { source, .. }))
                if matches!(
                    source.downcast_ref::<CommandError>(),
                    Some(DispatchError::InProgress { .. })
                )
        );
        let attempts = if claimed_elsewhere {
            command.attempts
        } else {
            command.attempts.saturating_add(1)
        };
        let what = match command.kind {
            SagaCommandKind::Step => "command",
            SagaCommandKind::Compensation => "compensation",
        };
        let mut write = SagaWrite::default();
        let failure = match outcome {
            Ok(Ok(result)) => {
                let result = serde_json::to_string(&result).ok();
                write.command_updates.push(SagaCommandUpdate {
                    message_id: command.message_id,
                    status: SagaCommandStatus::Sent,
                    attempts,
                    next_attempt_at: now,
                    last_error: None,
                    result,
                });
                write.history.push(history(
                    command.saga_id,
                    now,
                    what,
                    format!("`{}` ({}) sent", command.name, command.message_id),
                ));
                None
            }
            Ok(Err(SagaCommandError::Transient { source, .. }))
                if claimed_elsewhere || attempts < self.options.max_attempts =>
            {
                let pause = chrono::Duration::from_std(self.options.backoff(attempts.max(1)))
                    .unwrap_or(chrono::Duration::MAX);
                write.command_updates.push(SagaCommandUpdate {
                    message_id: command.message_id,
                    status: SagaCommandStatus::Pending,
                    attempts,
                    next_attempt_at: now.checked_add_signed(pause).unwrap_or(now),
                    last_error: Some(source.to_string()),
                    result: None,
                });
                write.history.push(history(
                    command.saga_id,
                    now,
                    what,
                    format!(
                        "`{}` failed for now (attempt {attempts}): {source}",
                        command.name
                    ),
                ));
                None
            }
            Ok(Err(SagaCommandError::Transient { source, .. })) => Some(format!(
                "`{}` failed after {attempts} attempts: {source}",
                command.name
            )),
            Ok(Err(SagaCommandError::Permanent { source, .. })) => {
                Some(format!("`{}` failed: {source}", command.name))
            }
            Err(panic) => Some(format!(
                "sending `{}` panicked: {}",
                command.name,
                panic_message(&panic)
            )),
        };
        if let Some(error) = &failure {
            write.command_updates.push(SagaCommandUpdate {
                message_id: command.message_id,
                status: SagaCommandStatus::Failed,
                attempts,
                next_attempt_at: now,
                last_error: Some(error.clone()),
                result: None,
            });
            write
                .history
                .push(history(command.saga_id, now, what, error.clone()));
        }
        let sent = failure.is_none()
            && write
                .command_updates
                .first()
                .is_some_and(|u| u.status == SagaCommandStatus::Sent);
        let ends_step = failure.is_some() && command.kind == SagaCommandKind::Step;
        let ends_compensation =
            command.kind == SagaCommandKind::Compensation && (sent || failure.is_some());
        if ends_step || ends_compensation {
            self.follow_up(&command, &mut write, failure.as_deref(), now)
                .await?;
        }
        self.sagas.write(&write).await
    }

    /// After a step failed for good, fails its saga (compensating what was
    /// sent); after a compensation ended, settles a compensating saga.
    async fn follow_up(
        &self,
        command: &SagaCommandRecord,
        write: &mut SagaWrite,
        failure: Option<&str>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        let Some(mut record) = self.sagas.saga(command.saga_id).await? else {
            return Ok(());
        };
        let expected = record.version;
        let mut commands = self.sagas.commands(command.saga_id).await?;
        for update in &write.command_updates {
            if let Some(c) = commands
                .iter_mut()
                .find(|c| c.message_id == update.message_id)
            {
                c.status = update.status;
            }
        }
        let changed = match (command.kind, failure) {
            (SagaCommandKind::Step, Some(error)) => {
                if record.status == SagaStatus::Compensating
                    || record.status.is_terminal() && record.status != SagaStatus::Completed
                {
                    false
                } else {
                    let state: G = state_of(&record)?;
                    let was_running = record.status == SagaStatus::Running;
                    let plan = plan_failure(&state, &mut record, &commands, error, now);
                    for cancelled in plan.cancel {
                        if let Some(c) = commands.iter().find(|c| c.message_id == cancelled) {
                            write.command_updates.push(SagaCommandUpdate {
                                message_id: cancelled,
                                status: SagaCommandStatus::Cancelled,
                                attempts: c.attempts,
                                next_attempt_at: c.next_attempt_at,
                                last_error: c.last_error.clone(),
                                result: None,
                            });
                        }
                    }
                    write.commands.extend(plan.compensations);
                    if was_running {
                        write.release.push(record.id);
                        write.clear_deadlines.push(record.id);
                    }
                    write.history.push(history(
                        record.id,
                        now,
                        "status",
                        format!("{}: {error}", record.status),
                    ));
                    true
                }
            }
            _ => {
                let settled = settle(&mut record, &commands);
                if settled {
                    write.history.push(history(
                        record.id,
                        now,
                        "status",
                        record.status.to_string(),
                    ));
                }
                settled
            }
        };
        if changed {
            record.version = expected + 1;
            record.updated_at = now;
            write.sagas.push(SagaUpsert {
                record,
                expected: Some(expected),
            });
        }
        Ok(())
    }
}
