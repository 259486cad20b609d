//! Given / then for projections: given events with positions, the
//! projection's handlers run against in-memory read models, then the read
//! model holds what the test expects.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Map, Value};

use super::diff::{self, Item};
use crate::adapters::memory::InMemoryProjectionStore;
use crate::event::{Position, RecordedEvent};
use crate::projection::{HandlerError, Projection, ProjectionContext, ProjectionKind};
use crate::read_model::{Query, ReadModel, ReadModelRepository};
use crate::store::{CheckpointUpdate, ProjectionStore, RebuildStep};

/// A test of one projection: the events of the log (**given**, with their
/// positions), then what its read models hold (**then**).
///
/// Each event the projection handles runs in a transaction of its own, as
/// a batch of one: inline and async projections get a
/// [`MemoryTransaction`](crate::adapters::memory::MemoryTransaction) in
/// their context, and their writes through a repository bound to it
/// commit when the handler succeeds and roll back when it fails; live
/// projections get none. Events of types the projection does not list are
/// passed over, as the engine never reads them. The first failure stops the
/// run, as it stops a batch.
///
/// The projection writes where the test tells it to: build it with
/// repositories over an
/// [`InMemoryReadModels`](crate::adapters::memory::InMemoryReadModels), and
/// keep a clone of each repository to assert on.
///
/// `docs/tutorial/04-testing.md` has a whole example, compiled.
pub struct ProjectionFixture<P: Projection> {
    projection: P,
    given: Vec<RecordedEvent>,
}

impl<P: Projection> std::fmt::Debug for ProjectionFixture<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProjectionFixture")
            .field("projection", &self.projection.name())
            .field("given", &self.given.len())
            .finish()
    }
}

impl<P: Projection> ProjectionFixture<P> {
    /// A fixture for `projection`, with no event given yet.
    pub fn new(projection: P) -> Self {
        ProjectionFixture {
            projection,
            given: Vec::new(),
        }
    }

    /// Adds events of the log, in log order (an
    /// [`EventLog`](super::EventLog), or any stored events).
    pub fn given(mut self, events: impl IntoIterator<Item = RecordedEvent>) -> Self {
        self.given.extend(events);
        self
    }

    /// Runs the projection over the given events.
    ///
    /// # Panics
    ///
    /// When the given events are not in log order.
    pub async fn run(self) -> ProjectionOutcome<P> {
        let ProjectionFixture { projection, given } = self;
        let name = projection.name().to_owned();
        let kind = projection.kind();
        let handled: HashSet<&str> = projection.event_types().into_iter().collect();
        let store = InMemoryProjectionStore::default();
        let lease = store
            .acquire(&name, "mink-testing", Duration::from_secs(24 * 3600))
            .await
            .ok()
            .flatten()
            .expect("a fresh in-memory projection store grants the lease");
        let mut outcome = ProjectionOutcome {
            projection,
            applied: Vec::new(),
            passed_over: Vec::new(),
            checkpoint: Position::START,
            failure: None,
        };
        for event in given {
            assert!(
                event.position > outcome.checkpoint,
                "given events must be in log order: {} comes after {}",
                event.position,
                outcome.checkpoint
            );
            if !handled.contains(event.event_type.as_str()) {
                outcome.passed_over.push(event.position);
                continue;
            }
            let result = if kind == ProjectionKind::Live {
                let mut ctx = ProjectionContext::new(&name, kind, None);
                outcome.projection.handle(&event, &mut ctx).await
            } else {
                let mut batch = store
                    .begin(&lease)
                    .await
                    .expect("an in-memory projection store opens a batch");
                let handled = {
                    let mut ctx = ProjectionContext::new(&name, kind, Some(batch.transaction()));
                    outcome.projection.handle(&event, &mut ctx).await
                };
                match handled {
                    Ok(()) => {
                        batch
                            .commit(CheckpointUpdate {
                                from: outcome.checkpoint,
                                to: event.position,
                                applied: 1,
                                parked: Vec::new(),
                                rebuild: RebuildStep::None,
                            })
                            .await
                            .expect("the fixture holds the lease");
                        Ok(())
                    }
                    // Dropping the batch rolls its writes back.
                    Err(e) => Err(e),
                }
            };
            match result {
                Ok(()) => {
                    outcome.checkpoint = event.position;
                    outcome.applied.push(event.position);
                }
                Err(error) => {
                    outcome.failure = Some((event, error));
                    break;
                }
            }
        }
        outcome
    }

    /// Runs the projection, expects every event to apply, then expects
    /// `repo`'s table to hold exactly `expected` (in any order; compared by
    /// id, column by column).
    ///
    /// # Panics
    ///
    /// When a handler fails, or the table differs (with a diff).
    pub async fn then_read_model<M: ReadModel>(
        self,
        repo: &ReadModelRepository<M>,
        expected: impl IntoIterator<Item = M>,
    ) -> ProjectionOutcome<P> {
        let outcome = self.run().await;
        outcome.then_ok();
        outcome.then_read_model(repo, expected).await;
        outcome
    }
}

