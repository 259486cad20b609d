//! The worker of one async projection: takes the lease, reads batches after
//! the checkpoint, applies them in the checkpoint's transaction, and obeys
//! the control requests stored beside the checkpoint
//! (docs/adr/013-checkpoints-and-leases.md).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::FutureExt;
use tokio::sync::{Notify, watch};
use tracing::Instrument;

use super::engine::{Entry, Replay};
use super::handler::{FailureKind, HandlerError, PoisonPolicy, ProjectionContext, ProjectionKind};
use super::status::{PROJECTION_ERRORS_TOTAL, PROJECTION_EVENTS_TOTAL, RebuildRun};
use crate::error::Error;
use crate::event::{Position, RecordedEvent};
use crate::store::{
    CheckpointUpdate, DeadLetter, Desired, EventStore, Lease, LogChanges, ProjectionRecord,
    ProjectionState, ProjectionStore, ReadAll, ReadFilter, RebuildStep, StatusReport,
};

/// Why a worker gave up its lease.
enum Exit {
    /// The engine is stopping.
    Stop,
    /// Another instance holds the projection now.
    Lost,
}

/// How applying a batch ended.
enum Applied {
    /// Committed up to this position.
    Committed,
    /// The handler failed at this index of the batch; nothing was stored.
    Failed(usize, HandlerError),
    /// The store failed; nothing was stored.
    Store(Error),
}

pub(super) struct Worker {
    pub entry: Arc<Entry>,
    pub events: Arc<dyn EventStore>,
    pub checkpoints: Arc<dyn ProjectionStore>,
    pub instance: String,
    pub stop: watch::Receiver<bool>,
    pub changes: LogChanges,
}

