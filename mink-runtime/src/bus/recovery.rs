//! Turns a panicking handler into [`BusError::Panicked`].

use std::panic::AssertUnwindSafe;
use std::task::{Context as TaskContext, Poll};

use futures::future::{BoxFuture, FutureExt};
use tower::{Layer, Service};

use super::envelope::CommandEnvelope;
use super::error::BusError;
use crate::command::CommandResult;
use crate::error::BoxError;

/// Catches panics below it: the dispatch fails with
/// [`BusError::Panicked`] and the bus keeps working.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecoveryLayer;

impl<S> Layer<S> for RecoveryLayer {
    type Service = RecoveryService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RecoveryService { inner }
    }
}

/// The service of [`RecoveryLayer`].
#[derive(Debug, Clone)]
pub struct RecoveryService<S> {
    inner: S,
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

impl<S> Service<CommandEnvelope> for RecoveryService<S>
where
    S: Service<CommandEnvelope, Response = CommandResult, Error = BoxError>,
    S::Future: Send + 'static,
{
    type Response = CommandResult;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<CommandResult, BoxError>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, envelope: CommandEnvelope) -> Self::Future {
        let command = envelope.command_name();
        let panicked = move |payload: Box<dyn std::any::Any + Send>| -> BoxError {
            let message = panic_message(&*payload);
            tracing::error!(command, %message, "command handler panicked");
            BusError::Panicked {
                command: command.to_owned(),
                message,
            }
            .into()
        };
        // A panic can happen while building the future or while polling it.
        match std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.call(envelope))) {
            Ok(fut) => AssertUnwindSafe(fut)
                .catch_unwind()
                .map(move |r| r.unwrap_or_else(|p| Err(panicked(p))))
                .boxed(),
            Err(p) => futures::future::ready(Err(panicked(p))).boxed(),
        }
    }
}
