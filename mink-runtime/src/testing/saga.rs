//! Given / when / then for sagas: the events one saga has seen, one more
//! event, then the commands it sends, its state and whether it completed.
//! No store, no runtime.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::diff::{self, Item};
use super::events::EventLog;
use crate::aggregate::Event;
use crate::command::Command;
use crate::error::BoxError;
use crate::event::{JsonSerializer, RecordedEvent};
use crate::saga::{OutgoingCommand, Saga, SagaContext};

/// A test of one saga instance: the events it has handled (**given**), one
/// more event (**when**), and what its handler decided (**then**): the
/// commands it sends, its state, whether it completed.
///
/// Each event goes through the saga's generated `route` and `handle`, as
/// the saga manager runs them, decoded with [`JsonSerializer`], with a
/// fixed saga id and clock ([`at`](Self::at)). The fixture also holds
/// the saga to the manager's rules, and panics with a message saying which
/// rule an event breaks:
///
/// - the first event must be one that starts the saga
///   (`#[saga(start)]`);
/// - every later event must find this saga: its association must be one
///   the saga has (from its first event, or added with
///   `cx.associate(…)`);
/// - a saga that completed reacts to no more events;
/// - a given event must be handled without error.
///
/// # Examples
///
/// ```rust,ignore
/// SagaFixture::<Checkout>::given(
///     EventLog::new().append("order-o1", OrderPlaced { order_id: "o1".into(), total: 500 }),
/// )
/// .when(StockReserved { order_id: "o1".into() })
/// .then_commands(RequestPayment { payment_id: "pay-o1".into(), amount_cents: 500 })
/// .then_state(|s| assert!(s.reserved))
/// .then_not_completed();
/// ```
pub struct SagaFixture<S: Saga> {
    state: S,
    started: bool,
    /// The associations that find this saga: `(key, value)`.
    associations: Vec<(String, String)>,
    /// The type of the given event that completed the saga, if one did.
    completed_by: Option<String>,
    given: usize,
    now: DateTime<Utc>,
}

impl<S: Saga> std::fmt::Debug for SagaFixture<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SagaFixture")
            .field("saga", &S::NAME)
            .field("given", &self.given)
            .field("associations", &self.associations)
            .field("completed_by", &self.completed_by)
            .finish()
    }
}

/// The saga id every fixture's context carries.
const FIXTURE_SAGA_ID: Uuid = Uuid::from_u128(0x5a9a_0000_0000_7000_8000_0000_0000_0001);

/// The stream of the event [`SagaFixture::when`] delivers.
pub const WHEN_STREAM: &str = "saga_fixture-when";

impl<S: Saga> SagaFixture<S> {
    /// A saga that has seen nothing yet: the event of
    /// [`when`](Self::when) must start it.
    pub fn given_nothing() -> Self {
        SagaFixture {
            state: S::default(),
            started: false,
            associations: Vec::new(),
            completed_by: None,
            given: 0,
            now: EventLog::default_timestamp(),
        }
    }

    /// A saga that has handled these events, oldest first (an
    /// [`EventLog`], or any stored events). The commands they led to are
    /// not checked.
    ///
    /// # Panics
    ///
    /// When an event breaks one of the manager's rules (see the type's
    /// documentation).
    #[track_caller]
    pub fn given(events: impl IntoIterator<Item = RecordedEvent>) -> Self {
        Self::given_nothing().and(events)
    }

    /// Adds more given events after those already given.
    ///
    /// # Panics
    ///
    /// As [`given`](Self::given).
    #[track_caller]
    pub fn and(mut self, events: impl IntoIterator<Item = RecordedEvent>) -> Self {
        for event in events {
            let at = self.given;
            let step = self.step(&event, &format!("given event #{at}"));
            if let Err(e) = step.result {
                panic!(
                    "given event #{at} `{}` failed in saga `{}`: {e}",
                    event.event_type,
                    S::NAME
                );
            }
            if step.context.is_completed() {
                self.completed_by = Some(event.event_type.clone());
            }
            self.associations
                .extend(step.context.associations().iter().cloned());
            self.given += 1;
        }
        self
    }

    /// Sets the clock the handlers read through `cx.now()` (by default
    /// [`EventLog::default_timestamp`]), for deadlines.
    pub fn at(mut self, now: DateTime<Utc>) -> Self {
        self.now = now;
        self
    }

