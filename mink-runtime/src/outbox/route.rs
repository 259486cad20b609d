//! Routes: which events become outbox messages, for which publisher and
//! destination, with what body.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use uuid::Uuid;

use crate::aggregate::Event;
use crate::error::BoxError;
use crate::event::RecordedEvent;

/// The namespace of message ids: a message's id is the UUIDv5 of its
/// event's id and its route's name in it.
const MESSAGE_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6d1f_5c0e_8a2b_4f37_9c41_0b7e_2d95_a3c8);

/// The id of the message that route `route` writes for event `event_id`:
/// the same every time, so a message sent twice carries one id.
///
/// # Examples
///
/// ```
/// use mink_runtime::outbox::message_id;
/// use uuid::Uuid;
///
/// let event = Uuid::now_v7();
/// assert_eq!(message_id(event, "orders"), message_id(event, "orders"));
/// assert_ne!(message_id(event, "orders"), message_id(event, "billing"));
/// ```
pub fn message_id(event_id: Uuid, route: &str) -> Uuid {
    let mut name = Vec::with_capacity(16 + 1 + route.len());
    name.extend_from_slice(event_id.as_bytes());
    // The event id has a fixed length, so no separator is needed.
    name.extend_from_slice(route.as_bytes());
    Uuid::new_v5(&MESSAGE_ID_NAMESPACE, &name)
}

/// What a route sends for one event: the body, its media type, headers and
/// the ordering key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxPayload {
    /// The body.
    pub payload: Vec<u8>,
    /// The body's media type.
    pub content_type: String,
    /// Extra headers for the publisher to pass on.
    pub headers: BTreeMap<String, String>,
    /// Messages with one key are delivered in the order they were written.
    pub key: String,
}

impl OutboxPayload {
    /// What a route without a transform sends: the event's payload and
    /// content type as stored, no headers, keyed by the event's stream.
    pub fn from_event(event: &RecordedEvent) -> Self {
        OutboxPayload {
            payload: event.payload.clone(),
            content_type: event.content_type.as_str().to_owned(),
            headers: BTreeMap::new(),
            key: event.stream_id.clone(),
        }
    }
}

/// Turns an event into what a route sends; an error fails the append.
pub type Transform =
    Arc<dyn Fn(&RecordedEvent) -> Result<OutboxPayload, BoxError> + Send + Sync + 'static>;

/// Which events a route takes.
#[derive(Clone)]
enum Matcher {
    /// Events of these stable type names.
    Types(Vec<String>),
    /// Events the closure accepts.
    Filter(Arc<dyn Fn(&RecordedEvent) -> bool + Send + Sync + 'static>),
}

/// One route of the outbox: the events it takes, the publisher and
/// destination their messages go to, and an optional transform.
///
/// The route's [name](Self::name) goes into every message id, so keep it
/// stable: renaming a route makes the messages of later events new ones.
///
/// # Examples
///
/// ```
/// use mink_runtime::outbox::{OutboxPayload, Route};
///
/// // Events of type `OrderPlaced`, as stored, to the `nats` publisher.
/// let placed = Route::for_type("OrderPlaced").to("nats", "orders.placed");
/// assert_eq!(placed.name(), "OrderPlaced>nats:orders.placed");
///
/// // Every event of the `order` category, keyed by customer, with a header.
/// let all = Route::filter("orders-to-webhook", |e| e.category() == "order")
///     .to("webhook", "https://example.com/hooks/orders")
///     .transform(|e| {
///         let mut message = OutboxPayload::from_event(e);
///         message.headers.insert("x-event-type".into(), e.event_type.clone());
///         Ok(message)
///     });
/// assert_eq!(all.publisher(), "webhook");
/// ```
#[derive(Clone)]
pub struct Route {
    name: Option<String>,
    matcher: Matcher,
    publisher: String,
    destination: String,
    transform: Option<Transform>,
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let matcher = match &self.matcher {
            Matcher::Types(types) => format!("types {types:?}"),
            Matcher::Filter(_) => "a filter".to_owned(),
        };
        f.debug_struct("Route")
            .field("name", &self.name())
            .field("matches", &matcher)
            .field("publisher", &self.publisher)
            .field("destination", &self.destination)
            .field("transform", &self.transform.is_some())
            .finish()
    }
}

impl Route {
    fn with(matcher: Matcher, name: Option<String>) -> Self {
        Route {
            name,
            matcher,
            publisher: String::new(),
            destination: String::new(),
            transform: None,
        }
    }

    /// A route for events of the stable type name `event_type`.
    pub fn for_type(event_type: impl Into<String>) -> Self {
        Route::with(Matcher::Types(vec![event_type.into()]), None)
    }

    /// A route for events of any of the stable type names `event_types`.
    pub fn for_types<I, T>(event_types: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        Route::with(
            Matcher::Types(event_types.into_iter().map(Into::into).collect()),
            None,
        )
    }

    /// A route for every stable type name of the event type `E` (every
    /// variant of an `#[event]` enum).
    pub fn for_event<E: Event>() -> Self {
        Route::for_types(E::EVENT_TYPES.iter().copied())
    }

    /// A route named `name` for the events `accept` returns `true` for.
    pub fn filter(
        name: impl Into<String>,
        accept: impl Fn(&RecordedEvent) -> bool + Send + Sync + 'static,
    ) -> Self {
        Route::with(Matcher::Filter(Arc::new(accept)), Some(name.into()))
    }

    /// Sends the messages with the publisher named `publisher`, to
    /// `destination` (a URL, a subject, an exchange…, as that publisher
    /// reads it).
    pub fn to(mut self, publisher: impl Into<String>, destination: impl Into<String>) -> Self {
        self.publisher = publisher.into();
        self.destination = destination.into();
        self
    }

    /// Names the route. Without a name, a route for types is named
    /// `<types>><publisher>:<destination>`.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Builds each message with `transform` rather than from the event as
    /// stored. When it fails, the append fails with
    /// [`OutboxError::TransformFailed`](super::OutboxError::TransformFailed)
    /// and nothing is stored.
    pub fn transform(
        mut self,
        transform: impl Fn(&RecordedEvent) -> Result<OutboxPayload, BoxError> + Send + Sync + 'static,
    ) -> Self {
        self.transform = Some(Arc::new(transform));
        self
    }

    /// The route's name, which goes into its messages' ids.
    pub fn name(&self) -> String {
        match (&self.name, &self.matcher) {
            (Some(name), _) => name.clone(),
            (None, Matcher::Types(types)) => {
                format!(
                    "{}>{}:{}",
                    types.join(","),
                    self.publisher,
                    self.destination
                )
            }
            (None, Matcher::Filter(_)) => format!("filter>{}:{}", self.publisher, self.destination),
        }
    }

    /// The name of the publisher its messages go to.
    pub fn publisher(&self) -> &str {
        &self.publisher
    }

    /// Where its messages go.
    pub fn destination(&self) -> &str {
        &self.destination
    }

    /// Whether the route takes `event`.
    pub fn matches(&self, event: &RecordedEvent) -> bool {
        match &self.matcher {
            Matcher::Types(types) => types.contains(&event.event_type),
            Matcher::Filter(accept) => accept(event),
        }
    }

    /// What the route sends for `event`.
    pub fn payload(&self, event: &RecordedEvent) -> Result<OutboxPayload, BoxError> {
        match &self.transform {
            Some(transform) => transform(event),
            None => Ok(OutboxPayload::from_event(event)),
        }
    }
}
