//! `#[projection]` without an engine: events appended to a real store, read
//! back, and handed to `Projection::handle` one by one, so each assertion is
//! about what the generated dispatch does.
//!
//! The projections here are not `Default`, so applications built by other
//! tests in this binary do not pick them up; event and projection names are
//! prefixed because both are global to the binary.

use std::sync::Mutex;

use mink::prelude::*;
use mink::projection::{
    FailureKind, HandlerError, Projection, ProjectionContext, ProjectionKind, Transient, registered,
};
use mink::{Error, Event, JsonSerializer, RecordedEvent};

#[event]
#[derive(Debug, Clone, PartialEq)]
pub enum TicketEvent {
    #[event(name = "projection_macro.Opened")]
    Opened { title: String },
    #[event(name = "projection_macro.Closed")]
    Closed { reason: String },
}

#[event(name = "projection_macro.Commented")]
#[derive(Debug, Clone, PartialEq)]
pub struct Commented {
    pub by: String,
    pub text: String,
}

#[event(name = "projection_macro.Escalated")]
#[derive(Debug, Clone, PartialEq)]
pub struct Escalated {
    pub level: u8,
}

#[event(name = "projection_macro.Archived")]
#[derive(Debug, Clone, PartialEq)]
pub struct Archived {
    pub shelf: String,
}

/// What a handler saw, in the order it saw it.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Ticket {
        event: TicketEvent,
        stream: String,
        projection: String,
        kind: ProjectionKind,
    },
    Comment(Commented),
    Escalation(u8),
    Archive {
        event: Archived,
        version: u64,
    },
    Reset,
}

#[derive(Debug, thiserror::Error)]
#[error("shelf `{0}` does not exist")]
pub struct NoSuchShelf(String);

/// A board of tickets, built from several event types with every handler
/// shape: async and plain methods, by reference and by value, with and
/// without the envelope and the context.
pub struct TicketBoard {
    seen: Mutex<Vec<Seen>>,
}

impl TicketBoard {
    fn new() -> Self {
        TicketBoard {
            seen: Mutex::new(Vec::new()),
        }
    }

    fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.seen.lock().expect("lock"))
    }
}

#[projection(name = "projection-macro-board", kind = inline)]
impl TicketBoard {
    async fn ticket(
        &self,
        event: &TicketEvent,
        envelope: &RecordedEvent,
        ctx: &mut ProjectionContext<'_>,
    ) -> Result<(), NoSuchShelf> {
        self.record(Seen::Ticket {
            event: event.clone(),
            stream: envelope.stream_id.clone(),
            projection: ctx.projection().to_owned(),
            kind: ctx.kind(),
        });
        Ok(())
    }

    fn commented(&self, event: Commented) {
        self.record(Seen::Comment(event));
    }

    async fn escalated(&self, event: &Escalated) -> Result<(), Transient> {
        if event.level > 2 {
            return Err(Transient::new("the pager is busy"));
        }
        self.record(Seen::Escalation(event.level));
        Ok(())
    }

    fn archived(&self, event: &Archived, envelope: &RecordedEvent) -> Result<(), NoSuchShelf> {
        if event.shelf.is_empty() {
            return Err(NoSuchShelf(event.shelf.clone()));
        }
        self.record(Seen::Archive {
            event: event.clone(),
            version: envelope.version,
        });
        Ok(())
    }

    #[projection(skip)]
    fn record(&self, seen: Seen) {
        self.seen.lock().expect("lock").push(seen);
    }

    #[projection(reset)]
    fn clear(&self) {
        self.take();
        self.record(Seen::Reset);
    }
}

/// An async projection with options, its name taken from the type.
pub struct EscalationStats {
    _private: (),
}

#[projection(kind = async, batch_size = 50, on_poison = pause, lease_ttl_ms = 2500)]
impl EscalationStats {
    async fn escalated(
        &self,
        _event: &Escalated,
        _ctx: &mut ProjectionContext<'_>,
    ) -> Result<(), Error> {
        Ok(())
    }
}

/// Appends `events` to `stream` and reads them back as the store recorded
/// them.
async fn recorded(store: &InMemoryStore, stream: &str, events: &[NewEvent]) -> Vec<RecordedEvent> {
    store
        .append_to_stream(stream, ExpectedVersion::Any, events.to_vec())
        .await
        .expect("append");
    store
        .read_stream_forward(stream, 1, 100)
        .await
        .expect("read")
}

