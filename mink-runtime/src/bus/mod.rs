//! The command bus: a `tower::Service` from [`CommandEnvelope`] to
//! [`CommandResult`], with middleware as `tower::Layer`s.
//!
//! `Mink::builder().layer(…)` adds layers; the first added is the
//! outermost, so it sees each command first and each result last. mink's
//! own layers ([`ValidationLayer`], [`RecoveryLayer`], [`TracingLayer`],
//! [`MetricsLayer`], [`RetryOnConflictLayer`], [`TenantLayer`],
//! [`crate::idempotency::IdempotencyLayer`]) sit beside tower's
//! (`TimeoutLayer`, `ConcurrencyLimitLayer`, `LoadShedLayer`, …), which work
//! unchanged because the stack's error type is [`BoxError`].
//!
//! Correlation and causation are not a layer: every dispatch creates a
//! correlation id when its [`Context`] has none, and stamps the command id
//! as each event's causation id.

mod conflict;
mod context;
mod envelope;
mod error;
mod metrics;
mod middleware;
mod recovery;
mod tenant;
mod trace;
mod validation;

use tower::util::BoxCloneSyncService;

pub use self::conflict::{RetryOnConflictLayer, RetryOnConflictService};
pub use self::context::Context;
pub use self::envelope::{CommandEnvelope, ExecuteService};
pub(crate) use self::envelope::{Executor, Typed};
pub use self::error::BusError;
pub(crate) use self::error::into_dispatch_error;
pub use self::metrics::{COMMAND_DURATION_SECONDS, COMMANDS_TOTAL, MetricsLayer, MetricsService};
pub use self::middleware::{BusFuture, Middleware, MiddlewareService, Next};
pub use self::recovery::{RecoveryLayer, RecoveryService};
pub use self::tenant::{TenantLayer, TenantService};
pub use self::trace::{TracingLayer, TracingService};
pub use self::validation::{
    Validate, ValidationErrors, ValidationLayer, ValidationService, Violation,
};

use crate::command::CommandResult;
use crate::error::BoxError;

/// The type-erased bus every layer wraps.
pub type BusService = BoxCloneSyncService<CommandEnvelope, CommandResult, BoxError>;

/// Applies one layer to the bus (a layer with its types erased).
pub(crate) type LayerFn = Box<dyn Fn(BusService) -> BusService + Send + Sync>;
