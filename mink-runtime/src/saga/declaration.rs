//! What a saga is, as the saga manager sees it: the [`Saga`] trait that
//! `#[saga]` implements on a state struct, the context its handlers get,
//! and how its commands reach the command bus ([`SagaExecutor`]).
//!
//! The trait is generic where the application is (the serializer, the
//! executor), so that a saga decodes events exactly as an aggregate's load
//! does and every command it sends is checked to have a handler at compile
//! time.

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::command::{Command, CommandResult, CommandRoute, Context};
use crate::error::{BoxError, Error};
use crate::event::{RecordedEvent, Serializer};

/// How an event finds the saga instance it belongs to: the value of one
/// association key, taken from the event. Lookups are scoped by saga type:
/// `(saga type, key, value)` names at most one saga that has not ended.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Association {
    /// The key, such as `order_id`.
    pub key: &'static str,
    /// The value taken from the event.
    pub value: String,
}

/// An event decoded for a saga, with the association that finds its
/// instance and whether it may start a new one.
#[derive(Debug)]
pub struct Routed<E> {
    /// The decoded event (the saga's own enum over its handlers' types).
    pub event: E,
    /// How it finds its saga.
    pub association: Association,
    /// Whether a new saga starts when no saga is associated yet.
    pub starts: bool,
}

/// A command a saga handler returned, serialized so that it can be stored
/// in the saga's outbox in the same transaction as the saga's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingCommand {
    /// [`Command::NAME`] of the command's type: the key
    /// [`Saga::dispatch`] decodes it by.
    pub name: String,
    /// The command, as JSON.
    pub payload: Vec<u8>,
    /// The command's aggregate id, for operators.
    pub aggregate_id: Option<String>,
}

impl OutgoingCommand {
    /// Serializes `command`.
    pub fn new<C: Command>(command: &C) -> Result<Self, Error> {
        let payload = serde_json::to_vec(command).map_err(|e| Error::Serialization {
            event_type: C::NAME.to_owned(),
            source: Box::new(e),
        })?;
        Ok(OutgoingCommand {
            name: C::NAME.to_owned(),
            payload,
            aggregate_id: command.aggregate_id(),
        })
    }
}

/// A deadline a handler asked for: `event` is delivered to the same saga's
/// handler for its type at `due` (by the manager's clock), unless cancelled
/// or the saga has ended by then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlineRequest {
    /// Names the deadline within its saga, for [`SagaContext::cancel`].
    pub name: String,
    /// When it fires.
    pub due: DateTime<Utc>,
    /// The stable type name of the event delivered.
    pub event_type: &'static str,
    /// Its schema version.
    pub schema_version: u32,
    /// The event's payload, JSON.
    pub payload: Vec<u8>,
}

/// What a handler gets beside its event: the saga's id, the clock, and the
/// requests it makes (end the saga, add an association, schedule or cancel
/// a deadline). Everything it asks commits with the saga's new state.
#[derive(Debug)]
pub struct SagaContext {
    saga_id: Uuid,
    now: DateTime<Utc>,
    completed: bool,
    associations: Vec<(String, String)>,
    scheduled: Vec<DeadlineRequest>,
    cancelled: Vec<String>,
}

impl SagaContext {
    /// A context for one handler call of saga `saga_id`, at `now`.
    pub fn new(saga_id: Uuid, now: DateTime<Utc>) -> Self {
        SagaContext {
            saga_id,
            now,
            completed: false,
            associations: Vec::new(),
            scheduled: Vec::new(),
            cancelled: Vec::new(),
        }
    }

    /// The saga's id.
    pub fn saga_id(&self) -> Uuid {
        self.saga_id
    }

    /// The time, by the manager's clock (injectable in tests).
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// Ends the saga once its commands are sent: it reacts to no more
    /// events, its associations are freed, and its pending deadlines do
    /// nothing.
    pub fn complete(&mut self) {
        self.completed = true;
    }

    /// Whether [`complete`](Self::complete) was called.
    pub fn is_completed(&self) -> bool {
        self.completed
    }

    /// Lets events carrying `value` under `key` find this saga too.
    pub fn associate(&mut self, key: impl Into<String>, value: impl ToString) {
        self.associations.push((key.into(), value.to_string()));
    }

    /// The associations added in this call.
    pub fn associations(&self) -> &[(String, String)] {
        &self.associations
    }

