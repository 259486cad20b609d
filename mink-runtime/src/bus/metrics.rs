//! Counts and durations per command and outcome, through the `metrics`
//! facade (install any recorder, such as a Prometheus exporter).

use std::time::Instant;

use futures::future::FutureExt;
use tower::Layer;

use super::envelope::CommandEnvelope;
use super::middleware::{BusFuture, Middleware, MiddlewareService, Next};

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
        MiddlewareService::new(inner, *self)
    }
}

/// The service of [`MetricsLayer`].
pub type MetricsService<S> = MiddlewareService<S, MetricsLayer>;

impl Middleware for MetricsLayer {
    fn handle(&self, envelope: CommandEnvelope, next: Next<'_>) -> BusFuture {
        let command = envelope.command_name();
        let started = Instant::now();
        next.run(envelope)
            .map(move |result| {
                let outcome = match &result {
                    Ok(_) => "ok",
                    Err(e) => e.outcome(),
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
