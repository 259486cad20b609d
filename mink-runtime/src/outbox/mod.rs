//! The transactional outbox: messages written in the append's unit of
//! work, then relayed to publishers (webhooks, NATS JetStream, RabbitMQ, or
//! your own) with retries, per-key order and dead letters
//! (docs/adr/017-outbox.md, docs/guide/outbox.md).
//!
//! - [`Route`]s say which events become messages, for which publisher and
//!   destination, with an optional transform.
//! - [`OutboxEventStore`] wraps an event store so that every append writes
//!   its messages in its own transaction ([`OutboxWork`]): a conflict, or a
//!   failing transform ([`OutboxError`]), stores neither events nor
//!   messages.
//! - The [`Relay`] claims due messages, the oldest pending one of each key
//!   at a time, hands them to their [`Publisher`]s and records each
//!   message's result on its own.
//! - [`Outbox`] gathers routes, publishers and relay options for
//!   `MinkBuilder::outbox`.
//!
//! Layer: above [`crate::store`]; below the application.

mod error;
mod publisher;
pub mod publishers;
mod relay;
mod route;
mod work;

use std::sync::Arc;

pub use error::OutboxError;
pub use publisher::{OutboxMessage, PublishError, Publisher};
pub use relay::{
    OUTBOX_DEAD_LETTERED_TOTAL, OUTBOX_DELIVERED_TOTAL, OUTBOX_FAILED_TOTAL, OUTBOX_PENDING,
    OUTBOX_RELAY_LATENCY_SECONDS, Relay, RelayHandle, RelayOptions, RelayPass,
};
pub use route::{OutboxPayload, Route, Transform, message_id};
pub use work::{OutboxEventStore, OutboxWork, OutboxWriter};

use crate::error::{Error, Result};
use crate::store::EventStore;

/// An application's outbox: its routes, its publishers and how its relay
/// works. Give it to `MinkBuilder::outbox`, or [`attach`](Self::attach) it
/// to a store yourself.
///
/// # Examples
///
/// ```
/// use mink_runtime::outbox::{Outbox, RelayOptions, Route};
///
/// let outbox = Outbox::new()
///     .route(Route::for_type("OrderPlaced").to("webhook", "https://example.com/orders"))
///     .options(RelayOptions { batch_size: 500, ..RelayOptions::default() });
/// assert_eq!(outbox.routes().len(), 1);
/// ```
#[derive(Clone, Default)]
pub struct Outbox {
    routes: Vec<Route>,
    publishers: Vec<Arc<dyn Publisher>>,
    options: RelayOptions,
    relay: Option<bool>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("routes", &self.routes)
            .field(
                "publishers",
                &self.publishers.iter().map(|p| p.name()).collect::<Vec<_>>(),
            )
            .field("options", &self.options)
            .finish()
    }
}

/// An outbox attached to a store: the store that writes its messages, and
/// the relay that sends them (`None` when this instance runs none).
pub struct AttachedOutbox {
    /// Writes the routes' messages in every append's transaction.
    pub store: Arc<dyn EventStore>,
    /// Relays the messages, not yet started.
    pub relay: Option<Relay>,
}

impl std::fmt::Debug for AttachedOutbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttachedOutbox")
            .field("relay", &self.relay)
            .finish_non_exhaustive()
    }
}

impl Outbox {
    /// No routes, no publishers, default [`RelayOptions`].
    pub fn new() -> Self {
        Outbox::default()
    }

    /// Adds a route.
    pub fn route(mut self, route: Route) -> Self {
        self.routes.push(route);
        self
    }

    /// Adds a publisher, found by its [`name`](Publisher::name).
    pub fn publisher(mut self, publisher: impl Publisher) -> Self {
        self.publishers.push(Arc::new(publisher));
        self
    }

    /// Adds a publisher already shared elsewhere.
    pub fn shared_publisher(mut self, publisher: Arc<dyn Publisher>) -> Self {
        self.publishers.push(publisher);
        self
    }

    /// Sets how the relay works.
    pub fn options(mut self, options: RelayOptions) -> Self {
        self.options = options;
        self
    }

    /// Whether this instance runs a relay (default: when it has
    /// publishers). An instance without one only writes messages; another
    /// instance's relay sends them.
    pub fn run_relay(mut self, run: bool) -> Self {
        self.relay = Some(run);
        self
    }

    /// The routes, in the order added.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// Wraps `store` so that its appends write the routes' messages, and
    /// builds the relay.
    ///
    /// Fails with [`Error::Configuration`] when the store keeps no outbox,
    /// two routes share a name, a route has no publisher, or (when this
    /// instance runs a relay) a route's publisher was not given.
    pub fn attach(self, store: Arc<dyn EventStore>) -> Result<AttachedOutbox> {
        let outbox = store.outbox_store().ok_or_else(|| {
            Error::Configuration(
                "this event store keeps no outbox; use the memory, SQLite or PostgreSQL store"
                    .to_owned(),
            )
        })?;
        let mut names = std::collections::BTreeSet::new();
        for route in &self.routes {
            let name = route.name();
            if route.publisher().is_empty() {
                return Err(Error::Configuration(format!(
                    "outbox route `{name}` has no publisher; add `.to(publisher, destination)`"
                )));
            }
            if !names.insert(name.clone()) {
                return Err(Error::Configuration(format!(
                    "two outbox routes are named `{name}`; name one with `.named(…)`"
                )));
            }
        }
        let run_relay = self.relay.unwrap_or(!self.publishers.is_empty());
        let relay = if run_relay {
            let relay = Relay::new(Arc::clone(&outbox), self.publishers, self.options)?;
            if let Some(route) = self
                .routes
                .iter()
                .find(|r| !relay.has_publisher(r.publisher()))
            {
                return Err(Error::Configuration(format!(
                    "outbox route `{}` sends to publisher `{}`, which was not given; add it with `.publisher(…)`",
                    route.name(),
                    route.publisher()
                )));
            }
            Some(relay)
        } else {
            None
        };
        let writer = OutboxWriter::new(self.routes, outbox);
        Ok(AttachedOutbox {
            store: Arc::new(OutboxEventStore::new(store, writer)),
            relay,
        })
    }
}
