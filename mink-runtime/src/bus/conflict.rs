//! Retry on concurrency conflict: reload, re-handle, re-append.

use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt};
use tower::{Layer, Service, ServiceExt};

use super::envelope::CommandEnvelope;
use super::middleware::take_ready;
use crate::command::{CommandError, CommandResult};

/// Re-runs a command whose append lost a race
/// ([`crate::Error::ConcurrencyConflict`]): each attempt loads the aggregate
/// again and asks the handler again, so the decision is made on fresh state.
/// Waits a bounded, jittered, exponentially growing delay between attempts.
/// Other errors pass through untouched.
#[derive(Debug, Clone, Copy)]
pub struct RetryOnConflictLayer {
    max_attempts: u32,
    base_delay: Duration,
    max_delay: Duration,
}

impl Default for RetryOnConflictLayer {
    fn default() -> Self {
        RetryOnConflictLayer {
            max_attempts: 5,
            base_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(200),
        }
    }
}

impl RetryOnConflictLayer {
    /// Five attempts, 2 ms base delay, 200 ms cap.
    pub fn new() -> Self {
        RetryOnConflictLayer::default()
    }

    /// How many attempts in total (at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The delay before the second attempt; it doubles each time.
    pub fn base_delay(mut self, delay: Duration) -> Self {
        self.base_delay = delay;
        self
    }

    /// The longest delay between two attempts.
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// The delay this layer waits after the `failed`-th conflicting
    /// attempt (0 for the first): full jitter over a window that starts
    /// at the base delay, doubles each time and stops at the cap. For code
    /// that retries on its own and wants the same spacing.
    pub fn backoff(&self, failed: u32) -> Duration {
        self.delay(failed)
    }

    /// The delay before attempt `attempt + 1`: full jitter over an
    /// exponentially growing, capped window.
    fn delay(&self, attempt: u32) -> Duration {
        let window = self
            .base_delay
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max_delay);
        window.mul_f64(rand::random::<f64>())
    }
}

impl<S> Layer<S> for RetryOnConflictLayer {
    type Service = RetryOnConflictService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RetryOnConflictService {
            inner,
            config: *self,
        }
    }
}

/// The service of [`RetryOnConflictLayer`].
#[derive(Debug, Clone)]
pub struct RetryOnConflictService<S> {
    inner: S,
    config: RetryOnConflictLayer,
}

impl<S> Service<CommandEnvelope> for RetryOnConflictService<S>
where
    S: Service<CommandEnvelope, Response = CommandResult, Error = CommandError>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = CommandResult;
    type Error = CommandError;
    type Future = BoxFuture<'static, Result<CommandResult, CommandError>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), CommandError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, envelope: CommandEnvelope) -> Self::Future {
        // The ready clone serves the first attempt; later ones wait for
        // readiness themselves.
        let mut inner = take_ready(&mut self.inner);
        let config = self.config;
        async move {
            let mut attempt = 1;
            loop {
                let result = if attempt == 1 {
                    inner.call(envelope.clone()).await
                } else {
                    inner.ready().await?.call(envelope.clone()).await
                };
                match result {
                    Err(e) if e.is_concurrency_conflict() && attempt < config.max_attempts => {
                        let delay = config.delay(attempt - 1);
                        tracing::debug!(
                            command = envelope.command_name(),
                            attempt,
                            ?delay,
                            "concurrency conflict, retrying"
                        );
                        tokio::time::sleep(delay).await;
                        attempt += 1;
                    }
                    other => return other,
                }
            }
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_stay_within_the_growing_capped_window() {
        let layer = RetryOnConflictLayer::new()
            .base_delay(Duration::from_millis(10))
            .max_delay(Duration::from_millis(50));
        for attempt in 0..10 {
            let window = Duration::from_millis(10 * (1 << attempt)).min(Duration::from_millis(50));
            for _ in 0..20 {
                assert!(layer.delay(attempt) <= window);
            }
        }
        assert_eq!(RetryOnConflictLayer::new().max_attempts(0).max_attempts, 1);
    }
}
