//! One `tracing` span per dispatch.

use std::time::Instant;

use futures::future::FutureExt;
use tower::Layer;
use tracing::Instrument;

use super::envelope::CommandEnvelope;
use super::middleware::{BusFuture, Middleware, MiddlewareService, Next};

/// Opens a `mink.dispatch` span per command with the fields `command`,
/// `aggregate_id`, `correlation_id`, `command_id`, and, when done,
/// `outcome` (`ok` or an error label) and `duration_ms`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingLayer;

impl<S> Layer<S> for TracingLayer {
    type Service = TracingService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MiddlewareService::new(inner, *self)
    }
}

/// The service of [`TracingLayer`].
pub type TracingService<S> = MiddlewareService<S, TracingLayer>;

impl Middleware for TracingLayer {
    fn handle(&self, envelope: CommandEnvelope, next: Next<'_>) -> BusFuture {
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
            next.run(envelope)
        };
        let record = span.clone();
        fut.instrument(span)
            .map(move |result| {
                let outcome = match &result {
                    Ok(_) => "ok",
                    Err(e) => e.outcome(),
                };
                record.record("outcome", outcome);
                record.record("duration_ms", started.elapsed().as_secs_f64() * 1e3);
                result
            })
            .boxed()
    }
}