    /// Delivers `event` (on stream [`WHEN_STREAM`]) to the saga.
    ///
    /// # Panics
    ///
    /// When the saga does not take the event, or the event would not reach
    /// this saga (see the type's documentation).
    #[track_caller]
    pub fn when<E: Event>(self, event: E) -> SagaOutcome<S> {
        let recorded = EventLog::new()
            .at_time(self.now)
            .append(WHEN_STREAM, event)
            .into_events()
            .pop();
        match recorded {
            Some(recorded) => self.when_recorded(recorded),
            None => unreachable!("one event was appended"),
        }
    }

    /// Delivers a stored event, with its own envelope (stream, metadata,
    /// position).
    ///
    /// # Panics
    ///
    /// As [`when`](Self::when).
    #[track_caller]
    pub fn when_recorded(mut self, event: RecordedEvent) -> SagaOutcome<S> {
        let step = self.step(&event, "the `when` event");
        SagaOutcome {
            event_type: event.event_type,
            state: self.state,
            context: step.context,
            result: step.result,
        }
    }

    /// Asks the saga to undo `done`, a command it sent that succeeded, as
    /// the manager does after a later command failed.
    ///
    /// # Panics
    ///
    /// When `done` cannot be serialized.
    #[track_caller]
    pub fn compensate<C: Command>(self, done: C) -> CompensationOutcome {
        let done = OutgoingCommand::new(&done)
            .unwrap_or_else(|e| panic!("serializing `{}`: {e}", C::NAME));
        CompensationOutcome {
            done: done.name.clone(),
            result: self.state.compensate(&done),
        }
    }

    /// The state after the given events.
    pub fn state(&self) -> &S {
        &self.state
    }