fn new_event(event: &impl Event) -> NewEvent {
    event
        .to_new_event(&JsonSerializer, EventMetadata::default())
        .expect("encode")
}

async fn handle(projection: &dyn Projection, event: &RecordedEvent) -> Result<(), HandlerError> {
    let mut ctx = ProjectionContext::new(projection.name(), projection.kind(), None);
    projection.handle(event, &mut ctx).await
}

#[tokio::test]
async fn each_handler_gets_its_decoded_event_with_the_envelope_and_context_it_asks_for() {
    let store = InMemoryStore::new();
    let opened = TicketEvent::Opened {
        title: "printer on fire".into(),
    };
    let comment = Commented {
        by: "ada".into(),
        text: "have you tried water".into(),
    };
    let closed = TicketEvent::Closed {
        reason: "fixed".into(),
    };
    let archived = Archived {
        shelf: "2024".into(),
    };
    let events = recorded(
        &store,
        "ticket-1",
        &[
            new_event(&opened),
            new_event(&comment),
            new_event(&Escalated { level: 1 }),
            new_event(&closed),
            new_event(&archived),
        ],
    )
    .await;

    let board = TicketBoard::new();
    for event in &events {
        handle(&board, event).await.expect("handled");
    }

    let ticket = |event: TicketEvent| Seen::Ticket {
        event,
        stream: "ticket-1".into(),
        projection: "projection-macro-board".into(),
        kind: ProjectionKind::Inline,
    };
    assert_eq!(
        board.take(),
        vec![
            ticket(opened),
            Seen::Comment(comment),
            Seen::Escalation(1),
            ticket(closed),
            Seen::Archive {
                event: archived,
                version: 5
            },
        ]
    );
}

#[tokio::test]
async fn names_kinds_event_types_and_options_come_from_the_attribute() {
    let board = TicketBoard::new();
    assert_eq!(board.name(), "projection-macro-board");
    assert_eq!(board.kind(), ProjectionKind::Inline);
    assert_eq!(
        board.event_types(),
        vec![
            "projection_macro.Opened",
            "projection_macro.Closed",
            "projection_macro.Commented",
            "projection_macro.Escalated",
            "projection_macro.Archived",
        ]
    );
    assert_eq!(
        board.options(),
        mink::projection::ProjectionOptions::default()
    );

    let stats = EscalationStats { _private: () };
    assert_eq!(stats.name(), "escalation-stats");
    assert_eq!(stats.kind(), ProjectionKind::Async);
    assert_eq!(stats.event_types(), vec!["projection_macro.Escalated"]);
    let options = stats.options();
    assert_eq!(options.batch_size, 50);
    assert_eq!(options.on_poison, mink::projection::PoisonPolicy::Pause);
    assert_eq!(options.lease_ttl, std::time::Duration::from_millis(2500));
    let defaults = mink::projection::ProjectionOptions::default();
    assert_eq!(options.max_attempts, defaults.max_attempts);
    assert_eq!(options.batch_timeout, defaults.batch_timeout);
}

#[tokio::test]
async fn an_undecodable_payload_is_a_permanent_failure_with_a_typed_error() {
    let store = InMemoryStore::new();
    let events = recorded(
        &store,
        "ticket-2",
        &[new_event(&Commented {
            by: "ada".into(),
            text: "hello".into(),
        })],
    )
    .await;
    let mut broken = events[0].clone();
    broken.payload = b"{\"by\": 7".to_vec();

    let board = TicketBoard::new();
    let err = handle(&board, &broken).await.expect_err("undecodable");
    assert_eq!(err.kind(), FailureKind::Permanent);
    let source = err.into_source();
    match source.downcast_ref::<Error>() {
        Some(Error::Deserialization {
            event_type,
            stream,
            version,
            ..
        }) => {
            assert_eq!(event_type, "projection_macro.Commented");
            assert_eq!(stream, "ticket-2");
            assert_eq!(*version, 1);
        }
        other => panic!("expected Error::Deserialization, got {other:?}"),
    }
    assert!(board.take().is_empty(), "no handler ran");
}

