//! One `tracing` span per dispatch.

use std::task::{Context as TaskContext, Poll};
use std::time::Instant;

use futures::future::{BoxFuture, FutureExt};
use tower::{Layer, Service};
use tracing::Instrument;

use super::envelope::CommandEnvelope;
use super::error::BusError;
use crate::command::CommandResult;
use crate::error::BoxError;

/// Opens a `mink.dispatch` span per command with the fields `command`,
/// `aggregate_id`, `correlation_id`, `command_id`, and, when done,
/// `outcome` (`ok` or an error label) and `duration_ms`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingLayer;

impl<S> Layer<S> for TracingLayer {
    type Service = TracingService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TracingService { inner }
    }
}

/// The service of [`TracingLayer`].
#[derive(Debug, Clone)]
pub struct TracingService<S> {
    inner: S,
}

impl<S> Service<CommandEnvelope> for TracingService<S>
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
        let ctx = envelope.context();
        let span = tracing::info_span!(
            "mink.dispatch",
            command = envelope.command_name(),
            aggregate_id = envelope.aggregate_id(),
            correlation_id = ctx.correlation_id.as_deref().unwrap_or(""),
            command_id = %ctx.command_id,
            outcome = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
        );
        let started = Instant::now();
        let fut = {
            let _enter = span.enter();
            self.inner.call(envelope)
        };
        let record = span.clone();
        fut.instrument(span)
            .map(move |result| {
                let outcome = match &result {
                    Ok(_) => "ok",
                    Err(e) => BusError::outcome(e),
                };
                record.record("outcome", outcome);
                record.record("duration_ms", started.elapsed().as_secs_f64() * 1e3);
                result
            })
            .boxed()
    }
}
