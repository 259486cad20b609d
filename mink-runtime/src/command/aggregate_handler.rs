//! Handlers on aggregates: the traits `#[command_handler]` implements on an
//! `impl` block.

use super::declaration::Command;
use crate::aggregate::{Aggregate, EventOf};

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
