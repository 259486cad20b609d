//! What one step of a saga manager writes: the sagas an event (or a
//! deadline) reaches, their new state, associations, deadlines and
//! commands, gathered in a [`SagaWrite`] that commits with the cursor; and
//! what failing a saga plans (its pending steps cancelled, the
//! compensations of its sent steps in reverse order).

use std::collections::HashMap;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::declaration::{OutgoingCommand, Saga, SagaContext};
use crate::command::Context;
use crate::error::{Error, Result};
use crate::event::{RecordedEvent, Serializer};
use crate::store::{
    SagaAssociation, SagaCommandKind, SagaCommandRecord, SagaCommandStatus, SagaCommandUpdate,
    SagaDeadline, SagaHistoryEntry, SagaRecord, SagaStatus, SagaStore, SagaUpsert, SagaWrite,
    message_id,
};

/// A saga reached in this step, with its decoded state.
struct Live<G> {
    state: G,
    record: SagaRecord,
    /// The version it was read at; `None` when it starts in this step.
    expected: Option<u64>,
}

/// The sagas one step reaches and what it writes for them.
pub(super) struct Batch<'a, G> {
    store: &'a dyn SagaStore,
    now: DateTime<Utc>,
    live: HashMap<Uuid, Live<G>>,
    /// Association lookups made or changed in this step: `None` when no
    /// running saga holds the value.
    found: HashMap<(String, String), Option<Uuid>>,
    pub(super) write: SagaWrite,
    /// Events that could not be decoded, with why.
    pub(super) skipped: Vec<String>,
    _saga: PhantomData<fn() -> G>,
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

fn decode_state<G: Saga>(record: &SagaRecord) -> Result<G> {
    serde_json::from_slice(&record.state).map_err(|e| Error::Deserialization {
        event_type: format!("saga state of `{}`", record.saga_type),
        stream: format!("saga-{}", record.id),
        version: record.version,
        event_id: record.id,
        source: Box::new(e),
    })
}

fn encode_state<G: Saga>(state: &G) -> Result<Vec<u8>> {
    serde_json::to_vec(state).map_err(|e| Error::Serialization {
        event_type: format!("saga state of `{}`", G::NAME),
        source: Box::new(e),
    })
}

pub(super) fn history(
    saga_id: Uuid,
    at: DateTime<Utc>,
    kind: &str,
    detail: String,
) -> SagaHistoryEntry {
    SagaHistoryEntry {
        saga_id,
        at,
        kind: kind.to_owned(),
        detail,
    }
}

/// The command as the saga handed it over.
pub(super) fn outgoing(record: &SagaCommandRecord) -> OutgoingCommand {
    OutgoingCommand {
        name: record.name.clone(),
        payload: record.payload.clone(),
        aggregate_id: record.aggregate_id.clone(),
    }
}

/// The context a stored command is sent with: the ids of what caused it,
/// and an idempotency key derived from its message id.
pub(super) fn context_of(record: &SagaCommandRecord) -> Context {
    let mut context = Context::new().with_idempotency_key(format!("saga-{}", record.message_id));
    context.correlation_id.clone_from(&record.correlation_id);
    context.causation_id.clone_from(&record.causation_id);
    context.user_id.clone_from(&record.user_id);
    context.tenant_id.clone_from(&record.tenant_id);
    context
}

/// A new command row of `saga`, caused as `cause` says.
#[allow(clippy::too_many_arguments, reason = "one row's columns")]
fn command_row(
    record: &mut SagaRecord,
    message_id: Uuid,
    kind: SagaCommandKind,
    compensates: Option<Uuid>,
    command: OutgoingCommand,
    cause: &Context,
    status: SagaCommandStatus,
    now: DateTime<Utc>,
) -> SagaCommandRecord {
    let seq = record.commands_issued;
    record.commands_issued += 1;
    SagaCommandRecord {
        message_id,
        saga_id: record.id,
        saga_type: record.saga_type.clone(),
        seq,
        kind,
        compensates,
        name: command.name,
        payload: command.payload,
        aggregate_id: command.aggregate_id,
        correlation_id: cause.correlation_id.clone(),
        causation_id: cause.causation_id.clone(),
        user_id: cause.user_id.clone(),
        tenant_id: cause.tenant_id.clone(),
        status,
        attempts: 0,
        next_attempt_at: now,
        last_error: None,
        result: None,
        created_at: now,
    }
}

/// What failing a saga changes: its pending steps are cancelled, and the
/// compensation of each step sent, in reverse order, is emitted. The saga
/// becomes `compensating`, or `failed` when nothing needs compensating.
pub(super) struct FailurePlan {
    pub(super) cancel: Vec<Uuid>,
    pub(super) compensations: Vec<SagaCommandRecord>,
}