    /// Routes and handles `event`, holding it to the manager's rules.
    #[track_caller]
    fn step(&mut self, event: &RecordedEvent, what: &str) -> Step {
        let saga = S::NAME;
        let event_type = &event.event_type;
        if let Some(by) = &self.completed_by {
            panic!(
                "{what} `{event_type}` comes after saga `{saga}` completed (on `{by}`): a completed saga reacts to no more events; the event would start a new saga or be ignored"
            );
        }
        let routed = match S::route(event, &JsonSerializer) {
            Ok(Some(routed)) => routed,
            Ok(None) => panic!(
                "saga `{saga}` has no handler for {what} `{event_type}`; it takes {:?}",
                S::event_types()
            ),
            Err(e) => panic!("{what} `{event_type}` does not decode: {e}"),
        };
        let association = (
            routed.association.key.to_owned(),
            routed.association.value.clone(),
        );
        if !self.started {
            if !routed.starts {
                panic!(
                    "{what} `{event_type}` does not start saga `{saga}`, and no saga has begun yet: give the starting event first, or mark the handler of `{event_type}` `#[saga(start, …)]`"
                );
            }
            self.started = true;
            self.associations.push(association);
        } else if !self.associations.contains(&association) {
            panic!(
                "{what} `{event_type}` finds its saga by {} = {:?}, and this saga is associated with {}: the event would not reach it",
                association.0,
                association.1,
                self.associations
                    .iter()
                    .map(|(k, v)| format!("{k} = {v:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let mut context = SagaContext::new(FIXTURE_SAGA_ID, self.now);
        let result = self.state.handle(routed.event, event, &mut context);
        Step { context, result }
    }
}

/// One handled event.
struct Step {
    context: SagaContext,
    result: Result<Vec<OutgoingCommand>, BoxError>,
}

/// What the saga's handler decided, to assert on. Each `then_…` method
/// panics with a readable message (a coloured diff for commands) and
/// returns the outcome, so that checks chain.
pub struct SagaOutcome<S: Saga> {
    event_type: String,
    state: S,
    context: SagaContext,
    result: Result<Vec<OutgoingCommand>, BoxError>,
}

impl<S: Saga> std::fmt::Debug for SagaOutcome<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let result = self
            .result
            .as_ref()
            .map(|commands| commands.iter().map(|c| c.name.as_str()).collect::<Vec<_>>());
        f.debug_struct("SagaOutcome")
            .field("saga", &S::NAME)
            .field("event", &self.event_type)
            .field("result", &result)
            .field("completed", &self.context.is_completed())
            .finish_non_exhaustive()
    }
}

impl<S: Saga> SagaOutcome<S> {
    /// The handler sent exactly these commands, in order: a command, an
    /// array or `Vec` of one type, or a tuple of different types. They are
    /// compared by name and fields (as JSON), with a diff on failure.
    #[track_caller]
    pub fn then_commands(self, expected: impl ExpectedCommands) -> Self {
        let items = expected_items(expected);
        let actual: Vec<Item> = self.commands().iter().map(command_item).collect();
        if let Some(message) = diff::compare("command", &items, &actual) {
            panic!(
                "the commands saga `{}` sent on `{}` differ:\n{message}",
                S::NAME,
                self.event_type
            );
        }
        self
    }

    /// The handler sent no command.
    #[track_caller]
    pub fn then_no_commands(self) -> Self {
        let names = self.names();
        if !names.is_empty() {
            panic!(
                "saga `{}` was expected to send nothing on `{}`, and sent {names:?}",
                S::NAME,
                self.event_type
            );
        }
        self
    }

    /// The sent commands' names are these, in order.
    #[track_caller]
    pub fn then_command_names<'t>(self, expected: impl IntoIterator<Item = &'t str>) -> Self {
        let expected: Vec<&str> = expected.into_iter().collect();
        let actual = self.names();
        if expected != actual {
            panic!(
                "saga `{}` sent {actual:?} on `{}`, expected {expected:?}",
                S::NAME,
                self.event_type
            );
        }
        self
    }

    /// The state after the handler passes `check` (write asserts in it).
    #[track_caller]
    pub fn then_state(self, check: impl FnOnce(&S)) -> Self {
        check(&self.state);
        self
    }

    /// The handler completed the saga (`cx.complete()`).
    #[track_caller]
    pub fn then_completed(self) -> Self {
        self.commands();
        if !self.context.is_completed() {
            panic!(
                "saga `{}` was expected to complete on `{}`, and did not: call `cx.complete()` in its handler",
                S::NAME,
                self.event_type
            );
        }
        self
    }

    /// The handler did not complete the saga.
    #[track_caller]
    pub fn then_not_completed(self) -> Self {
        self.commands();
        if self.context.is_completed() {
            panic!(
                "saga `{}` completed on `{}`, and was expected to go on",
                S::NAME,
                self.event_type
            );
        }
        self
    }

    /// The handler added the association `key` = `value`
    /// (`cx.associate(…)`).
    #[track_caller]
    pub fn then_associated(self, key: &str, value: &str) -> Self {
        let added = self.context.associations();
        if !added.iter().any(|(k, v)| k == key && v == value) {
            panic!(
                "saga `{}` was expected to associate {key} = {value:?} on `{}`; it added {added:?}",
                S::NAME,
                self.event_type
            );
        }
        self
    }

    /// The handler failed with an error that passes `check`; downcast it
    /// to the handler's error type: `then_error(|e| e.downcast_ref::<CheckoutError>().is_some())`.
    #[track_caller]
    pub fn then_error(self, check: impl FnOnce(&BoxError) -> bool) -> Self {
        let error = self.error();
        if !check(error) {
            panic!(
                "saga `{}` failed on `{}` with {error:?} (`{error}`), which does not pass the check",
                S::NAME,
                self.event_type
            );
        }
        self
    }

    /// The handler failed with an error whose message (`Display`) is
    /// `expected`.
    #[track_caller]
    pub fn then_error_message(self, expected: &str) -> Self {
        let error = self.error();
        let actual = error.to_string();
        if actual != expected {
            panic!(
                "saga `{}` failed on `{}` with `{actual}`, expected the message `{expected}`",
                S::NAME,
                self.event_type
            );
        }
        self
    }

    /// The sent commands, serialized.
    ///
    /// # Panics
    ///
    /// When the handler failed.
    #[track_caller]
    pub fn commands(&self) -> &[OutgoingCommand] {
        match &self.result {
            Ok(commands) => commands,
            Err(e) => panic!(
                "saga `{}` was expected to handle `{}`, and failed: {e}",
                S::NAME,
                self.event_type
            ),
        }
    }

    /// What the handler asked of its context: associations, deadlines,
    /// completion.
    pub fn context(&self) -> &SagaContext {
        &self.context
    }

    /// The state after the handler.
    pub fn into_state(self) -> S {
        self.state
    }

    #[track_caller]
    fn names(&self) -> Vec<&str> {
        self.commands().iter().map(|c| c.name.as_str()).collect()
    }

    #[track_caller]
    fn error(&self) -> &BoxError {
        match &self.result {
            Err(e) => e,
            Ok(commands) => panic!(
                "saga `{}` was expected to fail on `{}`, and sent {:?}",
                S::NAME,
                self.event_type,
                commands.iter().map(|c| c.name.as_str()).collect::<Vec<_>>()
            ),
        }
    }
}

/// What a compensation decided, to assert on.
pub struct CompensationOutcome {
    done: String,
    result: Result<Option<OutgoingCommand>, BoxError>,
}

impl std::fmt::Debug for CompensationOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let result = self
            .result
            .as_ref()
            .map(|undo| undo.as_ref().map(|c| c.name.as_str()));
        f.debug_struct("CompensationOutcome")
            .field("done", &self.done)
            .field("result", &result)
            .finish()
    }
}