/// What a [`ProjectionFixture`] run did: the events applied, the
/// checkpoint reached, and the failure that stopped it, if any.
pub struct ProjectionOutcome<P> {
    projection: P,
    applied: Vec<Position>,
    passed_over: Vec<Position>,
    checkpoint: Position,
    failure: Option<(RecordedEvent, HandlerError)>,
}

impl<P: Projection> std::fmt::Debug for ProjectionOutcome<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProjectionOutcome")
            .field("projection", &self.projection.name())
            .field("applied", &self.applied)
            .field("passed_over", &self.passed_over)
            .field("checkpoint", &self.checkpoint)
            .field(
                "failure",
                &self.failure.as_ref().map(|(e, err)| (e.position, err)),
            )
            .finish()
    }
}

impl<P: Projection> ProjectionOutcome<P> {
    /// Every given event the projection handles applied.
    #[track_caller]
    pub fn then_ok(&self) -> &Self {
        if let Some((event, error)) = &self.failure {
            panic!(
                "projection `{}` failed on `{}` at {} (stream {} version {}): {error} ({:?})",
                self.projection.name(),
                event.event_type,
                event.position,
                event.stream_id,
                event.version,
                error.kind()
            );
        }
        self
    }

    /// The run stopped at the event at `position`, with an error that
    /// passes `check`; the read model keeps what the events before it
    /// wrote.
    #[track_caller]
    pub fn then_failed_at(
        &self,
        position: Position,
        check: impl FnOnce(&HandlerError) -> bool,
    ) -> &Self {
        match &self.failure {
            None => panic!(
                "projection `{}` was expected to fail at {position}, and applied every event",
                self.projection.name()
            ),
            Some((event, error)) => {
                if event.position != position {
                    panic!(
                        "projection `{}` failed at {} (`{}`: {error}), expected at {position}",
                        self.projection.name(),
                        event.position,
                        event.event_type
                    );
                }
                if !check(error) {
                    panic!(
                        "projection `{}` failed at {position} with {error} ({:?}), which does not pass the check",
                        self.projection.name(),
                        error.kind()
                    );
                }
            }
        }
        self
    }

    /// `repo`'s table holds exactly `expected`, in any order (rows are
    /// matched by id and compared column by column, with a diff).
    pub async fn then_read_model<M: ReadModel>(
        &self,
        repo: &ReadModelRepository<M>,
        expected: impl IntoIterator<Item = M>,
    ) -> &Self {
        let schema = M::schema();
        let actual = repo
            .find(Query::new())
            .await
            .unwrap_or_else(|e| panic!("reading the `{}` table: {e}", schema.table));
        let expected = rows_of(expected);
        let actual = rows_of(actual);
        if let Some(message) = diff::compare("row", &expected, &actual) {
            panic!(
                "after projection `{}`, the `{}` table differs:\n{message}",
                self.projection.name(),
                schema.table
            );
        }
        self
    }

    /// Positions of the events applied, in order.
    pub fn applied(&self) -> &[Position] {
        &self.applied
    }

    /// Positions of given events of types the projection does not handle.
    pub fn passed_over(&self) -> &[Position] {
        &self.passed_over
    }

    /// The checkpoint the run reached: the position of the last event
    /// applied.
    pub fn checkpoint(&self) -> Position {
        self.checkpoint
    }

    /// The event the run stopped at, with its error.
    pub fn failure(&self) -> Option<(&RecordedEvent, &HandlerError)> {
        self.failure.as_ref().map(|(e, err)| (e, err))
    }

    /// The projection, to run again or inspect.
    pub fn projection(&self) -> &P {
        &self.projection
    }
}

/// Rows as comparable items, sorted by id: a JSON object per row with a
/// key per column.
fn rows_of<M: ReadModel>(models: impl IntoIterator<Item = M>) -> Vec<Item> {
    let schema = M::schema();
    let mut items: Vec<(Value, Item)> = models
        .into_iter()
        .map(|model| {
            let row = model
                .to_row()
                .unwrap_or_else(|e| panic!("encoding a `{}` row: {e}", schema.model));
            let id = row.get(schema.id).cloned().unwrap_or(Value::Null);
            let mut object = Map::new();
            for (column, value) in schema.columns.iter().zip(row) {
                object.insert(column.name.to_owned(), value);
            }
            let kind = match &id {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (
                id,
                Item {
                    kind,
                    version: None,
                    data: Value::Object(object),
                },
            )
        })
        .collect();
    items.sort_by(|(a, _), (b, _)| id_order(a, b));
    items.into_iter().map(|(_, item)| item).collect()
}

fn id_order(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a.as_i64(), b.as_i64()) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => a.to_string().cmp(&b.to_string()),
    }
}
