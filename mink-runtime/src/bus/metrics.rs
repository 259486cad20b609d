//! Counts and durations per command and outcome, through the `metrics`
//! facade (install any recorder, such as a Prometheus exporter).

use std::task::{Context as TaskContext, Poll};
use std::time::Instant;

use futures::future::{BoxFuture, FutureExt};
use tower::{Layer, Service};

use super::envelope::CommandEnvelope;
use super::error::BusError;
use crate::command::CommandResult;
use crate::error::BoxError;

/// Name of the counter of dispatched commands (labels `command`, `outcome`).
pub const COMMANDS_TOTAL: &str = "mink_commands_total";
/// Name of the histogram of dispatch durations in seconds (labels `command`,
/// `outcome`).
pub const COMMAND_DURATION_SECONDS: &str = "mink_command_duration_seconds";

/// Records [`COMMANDS_TOTAL`] and [`COMMAND_DURATION_SECONDS`] for every
/// dispatch.
#[derive(Debug, Clone, Copy, Default)]
pub struct MetricsLayer;

impl<S> Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MetricsService { inner }
    }
}

/// The service of [`MetricsLayer`].
#[derive(Debug, Clone)]
pub struct MetricsService<S> {
    inner: S,
}

impl<S> Service<CommandEnvelope> for MetricsService<S>
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
        let started = Instant::now();
        self.inner
            .call(envelope)
            .map(move |result| {
                let outcome = match &result {
                    Ok(_) => "ok",
                    Err(e) => BusError::outcome(e),
                };
                let labels = [("command", command), ("outcome", outcome)];
                metrics::counter!(COMMANDS_TOTAL, &labels).increment(1);
                metrics::histogram!(COMMAND_DURATION_SECONDS, &labels)
                    .record(started.elapsed().as_secs_f64());
                result
            })
            .boxed()
    }
}
