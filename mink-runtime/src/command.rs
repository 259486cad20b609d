//! Commands, their handlers, and what dispatching one returns.

use uuid::Uuid;

use crate::aggregate::{Aggregate, EventOf};
use crate::error::Error;

/// A request to change one aggregate. Implemented by `#[command]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a mink command",
    label = "not a command",
    note = "add `#[command(aggregate = …)]` to the definition of `{Self}`"
)]
pub trait Command: Send + 'static {
    /// The aggregate the command targets.
    type Aggregate: Aggregate;

    /// The command's name, for logs and errors.
    const NAME: &'static str;

    /// The id of the target aggregate, as text.
    fn aggregate_id(&self) -> String;
}

/// Marks `Self` as a command of aggregate `A`. `#[command(aggregate = A)]`
/// implements it, so a handler on another aggregate does not compile.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a command of aggregate `{A}`",
    label = "a #[command_handler] on `{A}` takes this type",
    note = "give `{Self}` the attribute `#[command(aggregate = {A})]`, or move this handler into a `#[command_handler] impl` of the aggregate its `#[command(aggregate = …)]` names"
)]
pub trait CommandFor<A: Aggregate>: Command {}

/// `Self` has a handler for command `C`. Implemented by `#[command_handler]`,
/// once per handler method.
#[diagnostic::on_unimplemented(
    message = "no handler for command `{C}` on aggregate `{Self}`",
    label = "`{Self}` has no #[command_handler] method taking `{C}`",
    note = "add `fn …(&self, cmd: {C}) -> Result<Vec<…>, YourError>` to a `#[command_handler] impl {Self}` block"
)]
pub trait Handles<C: Command>: Aggregate {
    /// The domain error the handler returns.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Decides which events the command produces, without changing state.
    fn handle(&self, command: C) -> Result<Vec<Self::Event>, Self::Error>;
}

/// What a handler method may return: `Result<Vec<E>, Error>` where `E` is the
/// aggregate's event type.
#[diagnostic::on_unimplemented(
    message = "a #[command_handler] method on `{A}` returns `{Self}`",
    label = "expected `Result<Vec<…>, YourError>`",
    note = "handler methods return `Result<Vec<E>, Error>` where `E` is `{A}`'s event type and `Error` implements std::error::Error"
)]
pub trait HandlerOutput<A: Aggregate> {
    /// The error type.
    type Error;

    /// The events, as the aggregate's event type.
    fn into_events(self) -> Result<Vec<A::Event>, Self::Error>;
}

impl<A, E, Err> HandlerOutput<A> for Result<Vec<E>, Err>
where
    A: Aggregate,
    E: EventOf<A>,
{
    type Error = Err;

    fn into_events(self) -> Result<Vec<A::Event>, Err> {
        self.map(|events| events.into_iter().map(E::into_aggregate_event).collect())
    }
}

/// What a successful dispatch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandResult {
    /// The command's name.
    pub command: &'static str,
    /// The target aggregate.
    pub aggregate_id: String,
    /// Its stream.
    pub stream_id: String,
    /// The stream version after the command (unchanged if it produced no
    /// events).
    pub version: u64,
    /// Ids of the events written, in order.
    pub event_ids: Vec<Uuid>,
}

/// Why a dispatch failed: the handler refused the command, or the store did.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError<E> {
    /// The handler returned its domain error; nothing was written.
    #[error("command rejected: {0}")]
    Rejected(#[source] E),
    /// Loading or appending failed; see [`Error`].
    #[error(transparent)]
    Store(#[from] Error),
}

impl<E> DispatchError<E> {
    /// The domain error, if the handler refused.
    pub fn rejected(&self) -> Option<&E> {
        match self {
            DispatchError::Rejected(e) => Some(e),
            DispatchError::Store(_) => None,
        }
    }

    /// The store error, if the store failed.
    pub fn store(&self) -> Option<&Error> {
        match self {
            DispatchError::Store(e) => Some(e),
            DispatchError::Rejected(_) => None,
        }
    }
}
