//! The error type inside the middleware stack, and how it becomes a typed
//! [`DispatchError`] at the end of a dispatch.

use crate::command::DispatchError;
use crate::error::{BoxError, Error};

use super::validation::ValidationErrors;

/// Errors the bus itself raises. Middleware return them boxed (the stack's
/// error type is [`BoxError`], as with tower's own layers); `dispatch` turns
/// them back into a typed [`DispatchError`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BusError {
    /// The handler refused the command with its domain error.
    #[error("command rejected: {0}")]
    Rejected(#[source] BoxError),
    /// The command failed validation.
    #[error(transparent)]
    Invalid(ValidationErrors),
    /// The handler panicked.
    #[error("handler of `{command}` panicked: {message}")]
    Panicked {
        /// The command's name.
        command: String,
        /// The panic message.
        message: String,
    },
    /// A tenant is required and the context has none.
    #[error("command `{command}` needs a tenant id and the dispatch context has none")]
    TenantRequired {
        /// The command's name.
        command: String,
    },
    /// The same idempotency key is being processed right now.
    #[error("a command with idempotency key `{key}` is already in progress")]
    InProgress {
        /// The key.
        key: String,
    },
    /// Loading, storing or a store-backed middleware failed.
    #[error(transparent)]
    Store(#[from] Error),
}

impl BusError {
    /// A short label for metrics and traces.
    pub fn outcome(err: &BoxError) -> &'static str {
        if let Some(bus) = err.downcast_ref::<BusError>() {
            return match bus {
                BusError::Rejected(_) => "rejected",
                BusError::Invalid(_) => "invalid",
                BusError::Panicked { .. } => "panicked",
                BusError::TenantRequired { .. } => "tenant_required",
                BusError::InProgress { .. } => "in_progress",
                BusError::Store(e) if e.is_concurrency_conflict() => "conflict",
                BusError::Store(_) => "store_error",
            };
        }
        if err.is::<tower::timeout::error::Elapsed>() {
            "timeout"
        } else if err.is::<tower::load_shed::error::Overloaded>() {
            "overloaded"
        } else {
            "error"
        }
    }

    /// True when the error is a concurrency conflict from the store.
    pub fn is_conflict(err: &BoxError) -> bool {
        matches!(err.downcast_ref::<BusError>(), Some(BusError::Store(e)) if e.is_concurrency_conflict())
    }
}

/// Turns the stack's boxed error into the typed error of a dispatch whose
/// handler's domain error is `E`.
pub(crate) fn into_dispatch_error<E>(err: BoxError) -> DispatchError<E>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let err = match err.downcast::<BusError>() {
        Ok(bus) => {
            return match *bus {
                BusError::Rejected(inner) => match inner.downcast::<E>() {
                    Ok(e) => DispatchError::Rejected(*e),
                    Err(other) => DispatchError::Middleware(other),
                },
                BusError::Invalid(v) => DispatchError::Invalid(v),
                BusError::Panicked { command, message } => {
                    DispatchError::Panicked { command, message }
                }
                BusError::TenantRequired { command } => DispatchError::TenantRequired { command },
                BusError::InProgress { key } => DispatchError::InProgress { key },
                BusError::Store(e) => DispatchError::Store(e),
            };
        }
        Err(err) => err,
    };
    let err = match err.downcast::<Error>() {
        Ok(e) => return DispatchError::Store(*e),
        Err(err) => err,
    };
    if err.is::<tower::timeout::error::Elapsed>() {
        DispatchError::TimedOut
    } else if err.is::<tower::load_shed::error::Overloaded>() {
        DispatchError::Overloaded
    } else {
        DispatchError::Middleware(err)
    }
}