impl CompensationOutcome {
    /// The compensation sends exactly this command, compared by name and
    /// fields.
    #[track_caller]
    pub fn then_command<C: Command>(self, expected: C) -> Self {
        let items = expected_items(expected);
        let actual: Vec<Item> = self.undo().into_iter().map(command_item).collect();
        if let Some(message) = diff::compare("command", &items, &actual) {
            panic!("the compensation of `{}` differs:\n{message}", self.done);
        }
        self
    }

    /// Nothing undoes the command: the saga has no compensation for its
    /// type, or the compensation returned `None`.
    #[track_caller]
    pub fn then_nothing(self) -> Self {
        if let Some(undo) = self.undo() {
            panic!(
                "`{}` was expected to need no compensation, and is undone by `{}`",
                self.done, undo.name
            );
        }
        self
    }

    /// The compensating command, serialized.
    ///
    /// # Panics
    ///
    /// When the compensation failed.
    #[track_caller]
    pub fn undo(&self) -> Option<&OutgoingCommand> {
        match &self.result {
            Ok(undo) => undo.as_ref(),
            Err(e) => panic!("the compensation of `{}` failed: {e}", self.done),
        }
    }
}

/// A sent command as the differ compares it: its name and its payload as
/// JSON (or, if the payload is not JSON, as text).
fn command_item(command: &OutgoingCommand) -> Item {
    Item {
        kind: command.name.clone(),
        version: None,
        data: serde_json::from_slice(&command.payload)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&command.payload).into())),
    }
}

/// The commands a test expects, of one type or several: a command, an
/// array or `Vec` of commands of one type, `()` for none, or a tuple of
/// commands of different types (up to eight).
pub trait ExpectedCommands {
    /// Appends each command's name and fields (as JSON), in order.
    fn push_commands(self, out: &mut Vec<(&'static str, Value)>);
}

/// The name and fields of one expected command.
fn expected<C: Command>(command: &C) -> (&'static str, Value) {
    let data = serde_json::to_value(command)
        .unwrap_or_else(|e| Value::String(format!("<not serializable as JSON: {e}>")));
    (C::NAME, data)
}

/// The expected commands, as the differ compares them.
fn expected_items(expected: impl ExpectedCommands) -> Vec<Item> {
    let mut commands = Vec::new();
    expected.push_commands(&mut commands);
    commands
        .into_iter()
        .map(|(name, data)| Item {
            kind: name.to_owned(),
            version: None,
            data,
        })
        .collect()
}

impl<C: Command> ExpectedCommands for C {
    fn push_commands(self, out: &mut Vec<(&'static str, Value)>) {
        out.push(expected(&self));
    }
}

impl<C: Command, const N: usize> ExpectedCommands for [C; N] {
    fn push_commands(self, out: &mut Vec<(&'static str, Value)>) {
        out.extend(self.iter().map(expected));
    }
}

impl<C: Command> ExpectedCommands for Vec<C> {
    fn push_commands(self, out: &mut Vec<(&'static str, Value)>) {
        out.extend(self.iter().map(expected));
    }
}

impl ExpectedCommands for () {
    fn push_commands(self, _out: &mut Vec<(&'static str, Value)>) {}
}

/// `ExpectedCommands` for tuples of commands.
macro_rules! expected_tuple {
    ($($c:ident),+) => {
        impl<$($c: Command),+> ExpectedCommands for ($($c,)+) {
            #[allow(non_snake_case, reason = "the bindings are named after their types")]
            fn push_commands(self, out: &mut Vec<(&'static str, Value)>) {
                let ($($c,)+) = self;
                $(out.push(expected(&$c));)+
            }
        }
    };
}

expected_tuple!(C1);
expected_tuple!(C1, C2);
expected_tuple!(C1, C2, C3);
expected_tuple!(C1, C2, C3, C4);
expected_tuple!(C1, C2, C3, C4, C5);
expected_tuple!(C1, C2, C3, C4, C5, C6);
expected_tuple!(C1, C2, C3, C4, C5, C6, C7);
expected_tuple!(C1, C2, C3, C4, C5, C6, C7, C8);
