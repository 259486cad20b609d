//! Given / when / then for aggregates: past events, one command, then the
//! events, error or state it led to. No store, no runtime.

use super::events::assert_events_eq;
use crate::aggregate::{Aggregate, Event};
use crate::command::{Command, Handles};

/// A test of one aggregate: the events it already has (**given**), one
/// command (**when**), and what the handler decided (**then**).
///
/// The fixture folds the given events into a fresh aggregate whose id is
/// the command's, and calls the aggregate's `#[command_handler]` for the
/// command, as `Mink::dispatch` does after loading, without a store, a bus
/// or an async runtime. Validation rules run in the bus
/// (`ValidationLayer`), not in the handler: test them with
/// [`Command::validate`].
///
/// # Examples
///
/// ```rust,ignore
/// AggregateFixture::<Order>::given([OrderEvent::Created { customer_id: "c7".into() }])
///     .when(AddItem { order_id: "o1".into(), sku: "book".into(), qty: 2, price_cents: 1_250 })
///     .then_events([OrderEvent::ItemAdded { sku: "book".into(), qty: 2, price_cents: 1_250 }]);
/// ```
///
/// (`docs/tutorial/04-testing.md` has the whole example, compiled.)
pub struct AggregateFixture<A: Aggregate> {
    history: Vec<A::Event>,
}

impl<A: Aggregate> std::fmt::Debug for AggregateFixture<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let types: Vec<&str> = self.history.iter().map(Event::event_type).collect();
        f.debug_struct("AggregateFixture")
            .field("given", &types)
            .finish()
    }
}

impl<A: Aggregate> AggregateFixture<A> {
    /// The aggregate has these events, oldest first.
    pub fn given(events: impl IntoIterator<Item = A::Event>) -> Self {
        AggregateFixture {
            history: events.into_iter().collect(),
        }
    }

    /// The aggregate has no event yet: the command meets a new aggregate.
    pub fn given_nothing() -> Self {
        AggregateFixture {
            history: Vec::new(),
        }
    }

    /// Adds more given events after those already given.
    pub fn and(mut self, events: impl IntoIterator<Item = A::Event>) -> Self {
        self.history.extend(events);
        self
    }

    /// Runs the aggregate's handler for `command` on the aggregate rebuilt
    /// from the given events.
    ///
    /// # Panics
    ///
    /// When the command's id is not a valid id of the aggregate.
    #[track_caller]
    pub fn when<C>(self, command: C) -> AggregateOutcome<A, <A as Handles<C>>::Error>
    where
        C: Command,
        A: Handles<C>,
    {
        let mut state = A::default();
        if let Some(id) = command.aggregate_id()
            && let Err(e) = state.set_aggregate_id(&id)
        {
            panic!("`{id}` is not an id of this aggregate: {e}");
        }
        for event in &self.history {
            state.apply_event(event);
        }
        let result = state.handle(command);
        AggregateOutcome {
            command: C::NAME,
            state,
            applied: false,
            result,
        }
    }
}

/// What the handler decided, to assert on. Each `then_…` method panics with
/// a readable message (a coloured diff for events) and returns the outcome,
/// so that checks chain.
pub struct AggregateOutcome<A: Aggregate, E> {
    command: &'static str,
    state: A,
    /// Whether the produced events were folded into `state`.
    applied: bool,
    result: Result<Vec<A::Event>, E>,
}

impl<A: Aggregate, E: std::fmt::Debug> std::fmt::Debug for AggregateOutcome<A, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let result = self
            .result
            .as_ref()
            .map(|events| events.iter().map(Event::event_type).collect::<Vec<_>>());
        f.debug_struct("AggregateOutcome")
            .field("command", &self.command)
            .field("result", &result)
            .finish_non_exhaustive()
    }
}

impl<A: Aggregate, E: std::error::Error> AggregateOutcome<A, E> {
    /// The handler produced exactly these events, in order: same types,
    /// schema versions and fields.
    #[track_caller]
    pub fn then_events(self, expected: impl IntoIterator<Item = A::Event>) -> Self {
        let expected: Vec<A::Event> = expected.into_iter().collect();
        assert_events_eq(&expected, self.events());
        self
    }

    /// The handler accepted the command and produced no event.
    #[track_caller]
    pub fn then_no_events(self) -> Self {
        let types = self.types();
        if !types.is_empty() {
            panic!(
                "`{}` was expected to produce no event, and produced {types:?}",
                self.command
            );
        }
        self
    }

