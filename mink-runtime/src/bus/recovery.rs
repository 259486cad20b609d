//! Turns a panicking handler into [`crate::DispatchError::Panicked`].

use std::panic::AssertUnwindSafe;

use futures::future::FutureExt;
use tower::Layer;

use super::envelope::CommandEnvelope;
use super::middleware::{BusFuture, Middleware, MiddlewareService, Next};
use crate::command::{CommandError, DispatchError};

/// Catches panics below it: the dispatch fails with
/// [`crate::DispatchError::Panicked`] and the bus keeps working.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecoveryLayer;

impl<S> Layer<S> for RecoveryLayer {
    type Service = RecoveryService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MiddlewareService::new(inner, *self)
    }
}

/// The service of [`RecoveryLayer`].
pub type RecoveryService<S> = MiddlewareService<S, RecoveryLayer>;

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

impl Middleware for RecoveryLayer {
    fn handle(&self, envelope: CommandEnvelope, next: Next<'_>) -> BusFuture {
        let command = envelope.command_name();
        let panicked = move |payload: Box<dyn std::any::Any + Send>| -> CommandError {
            let message = panic_message(&*payload);
            tracing::error!(command, %message, "command handler panicked");
            DispatchError::Panicked {
                command: command.to_owned(),
                message,
            }
        };
        // A panic can happen while building the future or while polling it.
        match std::panic::catch_unwind(AssertUnwindSafe(|| next.run(envelope))) {
            Ok(fut) => AssertUnwindSafe(fut)
                .catch_unwind()
                .map(move |r| r.unwrap_or_else(|p| Err(panicked(p))))
                .boxed(),
            Err(p) => futures::future::ready(Err(panicked(p))).boxed(),
        }
    }
}
