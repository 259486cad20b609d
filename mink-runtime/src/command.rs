//! Commands, their handlers, and what dispatching one returns.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures::future::{BoxFuture, FutureExt};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::aggregate::{Aggregate, EventOf};
use crate::bus::ValidationErrors;
use crate::error::{BoxError, Error};

/// A request to change one aggregate. Implemented by `#[command]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a mink command",
    label = "not a command",
    note = "add `#[command(aggregate = …)]` to the definition of `{Self}`"
)]
pub trait Command: Clone + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The aggregate the command targets, or [`Plain`] for a command handled
    /// by a plain `#[command_handler]` function.
    type Aggregate;

    /// The command's name, for logs and errors.
    const NAME: &'static str;

    /// The id of the target aggregate, as text (empty for plain commands
    /// without an id field).
    fn aggregate_id(&self) -> String;

    /// The command's own rules; `#[command]` calls the type's
    /// [`crate::bus::Validate`] implementation when there is one.
    fn validate(&self) -> Result<(), ValidationErrors> {
        Ok(())
    }

    /// A key that makes repeats of this command idempotent;
    /// `#[command]` calls the type's [`IdempotencyKey`] implementation when
    /// there is one.
    fn idempotency_key(&self) -> Option<String> {
        None
    }
}

/// Gives a command an explicit idempotency key (see
/// [`crate::idempotency::IdempotencyLayer`]).
pub trait IdempotencyKey {
    /// The key, or `None` to fall back to the layer's strategy.
    fn idempotency_key(&self) -> Option<String>;
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

/// The target of commands handled by a plain function instead of an
/// aggregate: `#[command]` without `aggregate = …`. Never constructed.
#[derive(Debug, Clone, Copy)]
pub enum Plain {}

/// What a plain handler gets besides its command: the dispatch context and
/// the event store, to append events or read.
#[derive(Clone)]
pub struct HandlerContext {
    /// The dispatch context (correlation, causation, user, tenant).
    pub context: crate::bus::Context,
    /// The application's event store.
    pub store: Arc<dyn crate::store::EventStore>,
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
    pub fn event_metadata(&self) -> crate::event::EventMetadata {
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
pub trait PlainHandler: Command<Aggregate = Plain> {
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

/// Where a command is executed: on an aggregate with a `Handles<C>` impl, or
/// by a plain handler function. Implemented by mink for both; `dispatch`
/// requires it.
#[diagnostic::on_unimplemented(
    message = "no handler for command `{C}`",
    label = "no #[command_handler] takes `{C}`",
    note = "for a command of an aggregate, add `fn …(&self, cmd: {C}) -> Result<Vec<…>, YourError>` to a `#[command_handler] impl` block of that aggregate",
    note = "for a plain command (declared without `aggregate = …`), add `#[command_handler] async fn …(cmd: {C}, ctx: mink::HandlerContext) -> Result<(), YourError>`"
)]
pub trait Target<C: Command> {
    /// The handler's domain error.
    type Error: std::error::Error + Send + Sync + 'static;

    #[doc(hidden)]
    fn execute<S: crate::serializer::Serializer>(
        app: &crate::app::Mink<S>,
        command: C,
        context: crate::bus::Context,
    ) -> BoxFuture<'static, Result<CommandResult, BoxError>>;
}

impl<C, A> Target<C> for A
where
    C: Command<Aggregate = A>,
    A: Aggregate + Handles<C>,
{
    type Error = <A as Handles<C>>::Error;

    fn execute<S: crate::serializer::Serializer>(
        app: &crate::app::Mink<S>,
        command: C,
        context: crate::bus::Context,
    ) -> BoxFuture<'static, Result<CommandResult, BoxError>> {
        let app = app.clone();
        async move { app.execute_on_aggregate(command, context).await }.boxed()
    }
}

impl<C: PlainHandler> Target<C> for Plain {
    type Error = <C as PlainHandler>::Error;

    fn execute<S: crate::serializer::Serializer>(
        app: &crate::app::Mink<S>,
        command: C,
        context: crate::bus::Context,
    ) -> BoxFuture<'static, Result<CommandResult, BoxError>> {
        let id = command.aggregate_id();
        let ctx = HandlerContext {
            context,
            store: Arc::clone(app.store()),
        };
        command
            .handle(ctx)
            .map(move |r| match r {
                Ok(()) => Ok(CommandResult {
                    command: C::NAME.to_owned(),
                    aggregate_id: id,
                    stream_id: String::new(),
                    version: 0,
                    event_ids: Vec::new(),
                }),
                Err(e) => Err(crate::bus::BusError::Rejected(Box::new(e)).into()),
            })
            .boxed()
    }
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandResult {
    /// The command's name.
    pub command: String,
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

/// Why a dispatch failed, with the handler's own error type `E`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DispatchError<E> {
    /// The handler returned its domain error; nothing was written.
    #[error("command rejected: {0}")]
    Rejected(#[source] E),
    /// The command broke its validation rules; the handler did not run.
    #[error(transparent)]
    Invalid(ValidationErrors),
    /// The handler panicked (with a recovery layer installed).
    #[error("handler of `{command}` panicked: {message}")]
    Panicked {
        /// The command's name.
        command: String,
        /// The panic message.
        message: String,
    },
    /// A timeout layer gave up.
    #[error("command timed out")]
    TimedOut,
    /// A load-shedding layer refused the command.
    #[error("the command bus is overloaded")]
    Overloaded,
    /// A tenant layer requires a tenant id and the context had none.
    #[error("command `{command}` needs a tenant id")]
    TenantRequired {
        /// The command's name.
        command: String,
    },
    /// The same idempotency key is being processed.
    #[error("a command with idempotency key `{key}` is already in progress")]
    InProgress {
        /// The key.
        key: String,
    },
    /// Loading or appending failed; see [`Error`].
    #[error(transparent)]
    Store(#[from] Error),
    /// Another middleware failed.
    #[error("middleware error: {0}")]
    Middleware(#[source] BoxError),
}

impl<E> DispatchError<E> {
    /// The domain error, if the handler refused.
    pub fn rejected(&self) -> Option<&E> {
        match self {
            DispatchError::Rejected(e) => Some(e),
            _ => None,
        }
    }

    /// The store error, if the store failed.
    pub fn store(&self) -> Option<&Error> {
        match self {
            DispatchError::Store(e) => Some(e),
            _ => None,
        }
    }

    /// True when the store refused the append with a concurrency conflict.
    pub fn is_concurrency_conflict(&self) -> bool {
        self.store().is_some_and(Error::is_concurrency_conflict)
    }
}
