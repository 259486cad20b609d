//! Test fixtures: given / when / then for aggregates and projections,
//! event assertions with readable diffs, and throwaway test databases.
//!
//! Enabled by the `testing` feature; add it where the tests are:
//!
//! ```toml
//! [dev-dependencies]
//! mink = { version = "0.1", features = ["testing"] }
//! ```
//!
//! | to test | use |
//! | --- | --- |
//! | an aggregate's handlers, without store or runtime | [`AggregateFixture`]: `given(events).when(command).then_events([…])`, `then_error(…)`, `then_state(…)` |
//! | events a store holds | [`assert_recorded`]: count, types, typed events, metadata |
//! | two event lists | [`assert_events_eq`], [`assert_event_views_eq`] |
//! | a projection and its read model | [`EventLog`] of given events with positions, [`ProjectionFixture`]: `given(log).then_read_model(&repo, [rows…])` |
//! | a saga's handlers, without store or runtime | [`SagaFixture`]: `given(log).when(event).then_commands(…)`, `then_state(…)`, `then_completed()`, `compensate(command).then_command(…)` |
//! | code against PostgreSQL or SQLite | [`TestDatabase::postgres`] (a schema of its own, or a plain skip), [`TestDatabase::sqlite`] |
//!
//! Every comparison of events or rows goes through one differ: it lists
//! what differs by position, type and field (payloads and rows compared as
//! JSON values), then prints both sides as a coloured line diff.
//!
//! `docs/tutorial/04-testing.md` walks through each, on the e-commerce
//! example.
//!
//! # The shape of a fixture
//!
//! Each fixture reads the same way: **given** a history (events, with
//! positions where they matter), **when** one stimulus (a command; for a
//! projection, the history itself), **then** expectations on what came of
//! it (events, an error, state, read-model rows). The history types
//! ([`EventLog`], plain event lists) and the differ do not depend on the
//! fixture that uses them, so the saga fixture fits the same mould: given
//! the events it saw, when one more event arrives, then the commands it
//! sends (compared through the same differ, as JSON), the state it keeps
//! and whether it completed.
//!
//! Layer: on top of everything; nothing else in the runtime imports it.

mod aggregate;
#[cfg(any(feature = "postgres", feature = "sqlite"))]
mod database;
mod diff;
mod events;
mod projection;
mod saga;

pub use aggregate::{AggregateFixture, AggregateOutcome};
#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub use database::{POSTGRES_URL_VAR, TestDatabase};
pub use events::{
    EventLog, EventView, RecordedAssertions, assert_event_views_eq, assert_events_eq,
    assert_recorded,
};
pub use projection::{ProjectionFixture, ProjectionOutcome};
pub use saga::{CompensationOutcome, ExpectedCommands, SagaFixture, SagaOutcome, WHEN_STREAM};

#[doc(inline)]
pub use crate::then_error_matches;

/// Writes `skipped: {reason}` to stderr: the plain line by which a test
/// that could not run says so.
pub fn skip(reason: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "skipped: {reason}");
}
