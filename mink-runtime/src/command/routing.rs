//! How a command reaches the code that executes it: [`CommandRoute`] picks
//! the handler kind at compile time, [`Execute`] (implemented by the
//! application) runs it.

use std::sync::Arc;

use futures::future::BoxFuture;

use super::aggregate_handler::Handles;
use super::context::Context;
use super::declaration::{Command, NoAggregate};
use super::outcome::{CommandError, CommandResult};
use super::plain_handler::PlainHandler;
use super::result_record::ResultRecord;

/// The future of one command's execution.
pub type ExecuteFuture = BoxFuture<'static, Result<CommandResult, CommandError>>;

/// What command routing needs from the application: load, handle and append
/// for aggregate commands; run the function for plain ones. `Mink`
/// implements it; the command layer never sees `Mink` itself.
pub trait Execute: Send + Sync + 'static {
    /// Loads the aggregate `aggregate_id`, runs its handler for `command`,
    /// and appends the events expecting the loaded version.
    /// With `record`, the command's result is recorded in the append
    /// transaction (see [`ResultRecord`]).
    fn execute_on_aggregate<C>(
        self: Arc<Self>,
        command: C,
        aggregate_id: String,
        context: Context,
        record: Option<Arc<ResultRecord>>,
    ) -> ExecuteFuture
    where
        C: Command,
        C::Aggregate: Handles<C>;

    /// Runs the plain handler of `command`.
    fn execute_plain<C: PlainHandler>(
        self: Arc<Self>,
        command: C,
        aggregate_id: Option<String>,
        context: Context,
    ) -> ExecuteFuture;
}

/// Where command `C` is executed: on an aggregate with a `Handles<C>` impl,
/// or by a plain handler function. Implemented by mink for both;
/// `Mink::dispatch` requires it, so a command without a handler does not
/// compile.
#[diagnostic::on_unimplemented(
    message = "no handler for command `{C}`",
    label = "no #[command_handler] takes `{C}`",
    note = "for a command of an aggregate, add `fn …(&self, cmd: {C}) -> Result<Vec<…>, YourError>` to a `#[command_handler] impl` block of that aggregate",
    note = "for a plain command (declared without `aggregate = …`), add `#[command_handler] async fn …(cmd: {C}, ctx: mink::HandlerContext) -> Result<(), YourError>`"
)]
pub trait CommandRoute<C: Command> {
    /// The handler's domain error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Sends `command` to its handler through `executor`.
    #[doc(hidden)]
    fn route<X: Execute>(
        executor: Arc<X>,
        command: C,
        aggregate_id: Option<String>,
        context: Context,
        record: Option<Arc<ResultRecord>>,
    ) -> ExecuteFuture;
}

impl<C, A> CommandRoute<C> for A
where
    C: Command<Aggregate = A>,
    A: Handles<C>,
{
    type Error = <A as Handles<C>>::Error;

    fn route<X: Execute>(
        executor: Arc<X>,
        command: C,
        aggregate_id: Option<String>,
        context: Context,
        record: Option<Arc<ResultRecord>>,
    ) -> ExecuteFuture {
        match aggregate_id {
            Some(id) => executor.execute_on_aggregate(command, id, context, record),
            // `#[command(aggregate = …)]` requires an id field, so only a
            // hand-written `Command` impl can get here.
            None => Box::pin(futures::future::ready(Err(CommandError::Store(
                crate::error::Error::invalid(
                    "aggregate_id",
                    format!("command `{}` names no aggregate id", C::NAME),
                ),
            )))),
        }
    }
}

impl<C: PlainHandler> CommandRoute<C> for NoAggregate {
    type Error = <C as PlainHandler>::Error;

    fn route<X: Execute>(
        executor: Arc<X>,
        command: C,
        aggregate_id: Option<String>,
        context: Context,
        _record: Option<Arc<ResultRecord>>,
    ) -> ExecuteFuture {
        // A plain handler appends on its own: its result is recorded by
        // the idempotency layer after it returns.
        executor.execute_plain(command, aggregate_id, context)
    }
}