/// Fails `record` (whose state is `state`, whose commands are `commands`)
/// for `error`.
pub(super) fn plan_failure<G: Saga>(
    state: &G,
    record: &mut SagaRecord,
    commands: &[SagaCommandRecord],
    error: &str,
    now: DateTime<Utc>,
) -> FailurePlan {
    let mut plan = FailurePlan {
        cancel: Vec::new(),
        compensations: Vec::new(),
    };
    let mut steps: Vec<&SagaCommandRecord> = commands
        .iter()
        .filter(|c| c.kind == SagaCommandKind::Step)
        .collect();
    steps.sort_by_key(|c| c.seq);
    for step in &steps {
        if step.status == SagaCommandStatus::Pending {
            plan.cancel.push(step.message_id);
        }
    }
    for done in steps
        .iter()
        .rev()
        .filter(|c| c.status == SagaCommandStatus::Sent)
    {
        let already = commands
            .iter()
            .any(|c| c.compensates == Some(done.message_id));
        if already {
            continue;
        }
        let cause = context_of(done);
        let id = message_id(record.id, &format!("c:{}", done.message_id), 0);
        let compensated =
            std::panic::catch_unwind(AssertUnwindSafe(|| state.compensate(&outgoing(done))));
        let (command, status, failure) = match compensated {
            Ok(Ok(Some(command))) => (command, SagaCommandStatus::Pending, None),
            Ok(Ok(None)) => continue,
            Ok(Err(e)) => (
                placeholder(done),
                SagaCommandStatus::Failed,
                Some(e.to_string()),
            ),
            Err(panic) => (
                placeholder(done),
                SagaCommandStatus::Failed,
                Some(format!("compensate panicked: {}", panic_message(&panic))),
            ),
        };
        let mut row = command_row(
            record,
            id,
            SagaCommandKind::Compensation,
            Some(done.message_id),
            command,
            &cause,
            status,
            now,
        );
        row.last_error = failure;
        plan.compensations.push(row);
    }
    record.last_error = Some(error.to_owned());
    record.updated_at = now;
    record.status = if plan.compensations.is_empty() {
        SagaStatus::Failed
    } else {
        SagaStatus::Compensating
    };
    settle(record, commands.iter().chain(&plan.compensations));
    plan
}

/// The row of a compensation that could not even be built.
fn placeholder(done: &SagaCommandRecord) -> OutgoingCommand {
    OutgoingCommand {
        name: format!("compensation of {}", done.name),
        payload: Vec::new(),
        aggregate_id: done.aggregate_id.clone(),
    }
}

/// Ends a compensating saga once none of its compensations is pending:
/// `compensated` when all were sent, else `compensation_failed`.
pub(super) fn settle<'c>(
    record: &mut SagaRecord,
    commands: impl IntoIterator<Item = &'c SagaCommandRecord>,
) -> bool {
    if record.status != SagaStatus::Compensating {
        return false;
    }
    let mut pending = false;
    let mut failed = false;
    for c in commands {
        if c.kind != SagaCommandKind::Compensation {
            continue;
        }
        match c.status {
            SagaCommandStatus::Pending => pending = true,
            SagaCommandStatus::Failed => failed = true,
            _ => {}
        }
    }
    if pending {
        return false;
    }
    record.status = if failed {
        SagaStatus::CompensationFailed
    } else {
        SagaStatus::Compensated
    };
    true
}

impl<'a, G: Saga> Batch<'a, G> {
    pub(super) fn new(store: &'a dyn SagaStore, now: DateTime<Utc>) -> Self {
        Batch {
            store,
            now,
            live: HashMap::new(),
            found: HashMap::new(),
            write: SagaWrite::default(),
            skipped: Vec::new(),
            _saga: PhantomData,
        }
    }

    /// The saga a running association finds, looking at this step's
    /// changes first.
    async fn find(&mut self, key: &str, value: &str) -> Result<Option<Uuid>> {
        let k = (key.to_owned(), value.to_owned());
        if let Some(found) = self.found.get(&k) {
            return Ok(*found);
        }
        let found = self
            .store
            .find(G::NAME, key, value)
            .await?
            .filter(|r| !r.status.has_ended())
            .map(|r| r.id);
        self.found.insert(k, found);
        Ok(found)
    }

    /// Loads saga `id` into the step; `false` when it is unknown.
    async fn load(&mut self, id: Uuid) -> Result<bool> {
        if self.live.contains_key(&id) {
            return Ok(true);
        }
        let Some(record) = self.store.saga(id).await? else {
            return Ok(false);
        };
        let state = decode_state::<G>(&record)?;
        self.live.insert(
            id,
            Live {
                state,
                expected: Some(record.version),
                record,
            },
        );
        Ok(true)
    }

