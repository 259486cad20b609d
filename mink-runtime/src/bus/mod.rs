//! The command bus: a `tower::Service` from [`CommandEnvelope`] to
//! [`CommandResult`], with middleware as `tower::Layer`s.
//!
//! `Mink::builder().layer(…)` adds layers; the first added is the
//! outermost, so it sees each command first and each result last. mink's
//! own layers ([`ValidationLayer`], [`RecoveryLayer`], [`TracingLayer`],
//! [`MetricsLayer`], [`RetryOnConflictLayer`], [`TenantLayer`],
//! [`IdempotencyLayer`]) sit beside tower's (`TimeoutLayer`,
//! `ConcurrencyLimitLayer`, `LoadShedLayer`, …). Every layer's error is
//! [`CommandError`]; the errors of tower's layers are turned into it where
//! they enter the bus.
//!
//! Correlation and causation are not a layer: every dispatch creates a
//! correlation id when its [`Context`](crate::Context) has none, and stamps
//! the command id as each event's causation id.
//!
//! Layer: above [`crate::command`]; the application wires it.

mod conflict;
mod envelope;
mod idempotency;
mod metrics;
mod middleware;
mod recovery;
mod tenant;
mod trace;
mod validation;

use tower::util::BoxCloneSyncService;

pub use self::conflict::{RetryOnConflictLayer, RetryOnConflictService};
pub use self::envelope::CommandEnvelope;
pub(crate) use self::envelope::ExecuteService;
pub use self::idempotency::{
    IDEMPOTENCY_HITS_TOTAL, IdempotencyLayer, IdempotencyService, InFlight, KeyStrategy,
};
pub use self::metrics::{COMMAND_DURATION_SECONDS, COMMANDS_TOTAL, MetricsLayer, MetricsService};
pub use self::middleware::{BusFuture, Middleware, MiddlewareService, Next};
pub use self::recovery::{RecoveryLayer, RecoveryService};
pub use self::tenant::{TenantLayer, TenantService};
pub use self::trace::{TracingLayer, TracingService};
pub use self::validation::{ValidationLayer, ValidationService};

use crate::command::{CommandError, CommandResult};

/// The type-erased bus every layer wraps.
pub type BusService = BoxCloneSyncService<CommandEnvelope, CommandResult, CommandError>;
