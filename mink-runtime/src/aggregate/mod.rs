//! Events and aggregates as the macros describe them, and the runtime's
//! tracking of versions and uncommitted events.

mod cache;

use std::ops::Deref;

pub use cache::{
    AGGREGATE_CACHE_ENTRIES, AGGREGATE_CACHE_EVICTIONS_TOTAL, AGGREGATE_CACHE_LOADS_TOTAL,
    AggregateCache,
};

use crate::error::{BoxError, Error, Result};
use crate::event::{ContentType, JsonSerializer, Serializer};
use crate::event::{EventMetadata, NewEvent, RecordedEvent, stream_id_for};

/// A domain event type: an enum with one event per variant, or a struct.
///
/// Implemented by `#[event]`; write it by hand only for unusual encodings.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a mink event type",
    label = "not an event",
    note = "add `#[mink::event]` to the definition of `{Self}`"
)]
pub trait Event: Sized + Send + Sync + 'static {
    /// Every stable type name this Rust type can produce.
    const EVENT_TYPES: &'static [&'static str];

    /// The content type of every payload of this type, when the type fixes
    /// its own format: `#[event(protobuf)]` sets
    /// [`ContentType::PROTOBUF`]. `None`, the default, leaves the format to
    /// the application's serializer.
    const CONTENT_TYPE: Option<ContentType> = None;

    /// The stable type name of this value.
    fn event_type(&self) -> &'static str;

    /// The schema version of this value's payload.
    fn schema_version(&self) -> u32;

    /// Serializes the payload (without the type name).
    fn encode<S: Serializer>(&self, serializer: &S) -> Result<Vec<u8>, BoxError>;

    /// Rebuilds a value from a stored type name and payload. `Ok(None)` means
    /// the type name is not one of [`Event::EVENT_TYPES`].
    fn decode<S: Serializer>(
        event_type: &str,
        schema_version: u32,
        payload: &[u8],
        serializer: &S,
    ) -> Result<Option<Self>, BoxError>;

    /// Serializes into a [`NewEvent`] with a fresh id, recording the
    /// payload's content type: the type's own ([`Event::CONTENT_TYPE`]) or
    /// the serializer's.
    fn to_new_event<S: Serializer>(
        &self,
        serializer: &S,
        metadata: EventMetadata,
    ) -> Result<NewEvent> {
        let event_type = self.event_type();
        let payload = self
            .encode(serializer)
            .map_err(|source| Error::Serialization {
                event_type: event_type.to_owned(),
                source,
            })?;
        let content_type = match Self::CONTENT_TYPE {
            Some(own) => own,
            None => serializer.content_type(),
        };
        Ok(NewEvent::new(event_type, payload)
            .with_schema_version(self.schema_version())
            .with_content_type(content_type)
            .with_metadata(metadata))
    }

    /// Rebuilds a value from a stored event, with typed errors naming it.
    ///
    /// The payload is decoded in the format its content type names, so one
    /// log may hold several: the type's own format
    /// ([`Event::CONTENT_TYPE`]), else `serializer` when the content type is
    /// its, else JSON for any JSON content type
    /// ([`ContentType::is_json`]), else MessagePack with the `msgpack`
    /// feature. Any other content type is
    /// [`Error::UnsupportedContentType`].
    fn from_recorded<S: Serializer>(event: &RecordedEvent, serializer: &S) -> Result<Self> {
        let decoded = match &Self::CONTENT_TYPE {
            Some(own) if *own == event.content_type => Some(Self::decode(
                &event.event_type,
                event.schema_version,
                &event.payload,
                serializer,
            )),
            Some(_) => None,
            None => decode_in_stored_format::<Self, S>(event, serializer),
        };
        let Some(decoded) = decoded else {
            return Err(Error::UnsupportedContentType {
                content_type: event.content_type.to_string(),
                event_type: event.event_type.clone(),
                stream: event.stream_id.clone(),
                version: event.version,
            });
        };
        match decoded {
            Ok(Some(e)) => Ok(e),
            Ok(None) => Err(Error::UnknownEventType {
                event_type: event.event_type.clone(),
                stream: event.stream_id.clone(),
                version: event.version,
            }),
            Err(source) => Err(Error::Deserialization {
                event_type: event.event_type.clone(),
                stream: event.stream_id.clone(),
                version: event.version,
                event_id: event.event_id,
                source,
            }),
        }
    }
}

/// Decodes `event` with the serde format its content type names: the
/// application's `serializer`, JSON (any JSON content type), or MessagePack
/// (feature `msgpack`); `None` when it names none of them.
fn decode_in_stored_format<E: Event, S: Serializer>(
    event: &RecordedEvent,
    serializer: &S,
) -> Option<Result<Option<E>, BoxError>> {
    let (event_type, version, payload) = (&event.event_type, event.schema_version, &event.payload);
    if event.content_type == serializer.content_type() {
        return Some(E::decode(event_type, version, payload, serializer));
    }
    if event.content_type.is_json() {
        return Some(E::decode(event_type, version, payload, &JsonSerializer));
    }
    #[cfg(feature = "msgpack")]
    if event.content_type == ContentType::MSGPACK {
        let msgpack = crate::event::MessagePackSerializer;
        return Some(E::decode(event_type, version, payload, &msgpack));
    }
    None
}