    fn start(&mut self, event: &RecordedEvent) -> Uuid {
        let id = Uuid::now_v7();
        let record = SagaRecord {
            id,
            saga_type: G::NAME.to_owned(),
            state: Vec::new(),
            status: SagaStatus::Running,
            version: 0,
            commands_issued: 0,
            created_at: self.now,
            updated_at: self.now,
            last_error: None,
        };
        self.live.insert(
            id,
            Live {
                state: G::default(),
                record,
                expected: None,
            },
        );
        self.write.history.push(history(
            id,
            self.now,
            "status",
            format!("started by `{}` at {}", event.event_type, event.position),
        ));
        id
    }

    /// Adds an active association, unless a running saga of another id
    /// holds the value (then the history says so).
    async fn associate(&mut self, id: Uuid, key: &str, value: &str) -> Result<()> {
        match self.find(key, value).await? {
            Some(holder) if holder == id => Ok(()),
            Some(holder) => {
                self.write.history.push(history(
                    id,
                    self.now,
                    "association",
                    format!("`{key}` = `{value}` not added: saga {holder} holds it"),
                ));
                Ok(())
            }
            None => {
                self.write.associate.push(SagaAssociation {
                    saga_type: G::NAME.to_owned(),
                    key: key.to_owned(),
                    value: value.to_owned(),
                    saga_id: id,
                    active: true,
                });
                self.found
                    .insert((key.to_owned(), value.to_owned()), Some(id));
                Ok(())
            }
        }
    }

