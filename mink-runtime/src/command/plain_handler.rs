//! Plain commands: handled by an `async fn` instead of an aggregate.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::context::Context;
use super::declaration::{Command, NoAggregate};
use crate::event::EventMetadata;
use crate::store::EventStore;

/// What a plain handler gets besides its command: the dispatch context and
/// the event store, to append events or read.
#[derive(Clone)]
pub struct HandlerContext {
    /// The dispatch context (correlation, causation, user, tenant).
    pub context: Context,
    /// The application's event store.
    pub store: Arc<dyn EventStore>,
}

impl std::fmt::Debug for HandlerContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandlerContext")
            .field("context", &self.context)
            .finish_non_exhaustive()
    }
}

impl HandlerContext {
    /// The metadata to put on events this handler appends: the dispatch's
    /// correlation id, the command as causation, user and tenant.
    pub fn event_metadata(&self) -> EventMetadata {
        self.context.event_metadata()
    }
}

/// A boxed future returned by plain handlers.
pub type HandlerFuture<E> = Pin<Box<dyn Future<Output = Result<(), E>> + Send + 'static>>;

/// `Self` (a plain command) has a handler function. Implemented by
/// `#[command_handler]` on an `async fn`.
#[diagnostic::on_unimplemented(
    message = "no handler for plain command `{Self}`",
    label = "no #[command_handler] function takes `{Self}`",
    note = "add `#[command_handler] async fn …(cmd: {Self}, ctx: mink::HandlerContext) -> Result<(), YourError>`, or give `{Self}` an aggregate with `#[command(aggregate = …)]`"
)]
pub trait PlainHandler: Command<Aggregate = NoAggregate> {
    /// The handler's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Runs the handler.
    fn handle(self, ctx: HandlerContext) -> HandlerFuture<Self::Error>;
}

/// What a plain handler returns: `Result<(), Error>`.
#[diagnostic::on_unimplemented(
    message = "a plain #[command_handler] returns `{Self}`",
    label = "expected `Result<(), YourError>`",
    note = "plain handlers return `Result<(), Error>` where `Error` implements std::error::Error"
)]
pub trait PlainOutput {
    /// The error type.
    type Error;
}

impl<E> PlainOutput for Result<(), E> {
    type Error = E;
}
