//! A command on its way through the middleware stack, with its type erased
//! so that one stack serves every command.

use std::task::{Context as TaskContext, Poll};

use futures::future::BoxFuture;
use tower::Service;

use super::context::Context;
use super::validation::ValidationErrors;
use crate::command::CommandResult;
use crate::error::BoxError;

/// What the stack needs from a typed command.
pub(crate) trait ErasedCommand: Send + Sync {
    fn validate(&self) -> Result<(), ValidationErrors>;
    fn idempotency_key(&self) -> Option<String>;
    fn to_json(&self) -> Result<Vec<u8>, BoxError>;
    fn clone_box(&self) -> Box<dyn ErasedCommand>;
    fn execute(
        self: Box<Self>,
        context: Context,
    ) -> BoxFuture<'static, Result<CommandResult, BoxError>>;
}

/// Runs a typed command against the application it was dispatched on.
pub(crate) trait Executor<C>: Clone + Send + Sync + 'static {
    fn execute(
        &self,
        command: C,
        context: Context,
    ) -> BoxFuture<'static, Result<CommandResult, BoxError>>;
}

pub(crate) struct Typed<C, X> {
    pub(crate) command: C,
    pub(crate) executor: X,
}

impl<C, X> ErasedCommand for Typed<C, X>
where
    C: crate::command::Command,
    X: Executor<C>,
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
        Box::new(Typed {
            command: self.command.clone(),
            executor: self.executor.clone(),
        })
    }

    fn execute(
        self: Box<Self>,
        context: Context,
    ) -> BoxFuture<'static, Result<CommandResult, BoxError>> {
        let this = *self;
        this.executor.execute(this.command, context)
    }
}

/// A command with its context, as middleware see it.
///
/// Middleware read the name, aggregate id and [`Context`], may change the
/// context, validate, clone (to retry) or compute an idempotency key; the
/// innermost service executes it.
pub struct CommandEnvelope {
    name: &'static str,
    aggregate_id: String,
    context: Context,
    command: Box<dyn ErasedCommand>,
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
        }
    }
}

impl CommandEnvelope {
    pub(crate) fn new(
        name: &'static str,
        aggregate_id: String,
        context: Context,
        command: Box<dyn ErasedCommand>,
    ) -> Self {
        CommandEnvelope {
            name,
            aggregate_id,
            context,
            command,
        }
    }

    /// The command's name.
    pub fn command_name(&self) -> &'static str {
        self.name
    }

    /// The target aggregate's id.
    pub fn aggregate_id(&self) -> &str {
        &self.aggregate_id
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

    /// Loads the aggregate, runs the handler and appends its events.
    pub fn execute(self) -> BoxFuture<'static, Result<CommandResult, BoxError>> {
        self.command.execute(self.context)
    }
}

/// The innermost service: executes each envelope.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExecuteService;

impl Service<CommandEnvelope> for ExecuteService {
    type Response = CommandResult;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<CommandResult, BoxError>>;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, envelope: CommandEnvelope) -> Self::Future {
        envelope.execute()
    }
}