    /// Routes `event` (decoded with `serializer`) to its saga and runs the
    /// handler. With `deliver_to` (a deadline) the association is ignored
    /// and only that saga, if it is still running, gets it. `trigger` names
    /// the event or deadline in the ids of the commands emitted.
    pub(super) async fn on_event<Z: Serializer>(
        &mut self,
        event: &RecordedEvent,
        serializer: &Z,
        trigger: &str,
        deliver_to: Option<Uuid>,
    ) -> Result<()> {
        let routed =
            match std::panic::catch_unwind(AssertUnwindSafe(|| G::route(event, serializer))) {
                Ok(Ok(Some(routed))) => routed,
                Ok(Ok(None)) => return Ok(()),
                Ok(Err(e)) => {
                    self.skipped.push(format!(
                        "`{}` at {} could not be routed: {e}",
                        event.event_type, event.position
                    ));
                    return Ok(());
                }
                Err(panic) => {
                    self.skipped.push(format!(
                        "routing `{}` at {} panicked: {}",
                        event.event_type,
                        event.position,
                        panic_message(&panic)
                    ));
                    return Ok(());
                }
            };
        let id = match deliver_to {
            Some(id) => {
                if !self.load(id).await? {
                    return Ok(());
                }
                id
            }
            None => {
                let association = &routed.association;
                match self.find(association.key, &association.value).await? {
                    Some(id) if self.load(id).await? => id,
                    _ if routed.starts => {
                        let id = self.start(event);
                        self.associate(id, association.key, &association.value)
                            .await?;
                        id
                    }
                    _ => return Ok(()),
                }
            }
        };
        let now = self.now;
        let Some(live) = self.live.get_mut(&id) else {
            return Ok(());
        };
        if live.record.status.has_ended() {
            return Ok(());
        }
        let before = encode_state(&live.state)?;
        let mut context = SagaContext::new(id, now);
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
            live.state.handle(routed.event, event, &mut context)
        }));
        let what = if deliver_to.is_some() {
            format!("deadline `{}`", event.event_type)
        } else {
            format!("`{}` at {}", event.event_type, event.position)
        };
        let commands = match outcome {
            Ok(Ok(commands)) => commands,
            Ok(Err(e)) => {
                live.state = decode_state_bytes::<G>(&before)?;
                return self
                    .fail(id, format!("the handler of {what} failed: {e}"))
                    .await;
            }
            Err(panic) => {
                live.state = decode_state_bytes::<G>(&before)?;
                let message = format!("the handler of {what} panicked: {}", panic_message(&panic));
                return self.fail(id, message).await;
            }
        };
        let cause = Context::caused_by(event);
        live.record.updated_at = now;
        let kind = if deliver_to.is_some() {
            "deadline"
        } else {
            "event"
        };
        let mut detail = format!("{what} handled");
        if !commands.is_empty() {
            let names: Vec<&str> = commands.iter().map(|c| c.name.as_str()).collect();
            detail.push_str(&format!("; sends {}", names.join(", ")));
        }
        self.write.history.push(history(id, now, kind, detail));
        for (index, command) in commands.into_iter().enumerate() {
            let row = command_row(
                &mut live.record,
                message_id(id, trigger, index),
                SagaCommandKind::Step,
                None,
                command,
                &cause,
                SagaCommandStatus::Pending,
                now,
            );
            self.write.commands.push(row);
        }
        for name in context.cancelled() {
            self.write
                .deadlines
                .retain(|d| !(d.saga_id == id && &d.name == name));
            self.write.cancel_deadlines.push((id, name.clone()));
        }
        for request in context.scheduled() {
            self.write
                .deadlines
                .retain(|d| !(d.saga_id == id && d.name == request.name));
            self.write.deadlines.push(SagaDeadline {
                id: Uuid::now_v7(),
                saga_id: id,
                saga_type: G::NAME.to_owned(),
                name: request.name.clone(),
                due: request.due,
                event_type: request.event_type.to_owned(),
                schema_version: request.schema_version,
                payload: request.payload.clone(),
            });
        }
        let completed = context.is_completed();
        for (key, value) in context.associations() {
            self.associate(id, key, value).await?;
        }
        if completed {
            self.end(id, SagaStatus::Completed);
            self.write
                .history
                .push(history(id, now, "status", "completed".to_owned()));
        }
        Ok(())
    }

    /// Releases the associations and deadlines of a saga that ends.
    fn end(&mut self, id: Uuid, status: SagaStatus) {
        if let Some(live) = self.live.get_mut(&id) {
            live.record.status = status;
        }
        self.write.release.push(id);
        self.write.clear_deadlines.push(id);
        self.write.deadlines.retain(|d| d.saga_id != id);
        self.write.associate.retain(|a| a.saga_id != id);
        for found in self.found.values_mut() {
            if *found == Some(id) {
                *found = None;
            }
        }
    }

    /// Fails saga `id` in this step: cancels its pending steps and emits
    /// the compensations of its sent ones.
    async fn fail(&mut self, id: Uuid, error: String) -> Result<()> {
        let mut commands = self.store.commands(id).await?;
        commands.extend(
            self.write
                .commands
                .iter()
                .filter(|c| c.saga_id == id)
                .cloned(),
        );
        let now = self.now;
        self.end(id, SagaStatus::Failed);
        let Some(live) = self.live.get_mut(&id) else {
            return Ok(());
        };
        let plan = plan_failure(&live.state, &mut live.record, &commands, &error, now);
        let status = live.record.status;
        for cancelled in plan.cancel {
            match self
                .write
                .commands
                .iter_mut()
                .find(|c| c.message_id == cancelled)
            {
                Some(row) => row.status = SagaCommandStatus::Cancelled,
                None => {
                    if let Some(stored) = commands.iter().find(|c| c.message_id == cancelled) {
                        self.write.command_updates.push(SagaCommandUpdate {
                            message_id: cancelled,
                            status: SagaCommandStatus::Cancelled,
                            attempts: stored.attempts,
                            next_attempt_at: stored.next_attempt_at,
                            last_error: stored.last_error.clone(),
                            result: None,
                        });
                    }
                }
            }
        }
        self.write.commands.extend(plan.compensations);
        self.write
            .history
            .push(history(id, now, "status", format!("{status}: {error}")));
        Ok(())
    }

    /// The write of this step, with every saga it reached.
    pub(super) fn finish(mut self) -> Result<SagaWrite> {
        let mut ids: Vec<Uuid> = self.live.keys().copied().collect();
        ids.sort();
        for id in ids {
            let Some(live) = self.live.remove(&id) else {
                continue;
            };
            let mut record = live.record;
            let state = encode_state(&live.state)?;
            let changed =
                live.expected.is_none() || state != record.state || record.updated_at == self.now;
            if !changed {
                continue;
            }
            record.state = state;
            record.version = live.expected.map_or(1, |v| v + 1);
            self.write.sagas.push(SagaUpsert {
                record,
                expected: live.expected,
            });
        }
        Ok(self.write)
    }
}

fn decode_state_bytes<G: Saga>(bytes: &[u8]) -> Result<G> {
    serde_json::from_slice(bytes).map_err(|e| Error::Deserialization {
        event_type: format!("saga state of `{}`", G::NAME),
        stream: String::new(),
        version: 0,
        event_id: Uuid::nil(),
        source: Box::new(e),
    })
}

/// The saga state stored in `record`.
pub(super) fn state_of<G: Saga>(record: &SagaRecord) -> Result<G> {
    decode_state(record)
}