    /// Delivers `event` to this saga's handler for its type at `due`,
    /// under `name` (which replaces an earlier deadline of that name).
    pub fn schedule_at<E: crate::Event>(
        &mut self,
        name: impl Into<String>,
        due: DateTime<Utc>,
        event: &E,
    ) -> Result<(), Error> {
        let event_type = event.event_type();
        let payload = event
            .encode(&crate::event::JsonSerializer)
            .map_err(|source| Error::Serialization {
                event_type: event_type.to_owned(),
                source,
            })?;
        let name = name.into();
        self.scheduled.retain(|d| d.name != name);
        self.scheduled.push(DeadlineRequest {
            name,
            due,
            event_type,
            schema_version: event.schema_version(),
            payload,
        });
        Ok(())
    }

    /// Like [`schedule_at`](Self::schedule_at), `after` from now.
    pub fn schedule_in<E: crate::Event>(
        &mut self,
        name: impl Into<String>,
        after: std::time::Duration,
        event: &E,
    ) -> Result<(), Error> {
        let after = chrono::Duration::from_std(after)
            .map_err(|e| Error::invalid("deadline", e.to_string()))?;
        self.schedule_at(name, self.now + after, event)
    }

    /// Cancels the deadline `name`, scheduled earlier or in this call.
    pub fn cancel(&mut self, name: &str) {
        self.scheduled.retain(|d| d.name != name);
        self.cancelled.push(name.to_owned());
    }

    /// The deadlines scheduled in this call.
    pub fn scheduled(&self) -> &[DeadlineRequest] {
        &self.scheduled
    }

    /// The deadlines cancelled in this call.
    pub fn cancelled(&self) -> &[String] {
        &self.cancelled
    }
}

/// How a command a saga sent failed, as the saga manager sees it.
#[derive(Debug, thiserror::Error)]
pub enum SagaCommandError {
    /// Retrying cannot help: the handler rejected the command, it was
    /// invalid, or no handler decodes it.
    #[error("command `{command}` failed: {source}")]
    Permanent {
        /// The command's name.
        command: String,
        /// Why.
        #[source]
        source: BoxError,
    },
    /// It may succeed later (the store was unavailable, a timeout, a
    /// conflict that outlived the bus's retries).
    #[error("command `{command}` failed for now: {source}")]
    Transient {
        /// The command's name.
        command: String,
        /// Why.
        #[source]
        source: BoxError,
    },
}

/// The future of one command a saga sends.
pub type SagaDispatchFuture = BoxFuture<'static, Result<CommandResult, SagaCommandError>>;

/// Sends a saga's commands through the command bus. The application
/// implements it; the saga layer never sees `Mink` itself.
pub trait SagaExecutor: Send + Sync + 'static {
    /// Dispatches `command` with `context` (which carries the idempotency
    /// key derived from the command's message id).
    fn send<C>(&self, command: C, context: Context) -> SagaDispatchFuture
    where
        C: Command,
        C::Aggregate: CommandRoute<C>;
}

/// A process manager: persisted state that reacts to events by sending
/// commands. `#[saga]` implements it on the state struct.
///
/// The state is `Self`, stored as JSON between events. Each handler takes
/// one event type; the events that may start a new saga are marked, and
/// each handler names the association (taken from the event) by which the
/// event finds its saga.
pub trait Saga: Default + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The saga type's unique, stable name.
    const NAME: &'static str;

    /// The saga's own enum over its handlers' event types.
    type Event: Send + 'static;

    /// The stable type names of every event its handlers take: the filter
    /// its manager reads the log with.
    fn event_types() -> Vec<&'static str>;

    /// Decodes `event` with the application's serializer (as an
    /// aggregate's load does) and finds its association. `Ok(None)` when no
    /// handler takes the event's type.
    fn route<S: Serializer>(
        event: &RecordedEvent,
        serializer: &S,
    ) -> Result<Option<Routed<Self::Event>>, Error>;

    /// Runs the handler of `event` on the state, returning the commands it
    /// sends. An error fails the saga (its completed steps are
    /// compensated).
    fn handle(
        &mut self,
        event: Self::Event,
        envelope: &RecordedEvent,
        context: &mut SagaContext,
    ) -> Result<Vec<OutgoingCommand>, BoxError>;

    /// The command that undoes `done`, a command this saga sent that
    /// succeeded, when the saga declares a compensation for its type.
    fn compensate(&self, done: &OutgoingCommand) -> Result<Option<OutgoingCommand>, BoxError>;

    /// Decodes a stored command by its name and sends it through `executor`.
    fn dispatch<X: SagaExecutor>(
        executor: &X,
        command: &OutgoingCommand,
        context: Context,
    ) -> SagaDispatchFuture;
}
