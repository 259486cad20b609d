//! The layer that enforces each command's [`crate::Validate`] rules.

use futures::future::FutureExt;
use tower::Layer;

use super::envelope::CommandEnvelope;
use super::middleware::{BusFuture, Middleware, MiddlewareService, Next};
use crate::command::DispatchError;

/// Refuses invalid commands with [`DispatchError::Invalid`] before they reach
/// their handler.
#[derive(Debug, Clone, Copy, Default)]
pub struct ValidationLayer;

impl<S> Layer<S> for ValidationLayer {
    type Service = ValidationService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MiddlewareService::new(inner, *self)
    }
}

/// The service of [`ValidationLayer`].
pub type ValidationService<S> = MiddlewareService<S, ValidationLayer>;

impl Middleware for ValidationLayer {
    fn handle(&self, envelope: CommandEnvelope, next: Next<'_>) -> BusFuture {
        match envelope.validate() {
            Ok(()) => next.run(envelope),
            Err(v) => futures::future::ready(Err(DispatchError::Invalid(v))).boxed(),
        }
    }
}
