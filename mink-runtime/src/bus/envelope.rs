//! A command on its way through the middleware stack, with its type erased
//! so that one stack serves every command.

use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use tower::Service;

use crate::command::{
    Command, CommandError, CommandResult, CommandRoute, Context, Execute, ExecuteFuture,
    ResultRecord, ValidationErrors,
};
use crate::error::BoxError;

/// What the stack needs from a typed command.
trait ErasedCommand: Send + Sync {
    fn validate(&self) -> Result<(), ValidationErrors>;
    fn idempotency_key(&self) -> Option<String>;
    fn to_json(&self) -> Result<Vec<u8>, BoxError>;
    fn clone_box(&self) -> Box<dyn ErasedCommand>;
    fn execute(
        self: Box<Self>,
        aggregate_id: Option<String>,
        context: Context,
        record: Option<Arc<ResultRecord>>,
    ) -> ExecuteFuture;
}

/// A command of type `C` with the application that executes it.
struct TypedCommand<C, X> {
    command: C,
    executor: Arc<X>,
}

impl<C, X> ErasedCommand for TypedCommand<C, X>
where
    C: Command,
    C::Aggregate: CommandRoute<C>,
    X: Execute,
{
    fn validate(&self) -> Result<(), ValidationErrors> {
        self.command.validate()
    }

    fn idempotency_key(&self) -> Option<String> {
        self.command.idempotency_key()
    }

    fn to_json(&self) -> Result<Vec<u8>, BoxError> {
        Ok(serde_json::to_vec(&self.command)?)
    }

    fn clone_box(&self) -> Box<dyn ErasedCommand> {
        Box::new(TypedCommand {
            command: self.command.clone(),
            executor: Arc::clone(&self.executor),
        })
    }

    fn execute(
        self: Box<Self>,
        aggregate_id: Option<String>,
        context: Context,
        record: Option<Arc<ResultRecord>>,
    ) -> ExecuteFuture {
        let this = *self;
        <C::Aggregate as CommandRoute<C>>::route(
            this.executor,
            this.command,
            aggregate_id,
            context,
            record,
        )
    }
}

/// A command with its context, as middleware see it.
///
/// Middleware read the name, aggregate id and [`Context`], may change the
/// context, validate, clone (to retry) or compute an idempotency key. Only
/// the innermost service of the bus executes it, so no middleware can skip
/// the layers inside it.
pub struct CommandEnvelope {
    name: &'static str,
    aggregate_id: Option<String>,
    context: Context,
    command: Box<dyn ErasedCommand>,
    /// Set by the idempotency layer: where the result is recorded.
    record: Option<Arc<ResultRecord>>,
}

impl std::fmt::Debug for CommandEnvelope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandEnvelope")
            .field("name", &self.name)
            .field("aggregate_id", &self.aggregate_id)
            .field("context", &self.context)
            .finish_non_exhaustive()
    }
}

impl Clone for CommandEnvelope {
    fn clone(&self) -> Self {
        CommandEnvelope {
            name: self.name,
            aggregate_id: self.aggregate_id.clone(),
            context: self.context.clone(),
            command: self.command.clone_box(),
            record: self.record.clone(),
        }
    }
}

impl CommandEnvelope {
    /// Wraps `command` for the bus; `executor` runs it at the bottom of the
    /// stack. The aggregate id is computed here, once per dispatch.
    pub(crate) fn new<C, X>(command: C, context: Context, executor: Arc<X>) -> Self
    where
        C: Command,
        C::Aggregate: CommandRoute<C>,
        X: Execute,
    {
        CommandEnvelope {
            name: C::NAME,
            aggregate_id: command.aggregate_id(),
            context,
            command: Box::new(TypedCommand { command, executor }),
            record: None,
        }
    }

    /// The command's name.
    pub fn command_name(&self) -> &'static str {
        self.name
    }

    /// The target aggregate's id (`None` for a plain command without one).
    pub fn aggregate_id(&self) -> Option<&str> {
        self.aggregate_id.as_deref()
    }

    /// The dispatch context.
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// The dispatch context, to change.
    pub fn context_mut(&mut self) -> &mut Context {
        &mut self.context
    }

    /// Runs the command's own validation rules.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        self.command.validate()
    }

    /// The key given in the context, else the command's own.
    pub fn explicit_idempotency_key(&self) -> Option<String> {
        self.context
            .idempotency_key
            .clone()
            .or_else(|| self.command.idempotency_key())
    }

    /// The command serialized as JSON.
    pub fn command_json(&self) -> Result<Vec<u8>, BoxError> {
        self.command.to_json()
    }

    /// Asks the execution to record the result in the append transaction.
    pub(crate) fn record_result_in(&mut self, record: Arc<ResultRecord>) {
        self.record = Some(record);
    }

    /// Loads the aggregate, runs the handler and appends its events.
    fn execute(self) -> ExecuteFuture {
        self.command
            .execute(self.aggregate_id, self.context, self.record)
    }
}

/// The innermost service: executes each envelope.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ExecuteService;

impl Service<CommandEnvelope> for ExecuteService {
    type Response = CommandResult;
    type Error = CommandError;
    type Future = ExecuteFuture;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), CommandError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, envelope: CommandEnvelope) -> Self::Future {
        envelope.execute()
    }
}
