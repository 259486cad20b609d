//! The shape shared by mink's simple layers: look at (or change) one
//! envelope, then either answer at once or run the rest of the stack and
//! look at its result. Each such layer implements [`Middleware`] and gets
//! its tower service, [`MiddlewareService`], from here.

use std::task::{Context as TaskContext, Poll};

use futures::future::FutureExt;
use tower::Service;

use super::envelope::CommandEnvelope;
use crate::command::{CommandError, CommandResult, ExecuteFuture};

/// The future every bus service returns.
pub type BusFuture = ExecuteFuture;

/// One step of the bus. `handle` receives the envelope and the rest of the
/// stack as [`Next`], which it may run (once) or skip.
pub trait Middleware: Clone + Send + Sync + 'static {
    /// Handles one command.
    fn handle(&self, envelope: CommandEnvelope, next: Next<'_>) -> BusFuture;
}

/// The rest of the stack below a [`Middleware`], to be run at most once.
pub struct Next<'a> {
    call: &'a mut (dyn FnMut(CommandEnvelope) -> BusFuture + Send),
}

impl std::fmt::Debug for Next<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Next").finish_non_exhaustive()
    }
}

impl Next<'_> {
    /// Passes the envelope on.
    pub fn run(self, envelope: CommandEnvelope) -> BusFuture {
        (self.call)(envelope)
    }
}

/// The tower service of middleware `M` around the inner service `S`.
#[derive(Debug, Clone)]
pub struct MiddlewareService<S, M> {
    inner: S,
    middleware: M,
}

impl<S, M> MiddlewareService<S, M> {
    /// Wraps `inner` in `middleware`.
    pub fn new(inner: S, middleware: M) -> Self {
        MiddlewareService { inner, middleware }
    }
}

impl<S, M> Service<CommandEnvelope> for MiddlewareService<S, M>
where
    S: Service<CommandEnvelope, Response = CommandResult, Error = CommandError> + Send,
    S::Future: Send + 'static,
    M: Middleware,
{
    type Response = CommandResult;
    type Error = CommandError;
    type Future = BusFuture;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), CommandError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, envelope: CommandEnvelope) -> BusFuture {
        let inner = &mut self.inner;
        let mut call = |e: CommandEnvelope| inner.call(e).boxed();
        self.middleware.handle(envelope, Next { call: &mut call })
    }
}

/// Takes the service `poll_ready` just readied, for a call that outlives
/// `&mut self`, and leaves a fresh clone in its place (tower's rule: only
/// the instance that was polled ready may be called).
pub(crate) fn take_ready<S: Clone>(inner: &mut S) -> S {
    let clone = inner.clone();
    std::mem::replace(inner, clone)
}