/// A consistency boundary whose state is the fold of its events.
///
/// Implemented by `#[derive(Aggregate)]`, which calls the aggregate's own
/// `fn apply(&mut self, event: &Event)`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a mink aggregate",
    label = "not an aggregate",
    note = "add `#[derive(Aggregate)]` and `#[aggregate(events = …, category = \"…\")]` to `{Self}`"
)]
pub trait Aggregate: Default + Send + Sync + 'static {
    /// The aggregate's event type.
    type Event: Event;

    /// The stream category: stream ids are `category-id`.
    const CATEGORY: &'static str;

    /// The aggregate's id, as text.
    fn aggregate_id(&self) -> String;

    /// Sets the id field from text.
    fn set_aggregate_id(&mut self, id: &str) -> Result<()>;

    /// Folds one event into the state.
    fn apply_event(&mut self, event: &Self::Event);

    /// The stream id of the aggregate with this id.
    fn stream_id(id: &str) -> String {
        stream_id_for(Self::CATEGORY, id)
    }

    /// A copy of the state, for the [`AggregateCache`]; `None` (the
    /// default) when the type cannot be copied, which leaves it uncached.
    /// `#[derive(Aggregate)]` returns a clone when the type is `Clone`.
    fn clone_state(&self) -> Option<Self> {
        None
    }
}

/// Marks `Self` as an event type of aggregate `A`. `#[derive(Aggregate)]`
/// implements it for the aggregate's own event type only, so a handler that
/// returns another aggregate's events does not compile.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not the event type of aggregate `{A}`",
    label = "this handler returns events that belong to another aggregate",
    note = "a handler on `{A}` must return `{A}`'s events, the type named in its `#[aggregate(events = …)]`; move the handler to the aggregate that owns `{Self}`, or return `{A}`'s events"
)]
pub trait EventOf<A: Aggregate> {
    /// The identity conversion into the aggregate's event type.
    fn into_aggregate_event(self) -> A::Event;
}

/// An aggregate with the runtime's bookkeeping: its id, the version it was
/// loaded at, and the events recorded since. User types hold none of this.
#[derive(Debug, Clone)]
pub struct Tracked<A: Aggregate> {
    state: A,
    id: String,
    stream_id: String,
    version: u64,
    uncommitted: Vec<A::Event>,
}

impl<A: Aggregate> Tracked<A> {
    /// A fresh aggregate (version 0) with its id field set.
    pub fn new(id: &str) -> Result<Self> {
        let mut state = A::default();
        state.set_aggregate_id(id)?;
        Ok(Tracked {
            state,
            id: id.to_owned(),
            stream_id: A::stream_id(id),
            version: 0,
            uncommitted: Vec::new(),
        })
    }

    /// A cached state at `version`, with nothing unsaved.
    pub(crate) fn cached(state: A, id: &str, stream_id: &str, version: u64) -> Self {
        Tracked {
            state,
            id: id.to_owned(),
            stream_id: stream_id.to_owned(),
            version,
            uncommitted: Vec::new(),
        }
    }

    /// Folds a stored event in, advancing the loaded version.
    pub fn replay(&mut self, event: &A::Event, version: u64) {
        self.state.apply_event(event);
        self.version = version;
    }

    /// Applies a new event and keeps it for the next save.
    pub fn record(&mut self, event: A::Event) {
        self.state.apply_event(&event);
        self.uncommitted.push(event);
    }

    /// The aggregate's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The aggregate's stream id.
    pub fn stream_id(&self) -> &str {
        &self.stream_id
    }

    /// The version of the last stored event folded in (0: none).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Events recorded and not yet saved.
    pub fn uncommitted(&self) -> &[A::Event] {
        &self.uncommitted
    }

    /// The state.
    pub fn state(&self) -> &A {
        &self.state
    }

    /// Takes the uncommitted events out (used by saving).
    pub(crate) fn take_uncommitted(&mut self) -> Vec<A::Event> {
        std::mem::take(&mut self.uncommitted)
    }

    /// Marks saved events as committed at `version`.
    pub(crate) fn committed(&mut self, version: u64) {
        self.version = version;
        self.uncommitted.clear();
    }

    /// Puts unsaved events back after a failed save.
    pub(crate) fn restore_uncommitted(&mut self, events: Vec<A::Event>) {
        self.uncommitted = events;
    }

    /// Returns the state, dropping the bookkeeping.
    pub fn into_inner(self) -> A {
        self.state
    }
}

impl<A: Aggregate> Deref for Tracked<A> {
    type Target = A;

    fn deref(&self) -> &A {
        &self.state
    }
}