impl Worker {
    fn name(&self) -> &str {
        &self.entry.name
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Waits `at_most`, or less when the engine stops, an operator's
    /// request arrives, or (with `wake_on_log`) the log grows.
    async fn idle(&mut self, at_most: Duration, wake_on_log: bool) {
        let nudge: Arc<Notify> = Arc::clone(&self.entry.nudge);
        let mut stop = self.stop.clone();
        if wake_on_log {
            let changes = &mut self.changes;
            tokio::select! {
                _ = changes.wait(at_most) => {}
                _ = stop.changed() => {}
                _ = nudge.notified() => {}
            }
        } else {
            tokio::select! {
                _ = tokio::time::sleep(at_most) => {}
                _ = stop.changed() => {}
                _ = nudge.notified() => {}
            }
        }
    }

    /// Runs until the engine stops.
    pub(super) async fn run(mut self) {
        let ttl = self.entry.options.lease_ttl;
        let mut failures = 0u32;
        while !self.stopping() {
            match self
                .checkpoints
                .acquire(self.name(), &self.instance, ttl)
                .await
            {
                Ok(Some(lease)) => {
                    failures = 0;
                    self.entry.figures.update(|f| {
                        f.owned = true;
                        f.last_error = None;
                    });
                    let exit = self.work(&lease).await;
                    self.entry.figures.update(|f| f.owned = false);
                    if let Exit::Stop = exit {
                        let report = StatusReport {
                            state: ProjectionState::Stopped,
                            last_error: self.entry.figures.get().last_error,
                        };
                        if let Err(e) = self.checkpoints.release(&lease, &report).await {
                            tracing::warn!(projection = %self.name(), error = %e, "releasing the lease failed; it expires by itself");
                        }
                    }
                }
                Ok(None) => {
                    self.entry.figures.update(|f| {
                        f.owned = false;
                        f.state = ProjectionState::Stopped;
                    });
                    self.idle(ttl / 3, false).await;
                }
                Err(e) => {
                    failures += 1;
                    self.entry
                        .figures
                        .update(|f| f.last_error = Some(e.to_string()));
                    let pause = self.entry.backoff(failures);
                    self.idle(pause, false).await;
                }
            }
        }
        self.entry.figures.update(|f| {
            f.state = ProjectionState::Stopped;
            f.owned = false;
        });
    }

    fn report(&self) -> StatusReport {
        let local = self.entry.figures.get();
        StatusReport {
            state: local.state,
            last_error: local.last_error,
        }
    }

    fn set_state(&self, state: ProjectionState) {
        self.entry.figures.update(|f| f.state = state);
    }

    fn filter(&self) -> ReadFilter {
        ReadFilter {
            event_types: self.entry.event_types.clone(),
            ..ReadFilter::default()
        }
    }

    /// Works the projection while holding `lease`.
    async fn work(&mut self, lease: &Lease) -> Exit {
        let options = self.entry.options.clone();
        let heartbeat = options.lease_ttl / 3;
        let mut renewed_at: Option<Instant> = None;
        let mut record: Option<ProjectionRecord> = None;
        // Whether this worker paused the projection on a poison event (the
        // pause policy): it reports `faulted` until an operator resumes it.
        let mut faulted = false;
        let mut failures = 0u32;
        // The state the store last heard of.
        let mut reported: Option<ProjectionState> = None;
        // Working from here on, unless the record says otherwise.
        self.set_state(ProjectionState::Running);
        loop {
            if self.stopping() {
                return Exit::Stop;
            }
            // Renew at each heartbeat, and as soon as the state changed, so
            // that every instance's status shows it without waiting.
            let report = self.report();
            if renewed_at.is_none_or(|t| t.elapsed() >= heartbeat)
                || record.is_none()
                || reported != Some(report.state)
            {
                match self
                    .checkpoints
                    .renew(lease, options.lease_ttl, &report)
                    .await
                {
                    Ok(Some(now)) => {
                        renewed_at = Some(Instant::now());
                        reported = Some(report.state);
                        self.entry.figures.update(|f| f.checkpoint = now.checkpoint);
                        record = Some(now);
                    }
                    Ok(None) => return Exit::Lost,
                    Err(e) => {
                        failures += 1;
                        self.entry
                            .figures
                            .update(|f| f.last_error = Some(e.to_string()));
                        let pause = self.entry.backoff(failures);
                        self.idle(pause.min(heartbeat), false).await;
                        continue;
                    }
                }
            }
            let Some(current) = record.clone() else {
                continue;
            };
            let replays: Vec<Replay> =
                std::mem::take(&mut *self.entry.replays.lock().unwrap_or_else(|p| p.into_inner()));
            if !replays.is_empty() {
                for replay in replays {
                    let outcome = self
                        .replay(lease, current.checkpoint, replay.position)
                        .await;
                    let lost = matches!(outcome, Err(Error::LeaseLost { .. }));
                    let _ = replay.done.send(outcome);
                    if lost {
                        return Exit::Lost;
                    }
                }
                // The replays counted events: read the record again.
                renewed_at = None;
                record = None;
                continue;
            }
            if current.desired == Desired::Paused {
                self.set_state(if faulted {
                    ProjectionState::Faulted
                } else {
                    ProjectionState::Paused
                });
                self.idle(heartbeat, false).await;
                renewed_at = None;
                continue;
            }
            if faulted {
                // Resumed by an operator: try the poison event again.
                faulted = false;
                self.entry.figures.update(|f| f.last_error = None);
            }
            // A rebuild not started yet: clear the read model and move the
            // checkpoint back, in one transaction.
            if let Some(request) = current.rebuild.filter(|r| !r.started) {
                self.set_state(ProjectionState::Rebuilding);
                match self
                    .start_rebuild(lease, &current, request.id, request.from)
                    .await
                {
                    Ok(()) => {
                        let mut next = current.clone();
                        next.checkpoint = request.from;
                        if let Some(r) = next.rebuild.as_mut() {
                            r.started = true;
                        }
                        self.entry.figures.update(|f| {
                            f.checkpoint = request.from;
                            f.rebuild = Some(RebuildRun {
                                request: request.id,
                                from: request.from,
                                to: request.to,
                                started: Instant::now(),
                                done: 0,
                            });
                        });
                        record = Some(next);
                    }
                    Err(Error::LeaseLost { .. }) => return Exit::Lost,
                    Err(e) => {
                        failures += 1;
                        self.entry
                            .figures
                            .update(|f| f.last_error = Some(e.to_string()));
                        let pause = self.entry.backoff(failures);
                        self.idle(pause, false).await;
                        renewed_at = None;
                    }
                }
                continue;
            }
            let rebuilding = current.rebuild.filter(|r| r.started);
            if rebuilding.is_some() {
                self.set_state(ProjectionState::Rebuilding);
                self.entry.figures.update(|f| {
                    if let (None, Some(r)) = (&f.rebuild, rebuilding) {
                        f.rebuild = Some(RebuildRun {
                            request: r.id,
                            from: r.from,
                            to: r.to,
                            started: Instant::now(),
                            done: 0,
                        });
                    }
                });
            } else {
                self.set_state(ProjectionState::Running);
                self.entry.figures.update(|f| f.rebuild = None);
            }
            let bound = rebuilding.and_then(|r| r.to);

            match self
                .step(lease, &current, bound, rebuilding.map(|r| r.id))
                .await
            {
                Step::Advanced(to, applied) => {
                    failures = 0;
                    let mut next = current.clone();
                    next.checkpoint = to;
                    next.events_processed += applied;
                    self.entry.figures.update(|f| {
                        f.checkpoint = to;
                        f.processed = next.events_processed;
                        f.last_error = None;
                        if let Some(run) = f.rebuild.as_mut() {
                            run.done += applied;
                        }
                    });
                    record = Some(next);
                }
                Step::Finished => {
                    failures = 0;
                    self.entry.figures.update(|f| f.rebuild = None);
                    // Read the record again: the rebuild may have left it
                    // paused at its bound.
                    renewed_at = None;
                    record = None;
                }
                Step::Idle => {
                    failures = 0;
                    let wait = options.poll_interval.min(heartbeat);
                    self.idle(wait, true).await;
                }
                Step::Faulted(error) => {
                    self.entry
                        .figures
                        .update(|f| f.last_error = Some(error.clone()));
                    self.set_state(ProjectionState::Faulted);
                    // Pause it where it stands, in the store, so that only
                    // an operator's resume (from any process) retries it.
                    if let Err(e) = self
                        .checkpoints
                        .set_desired(&self.entry.name, Desired::Paused)
                        .await
                    {
                        tracing::warn!(projection = %self.entry.name, error = %e, "pausing a faulted projection failed; it retries");
                    } else {
                        faulted = true;
                    }
                    // Store the fault at once, so that every instance's
                    // status shows it.
                    renewed_at = None;
                    record = None;
                }
                Step::Lost => return Exit::Lost,
                Step::Retry(error) => {
                    failures += 1;
                    self.entry.figures.update(|f| f.last_error = Some(error));
                    let pause = self.entry.backoff(failures);
                    self.idle(pause, false).await;
                    renewed_at = None;
                    record = None;
                }
                Step::Stopped => return Exit::Stop,
            }
        }
    }

    /// Applies the parked event at `position` again, leaving the
    /// checkpoint where it is, and removes it from the dead letters.
    async fn replay(
        &self,
        lease: &Lease,
        checkpoint: Position,
        position: Position,
    ) -> Result<(), Error> {
        let parked = self.checkpoints.dead_letters(&self.entry.name).await?;
        let Some(dead) = parked.into_iter().find(|d| d.position == position) else {
            return Err(Error::invalid(
                "position",
                format!("`{}` has no parked event at {position}", self.entry.name),
            ));
        };
        // The last position before `position` in log order.
        let before = if position.event > 0 {
            Position {
                commit: position.commit,
                event: position.event - 1,
            }
        } else {
            Position {
                commit: position.commit.saturating_sub(1),
                event: u64::MAX,
            }
        };
        let request = ReadAll {
            after: before,
            filter: ReadFilter::all().stream(dead.stream_id.clone()),
            limit: 1,
        };
        let event = self
            .events
            .read_all_forward(request)
            .await?
            .into_iter()
            .find(|e| e.position == position)
            .ok_or_else(|| {
                Error::invalid("position", format!("no event is stored at {position}"))
            })?;
        match self
            .apply(
                lease,
                checkpoint,
                checkpoint,
                std::slice::from_ref(&event),
                RebuildStep::None,
            )
            .await
        {
            Applied::Committed => {
                self.count(1);
                self.checkpoints
                    .remove_dead_letter(&self.entry.name, position)
                    .await?;
                Ok(())
            }
            Applied::Failed(_, e) => Err(Error::UnitOfWork(e.into_source())),
            Applied::Store(e) => Err(e),
        }
    }

    async fn start_rebuild(
        &self,
        lease: &Lease,
        record: &ProjectionRecord,
        request: u64,
        from: Position,
    ) -> Result<(), Error> {
        let mut tx = self.checkpoints.begin(lease).await?;
        let reset = {
            let mut ctx = ProjectionContext::new(
                &self.entry.name,
                ProjectionKind::Async,
                Some(tx.transaction()),
            );
            AssertUnwindSafe(self.entry.projection.reset(&mut ctx))
                .catch_unwind()
                .await
        };
        match reset {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(Error::UnitOfWork(e.into_source())),
            Err(panic) => {
                return Err(Error::UnitOfWork(
                    format!("the reset hook panicked: {}", panic_message(&panic)).into(),
                ));
            }
        }
        tx.commit(CheckpointUpdate {
            from: record.checkpoint,
            to: from,
            applied: 0,
            parked: Vec::new(),
            rebuild: RebuildStep::Started(request),
        })
        .await
    }

    /// Reads one batch after the checkpoint and applies it.
    async fn step(
        &mut self,
        lease: &Lease,
        record: &ProjectionRecord,
        bound: Option<Position>,
        rebuild: Option<u64>,
    ) -> Step {
        let options = self.entry.options.clone();
        let checkpoint = record.checkpoint;
        let read = ReadAll {
            after: checkpoint,
            filter: self.filter(),
            limit: options.batch_size,
        };
        self.changes.mark_seen();
        // The head is read only when a page comes back empty, and *before*
        // the page is read again: when that read is empty too, nothing the
        // projection handles lies up to the head, so the checkpoint may move
        // there, past events of other types. A busy worker skips the query.
        let mut head = None;
        let mut events = loop {
            let page = match self.events.read_all_forward(read.clone()).await {
                Ok(page) => page,
                Err(Error::Undecodable {
                    stream,
                    version,
                    position,
                    reason,
                }) => {
                    let error = Error::Undecodable {
                        stream: stream.clone(),
                        version,
                        position,
                        reason,
                    };
                    metrics::counter!(PROJECTION_ERRORS_TOTAL, "projection" => self.entry.name.clone())
                        .increment(1);
                    let dead = DeadLetter {
                        projection: self.entry.name.clone(),
                        position,
                        event_id: uuid::Uuid::nil(),
                        stream_id: stream,
                        version,
                        event_type: String::new(),
                        error: error.to_string(),
                        attempts: 1,
                        parked_at: Utc::now(),
                    };
                    return self
                        .poison(lease, checkpoint, dead, error.to_string())
                        .await;
                }
                Err(e) => return Step::Retry(e.to_string()),
            };
            if !page.is_empty() || head.is_some() {
                break page;
            }
            head = match self.events.head_position().await {
                Ok(head) => Some(head),
                Err(e) => return Step::Retry(e.to_string()),
            };
        };
        let head = head.unwrap_or(checkpoint);
        if !events.is_empty()
            && events.len() < options.batch_size
            && !options.batch_timeout.is_zero()
        {
            // Let the batch fill for a while before applying it.
            self.idle(options.batch_timeout, false).await;
            match self.events.read_all_forward(read).await {
                Ok(more) if more.len() >= events.len() => events = more,
                _ => {}
            }
        }
        // Only an empty read shows that nothing it handles lies between the
        // checkpoint and the head: a short page may stop before a row that
        // cannot be decoded, which the next read reports.
        let short = events.is_empty();
        // An event past a rebuild's bound: every event up to the bound is
        // in the page, which is in log order.
        let past_bound = bound.is_some_and(|b| events.last().is_some_and(|e| e.position > b));
        if let Some(bound) = bound {
            events.retain(|e| e.position <= bound);
        }
        // Where the checkpoint may go when the batch applies: its last
        // event, or, when the read came back empty, the head it was read
        // under (never past a rebuild's bound).
        let mut target = events.last().map_or(checkpoint, |e| e.position);
        if short {
            target = target.max(head.min(bound.unwrap_or(head)));
        }
        if let (true, Some(bound)) = (past_bound, bound) {
            target = target.max(bound);
        }
        let finished = match (rebuild, bound) {
            (Some(_), Some(bound)) => target >= bound,
            (Some(_), None) => short,
            (None, _) => false,
        };
        let step = match (finished, rebuild) {
            (true, Some(id)) => RebuildStep::Finished(id),
            _ => RebuildStep::None,
        };
        if events.is_empty() {
            if target <= checkpoint && step == RebuildStep::None {
                return Step::Idle;
            }
            return match self.commit_empty(lease, checkpoint, target, step).await {
                Ok(()) if finished => Step::Finished,
                Ok(()) => Step::Advanced(target, 0),
                Err(Error::LeaseLost { .. }) => Step::Lost,
                Err(e) => Step::Retry(e.to_string()),
            };
        }
        match self.apply(lease, checkpoint, target, &events, step).await {
            Applied::Committed => {
                self.count(events.len());
                if finished {
                    Step::Finished
                } else {
                    Step::Advanced(target, events.len() as u64)
                }
            }
            Applied::Store(Error::LeaseLost { .. }) => Step::Lost,
            Applied::Store(e) => Step::Retry(e.to_string()),
            Applied::Failed(index, error) => {
                metrics::counter!(PROJECTION_ERRORS_TOTAL, "projection" => self.entry.name.clone())
                    .increment(1);
                if error.kind() == FailureKind::Transient {
                    return Step::Retry(error.to_string());
                }
                // Keep the good events before the failing one.
                if index > 0 {
                    let good = &events[..index];
                    let to = good[index - 1].position;
                    return match self
                        .apply(lease, checkpoint, to, good, RebuildStep::None)
                        .await
                    {
                        Applied::Committed => {
                            self.count(index);
                            Step::Advanced(to, index as u64)
                        }
                        Applied::Store(Error::LeaseLost { .. }) => Step::Lost,
                        Applied::Store(e) => Step::Retry(e.to_string()),
                        // Failed differently in a batch of its own: try
                        // again from the checkpoint.
                        Applied::Failed(_, e) => Step::Retry(e.to_string()),
                    };
                }
                self.isolate(lease, checkpoint, &events[0], error).await
            }
        }
    }

    fn count(&self, applied: usize) {
        metrics::counter!(PROJECTION_EVENTS_TOTAL, "projection" => self.entry.name.clone())
            .increment(applied as u64);
    }

    /// Retries one failing event alone, then follows the poison policy.
    async fn isolate(
        &mut self,
        lease: &Lease,
        checkpoint: Position,
        event: &RecordedEvent,
        first: HandlerError,
    ) -> Step {
        let options = self.entry.options.clone();
        let mut attempts = 1u32;
        let mut last = first.to_string();
        let mut transient_failures = 0u32;
        loop {
            let exhausted = attempts >= options.max_attempts.max(1);
            if exhausted && options.on_poison != PoisonPolicy::Retry {
                break;
            }
            self.entry
                .figures
                .update(|f| f.last_error = Some(last.clone()));
            let pause = self.entry.backoff(attempts + transient_failures);
            self.idle(pause, false).await;
            if self.stopping() {
                return Step::Stopped;
            }
            match self
                .apply(
                    lease,
                    checkpoint,
                    event.position,
                    std::slice::from_ref(event),
                    RebuildStep::None,
                )
                .await
            {
                Applied::Committed => {
                    self.count(1);
                    return Step::Advanced(event.position, 1);
                }
                Applied::Store(Error::LeaseLost { .. }) => return Step::Lost,
                Applied::Store(e) => {
                    transient_failures += 1;
                    last = e.to_string();
                }
                Applied::Failed(_, e) => {
                    metrics::counter!(PROJECTION_ERRORS_TOTAL, "projection" => self.entry.name.clone())
                        .increment(1);
                    last = e.to_string();
                    if e.kind() == FailureKind::Transient {
                        transient_failures += 1;
                    } else {
                        attempts += 1;
                    }
                }
            }
        }
        let dead = DeadLetter {
            projection: self.entry.name.clone(),
            position: event.position,
            event_id: event.event_id,
            stream_id: event.stream_id.clone(),
            version: event.version,
            event_type: event.event_type.clone(),
            error: last.clone(),
            attempts,
            parked_at: Utc::now(),
        };
        self.poison(lease, checkpoint, dead, last).await
    }

    /// Follows the poison policy for an event that cannot be applied.
    async fn poison(
        &mut self,
        lease: &Lease,
        checkpoint: Position,
        dead: DeadLetter,
        error: String,
    ) -> Step {
        match self.entry.options.on_poison {
            PoisonPolicy::Skip => {
                let to = dead.position;
                tracing::warn!(projection = %self.entry.name, position = %to, error = %error, "parking a poison event");
                let update = CheckpointUpdate {
                    from: checkpoint,
                    to,
                    applied: 0,
                    parked: vec![dead],
                    rebuild: RebuildStep::None,
                };
                let committed = match self.checkpoints.begin(lease).await {
                    Ok(tx) => tx.commit(update).await,
                    Err(e) => Err(e),
                };
                match committed {
                    Ok(()) => Step::Advanced(to, 0),
                    Err(Error::LeaseLost { .. }) => Step::Lost,
                    Err(e) => Step::Retry(e.to_string()),
                }
            }
            PoisonPolicy::Pause => Step::Faulted(error),
            PoisonPolicy::Retry => Step::Retry(error),
        }
    }

    async fn commit_empty(
        &self,
        lease: &Lease,
        from: Position,
        to: Position,
        rebuild: RebuildStep,
    ) -> Result<(), Error> {
        let tx = self.checkpoints.begin(lease).await?;
        tx.commit(CheckpointUpdate {
            from,
            to,
            applied: 0,
            parked: Vec::new(),
            rebuild,
        })
        .await
    }

    /// Applies `events` in one transaction and commits the checkpoint at
    /// `to`.
    async fn apply(
        &self,
        lease: &Lease,
        from: Position,
        to: Position,
        events: &[RecordedEvent],
        rebuild: RebuildStep,
    ) -> Applied {
        let span = tracing::info_span!(
            "mink.projection.batch",
            projection = %self.entry.name,
            events = events.len(),
            from = %from,
            to = %to,
            outcome = tracing::field::Empty,
        );
        let applied = self
            .apply_batch(lease, from, to, events, rebuild)
            .instrument(span.clone())
            .await;
        span.record(
            "outcome",
            match &applied {
                Applied::Committed => "ok",
                Applied::Failed(..) => "handler_error",
                Applied::Store(_) => "store_error",
            },
        );
        applied
    }

    async fn apply_batch(
        &self,
        lease: &Lease,
        from: Position,
        to: Position,
        events: &[RecordedEvent],
        rebuild: RebuildStep,
    ) -> Applied {
        let mut tx = match self.checkpoints.begin(lease).await {
            Ok(tx) => tx,
            Err(e) => return Applied::Store(e),
        };
        for (index, event) in events.iter().enumerate() {
            let outcome = {
                let mut ctx = ProjectionContext::new(
                    &self.entry.name,
                    ProjectionKind::Async,
                    Some(tx.transaction()),
                );
                let span = handling_span(&self.entry.name, ProjectionKind::Async, event);
                crate::observability::continue_trace(&span, &event.metadata);
                AssertUnwindSafe(self.entry.projection.handle(event, &mut ctx))
                    .catch_unwind()
                    .instrument(span)
                    .await
            };
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(error)) => return Applied::Failed(index, error),
                Err(panic) => {
                    let message = format!("the handler panicked: {}", panic_message(&panic));
                    return Applied::Failed(index, HandlerError::permanent(message));
                }
            }
        }
        match tx
            .commit(CheckpointUpdate {
                from,
                to,
                applied: events.len() as u64,
                parked: Vec::new(),
                rebuild,
            })
            .await
        {
            Ok(()) => Applied::Committed,
            Err(e) => Applied::Store(e),
        }
    }
}

/// What one step of the worker did.
enum Step {
    /// The checkpoint moved to this position, with this many events applied.
    Advanced(Position, u64),
    /// A rebuild reached its bound.
    Finished,
    /// Nothing new.
    Idle,
    /// A poison event under the pause policy.
    Faulted(String),
    /// The lease is gone.
    Lost,
    /// Something failed that may pass: back off and read again.
    Retry(String),
    /// The engine is stopping.
    Stopped,
}

/// The `mink.projection.handle` span of one event's handling.
pub(super) fn handling_span(
    projection: &str,
    kind: ProjectionKind,
    event: &RecordedEvent,
) -> tracing::Span {
    tracing::info_span!(
        "mink.projection.handle",
        projection,
        kind = %kind,
        event_type = %event.event_type,
        stream_id = %event.stream_id,
        position = %event.position,
    )
}

/// The text of a panic's payload.
pub(super) fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a non-text panic payload".to_owned()
    }
}