    /// The produced events' type names are these, in order.
    #[track_caller]
    pub fn then_event_types<'t>(self, expected: impl IntoIterator<Item = &'t str>) -> Self {
        let expected: Vec<&str> = expected.into_iter().collect();
        let actual = self.types();
        if expected != actual {
            panic!(
                "`{}` produced events of types {actual:?}, expected {expected:?}",
                self.command
            );
        }
        self
    }

    /// The handler produced `n` events.
    #[track_caller]
    pub fn then_event_count(self, n: usize) -> Self {
        let actual = self.types();
        if actual.len() != n {
            panic!(
                "`{}` produced {} event(s) {actual:?}, expected {n}",
                self.command,
                actual.len()
            );
        }
        self
    }

    /// The handler refused the command with an error that passes `check`,
    /// as in `then_error(|e| matches!(e, OrderError::Empty))` (or use
    /// [`then_error_matches!`](crate::then_error_matches), whose failure
    /// quotes the pattern).
    #[track_caller]
    pub fn then_error(self, check: impl FnOnce(&E) -> bool) -> Self {
        self.__then_error_described("the check", check)
    }

    /// The handler refused the command with an error whose message
    /// (`Display`) is `expected`.
    #[track_caller]
    pub fn then_error_message(self, expected: &str) -> Self {
        let error = self.error();
        let actual = error.to_string();
        if actual != expected {
            panic!(
                "`{}` was refused with `{actual}` ({error:?}), expected the message `{expected}`",
                self.command
            );
        }
        self
    }

    /// Used by [`then_error_matches!`](crate::then_error_matches).
    #[doc(hidden)]
    #[track_caller]
    pub fn __then_error_described(self, described: &str, check: impl FnOnce(&E) -> bool) -> Self {
        let error = self.error();
        if !check(error) {
            panic!(
                "`{}` was refused with {error:?} (`{error}`), which does not match {described}",
                self.command
            );
        }
        self
    }

    /// The aggregate, with the produced events folded in, passes `check`
    /// (write asserts in it).
    #[track_caller]
    pub fn then_state(mut self, check: impl FnOnce(&A)) -> Self {
        self.fold();
        check(&self.state);
        self
    }

    /// The produced events.
    ///
    /// # Panics
    ///
    /// When the handler refused the command.
    #[track_caller]
    pub fn events(&self) -> &[A::Event] {
        match &self.result {
            Ok(events) => events,
            Err(e) => panic!(
                "`{}` was expected to produce events, and was refused: {e:?} (`{e}`)",
                self.command
            ),
        }
    }

    /// The aggregate with the produced events folded in.
    #[track_caller]
    pub fn into_state(mut self) -> A {
        self.fold();
        self.state
    }

    /// What the handler returned.
    pub fn into_result(self) -> Result<Vec<A::Event>, E> {
        self.result
    }

    #[track_caller]
    fn error(&self) -> &E {
        match &self.result {
            Err(e) => e,
            Ok(events) => {
                let types: Vec<&str> = events.iter().map(Event::event_type).collect();
                panic!(
                    "`{}` was expected to be refused, and produced {types:?}",
                    self.command
                )
            }
        }
    }

    #[track_caller]
    fn types(&self) -> Vec<&'static str> {
        self.events().iter().map(Event::event_type).collect()
    }

    #[track_caller]
    fn fold(&mut self) {
        if self.applied {
            return;
        }
        let events = match &self.result {
            Ok(events) => events,
            Err(e) => panic!(
                "`{}` was refused ({e:?}): there is no state after it to check",
                self.command
            ),
        };
        for event in events {
            self.state.apply_event(event);
        }
        self.applied = true;
    }
}

/// Asserts that an [`AggregateOutcome`] is an error matching a pattern; the
/// failure message quotes the pattern.
///
/// ```rust,ignore
/// let outcome = AggregateFixture::<Order>::given_nothing().when(ShipOrder { id: "o1".into() });
/// then_error_matches!(outcome, OrderError::NotCreated(id) if id == "o1");
/// ```
#[macro_export]
macro_rules! then_error_matches {
    ($outcome:expr, $pattern:pat $(if $guard:expr)? $(,)?) => {
        $outcome.__then_error_described(
            ::core::concat!("`", ::core::stringify!($pattern $(if $guard)?), "`"),
            |error| ::core::matches!(error, $pattern $(if $guard)?),
        )
    };
}