#[tokio::test]
async fn an_event_of_a_type_no_handler_takes_is_a_permanent_unknown_type_failure() {
    let store = InMemoryStore::new();
    let mut events = recorded(&store, "ticket-3", &[new_event(&Escalated { level: 1 })]).await;
    events[0].event_type = "projection_macro.Nobody".into();

    let err = handle(&TicketBoard::new(), &events[0])
        .await
        .expect_err("unknown type");
    assert_eq!(err.kind(), FailureKind::Permanent);
    assert!(matches!(
        err.into_source().downcast_ref::<Error>(),
        Some(Error::UnknownEventType { event_type, .. }) if event_type == "projection_macro.Nobody"
    ));
}

#[tokio::test]
async fn handler_errors_are_classified() {
    let store = InMemoryStore::new();
    let events = recorded(
        &store,
        "ticket-4",
        &[
            new_event(&Escalated { level: 3 }),
            new_event(&Archived { shelf: "".into() }),
        ],
    )
    .await;
    let board = TicketBoard::new();

    let busy = handle(&board, &events[0]).await.expect_err("transient");
    assert_eq!(busy.kind(), FailureKind::Transient);
    assert!(busy.into_source().is::<Transient>());

    let missing = handle(&board, &events[1]).await.expect_err("permanent");
    assert_eq!(missing.kind(), FailureKind::Permanent);
    assert!(missing.into_source().is::<NoSuchShelf>());
    assert!(board.take().is_empty());
}

#[tokio::test]
async fn reset_calls_the_marked_method() {
    let board = TicketBoard::new();
    board.record(Seen::Escalation(9));
    let mut ctx = ProjectionContext::new("projection-macro-board", ProjectionKind::Inline, None);
    board.reset(&mut ctx).await.expect("reset");
    assert_eq!(board.take(), vec![Seen::Reset]);

    // Without a reset method, the trait's default does nothing.
    let stats = EscalationStats { _private: () };
    stats.reset(&mut ctx).await.expect("default reset");
}

#[test]
fn projections_are_registered_with_their_kind_and_declaration_site() {
    let board = registered()
        .find(|r| r.name == "projection-macro-board")
        .expect("the board is registered");
    assert_eq!(board.kind, ProjectionKind::Inline);
    assert!(board.rust_type.ends_with("::projection_macro::TicketBoard"));
    assert!(
        board
            .declared_at
            .starts_with("tests/tests/integration/projection_macro.rs:"),
        "{}",
        board.declared_at
    );
    let line: u32 = board
        .declared_at
        .rsplit(':')
        .next()
        .and_then(|l| l.parse().ok())
        .expect("a line number");
    assert!(line > 1);
    // Not `Default`: the application gets an instance instead.
    assert!((board.make)().is_none());

    let stats = registered()
        .find(|r| r.name == "escalation-stats")
        .expect("the stats are registered");
    assert_eq!(stats.kind, ProjectionKind::Async);
}

/// The macro expands inside a module that shadows the prelude names
/// generated code could lean on by accident.
mod shadowed {
    #![allow(dead_code, reason = "the shadowing items exist only to be in the way")]

    use mink::{event, projection};

    pub struct Result;
    pub struct Ok;
    pub struct Err;
    pub struct Option;
    pub struct Some;
    pub struct None;
    pub struct Vec;
    pub struct String;
    pub struct Box;
    pub struct Default;
    pub struct Arc;
    pub struct Duration;

    #[event(name = "projection_macro.hygiene.Noted")]
    pub struct Noted {
        pub text: ::std::string::String,
    }

    pub struct Notes;

    #[projection(
        name = "projection-macro-hygiene",
        kind = async,
        batch_size = 5,
        batch_timeout_ms = 10
    )]
    impl Notes {
        async fn noted(
            &self,
            _event: &Noted,
            _ctx: &mut ::mink::projection::ProjectionContext<'_>,
        ) -> ::core::result::Result<(), ::mink::Error> {
            ::core::result::Result::Ok(())
        }

        #[projection(reset)]
        async fn clear(&self) {}
    }
}

#[tokio::test]
async fn the_macro_expands_among_shadowed_names() {
    let notes = shadowed::Notes;
    assert_eq!(notes.name(), "projection-macro-hygiene");
    assert_eq!(notes.options().batch_size, 5);
    let store = InMemoryStore::new();
    let events = recorded(
        &store,
        "note-1",
        &[new_event(&shadowed::Noted { text: "hi".into() })],
    )
    .await;
    handle(&notes, &events[0]).await.expect("handled");
}
