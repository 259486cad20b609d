//! What a dispatch returns: a [`CommandResult`], or a [`DispatchError`].
//!
//! One error type runs through the whole bus: middleware see
//! [`CommandError`] (a [`DispatchError`] whose domain error is a type-erased
//! [`Rejection`]), and `Mink::dispatch` hands the caller a
//! `DispatchError<E>` with the handler's own error type `E`
//! (docs/adr/010-layers-and-one-error-chain.md).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::validation::ValidationErrors;
use crate::error::{BoxError, Error};

/// What a successful dispatch did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandResult {
    /// The command's name.
    pub command: String,
    /// The target aggregate's id; `None` for a plain command without an id
    /// field.
    pub aggregate_id: Option<String>,
    /// The aggregate's stream; `None` for a plain command.
    pub stream_id: Option<String>,
    /// The stream's version after the command (unchanged when it produced
    /// no events); `None` for a plain command.
    pub version: Option<u64>,
    /// Ids of the events the command's aggregate wrote, in order (empty for
    /// a plain command: its handler appends on its own).
    pub event_ids: Vec<Uuid>,
}

/// A handler's domain error with its type erased while it crosses the bus.
///
/// Only mink creates one, from the error of the handler the command is
/// routed to, so `Mink::dispatch` gives it back as that handler's own type.
#[derive(Debug)]
pub struct Rejection(BoxError);

impl Rejection {
    pub(crate) fn new<E: std::error::Error + Send + Sync + 'static>(error: E) -> Self {
        Rejection(Box::new(error))
    }

    /// The domain error, to inspect without its type.
    pub fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.0
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Rejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// Why a dispatch failed. `E` is the handler's domain error: the caller of
/// `Mink::dispatch` gets it typed; middleware see it as a [`Rejection`]
/// (the [`CommandError`] alias).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DispatchError<E = Rejection> {
    /// The handler returned its domain error; nothing was written.
    #[error("command rejected: {0}")]
    Rejected(#[source] E),
    /// The command broke its validation rules; the handler did not run.
    #[error(transparent)]
    Invalid(ValidationErrors),
    /// The handler panicked (with a recovery layer installed).
    #[error("handler of `{command}` panicked: {message}")]
    Panicked {
        /// The command's name.
        command: String,
        /// The panic message.
        message: String,
    },
    /// A timeout layer gave up.
    #[error("command timed out")]
    TimedOut,
    /// A load-shedding layer refused the command.
    #[error("the command bus is overloaded")]
    Overloaded,
    /// A tenant layer requires a tenant id and the context had none.
    #[error("command `{command}` needs a tenant id and the dispatch context has none")]
    TenantRequired {
        /// The command's name.
        command: String,
    },
    /// The same idempotency key is being processed.
    #[error("a command with idempotency key `{key}` is already in progress")]
    InProgress {
        /// The key.
        key: String,
    },
    /// Loading, appending or a store-backed middleware failed; see [`Error`].
    #[error(transparent)]
    Store(#[from] Error),
    /// Another middleware failed.
    #[error("middleware error: {0}")]
    Middleware(#[source] BoxError),
}

/// The error inside the command bus: every layer's `Service::Error`.
pub type CommandError = DispatchError<Rejection>;

impl<E> DispatchError<E> {
    /// The domain error, if the handler refused.
    pub fn rejected(&self) -> Option<&E> {
        match self {
            DispatchError::Rejected(e) => Some(e),
            _ => None,
        }
    }

    /// The store error, if the store failed.
    pub fn store(&self) -> Option<&Error> {
        match self {
            DispatchError::Store(e) => Some(e),
            _ => None,
        }
    }

    /// True when the store refused the append with a concurrency conflict.
    pub fn is_concurrency_conflict(&self) -> bool {
        self.store().is_some_and(Error::is_concurrency_conflict)
    }

    /// A short label for metrics and traces: `rejected`, `invalid`,
    /// `panicked`, `timeout`, `overloaded`, `tenant_required`,
    /// `in_progress`, `conflict`, `store_error` or `error`.
    pub fn outcome(&self) -> &'static str {
        match self {
            DispatchError::Rejected(_) => "rejected",
            DispatchError::Invalid(_) => "invalid",
            DispatchError::Panicked { .. } => "panicked",
            DispatchError::TimedOut => "timeout",
            DispatchError::Overloaded => "overloaded",
            DispatchError::TenantRequired { .. } => "tenant_required",
            DispatchError::InProgress { .. } => "in_progress",
            DispatchError::Store(e) if e.is_concurrency_conflict() => "conflict",
            DispatchError::Store(_) => "store_error",
            DispatchError::Middleware(_) => "error",
        }
    }

    /// The same error with the domain error mapped by `f`.
    fn map_rejected<F>(self, f: impl FnOnce(E) -> Result<F, BoxError>) -> DispatchError<F> {
        match self {
            DispatchError::Rejected(e) => match f(e) {
                Ok(e) => DispatchError::Rejected(e),
                Err(other) => DispatchError::Middleware(other),
            },
            DispatchError::Invalid(v) => DispatchError::Invalid(v),
            DispatchError::Panicked { command, message } => {
                DispatchError::Panicked { command, message }
            }
            DispatchError::TimedOut => DispatchError::TimedOut,
            DispatchError::Overloaded => DispatchError::Overloaded,
            DispatchError::TenantRequired { command } => DispatchError::TenantRequired { command },
            DispatchError::InProgress { key } => DispatchError::InProgress { key },
            DispatchError::Store(e) => DispatchError::Store(e),
            DispatchError::Middleware(e) => DispatchError::Middleware(e),
        }
    }
}

impl CommandError {
    /// The error of a dispatch whose handler's domain error is `E`.
    ///
    /// The rejection was created from the error of the one handler the
    /// command is routed to, so it is an `E`; the fallback to
    /// [`DispatchError::Middleware`] is never taken.
    pub(crate) fn into_typed<E>(self) -> DispatchError<E>
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        self.map_rejected(|r| r.0.downcast::<E>().map(|e| *e))
    }
}

/// An error from a layer outside mink (tower's timeout, load-shed, …)
/// enters the bus here. Those layers box the errors of the services they
/// wrap, so a boxed [`CommandError`] is unboxed again, and tower's own
/// errors get their variants. This is the only place the bus looks at an
/// error's type at run time.
impl From<BoxError> for CommandError {
    fn from(err: BoxError) -> Self {
        let err = match err.downcast::<CommandError>() {
            Ok(inner) => return *inner,
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error, PartialEq)]
    #[error("out of stock")]
    struct OutOfStock;

    #[test]
    fn a_rejection_comes_back_typed() {
        let err: CommandError = DispatchError::Rejected(Rejection::new(OutOfStock));
        assert_eq!(err.outcome(), "rejected");
        assert_eq!(err.into_typed::<OutOfStock>().rejected(), Some(&OutOfStock));
    }

    #[test]
    fn errors_of_foreign_layers_get_their_variants() {
        let boxed: BoxError = Box::new(CommandError::TenantRequired {
            command: "C".into(),
        });
        assert!(matches!(
            CommandError::from(boxed),
            DispatchError::TenantRequired { .. }
        ));
        let elapsed: BoxError = Box::new(tower::timeout::error::Elapsed::new());
        assert!(matches!(
            CommandError::from(elapsed),
            DispatchError::TimedOut
        ));
        let other: BoxError = "boom".into();
        assert_eq!(CommandError::from(other).outcome(), "error");
    }
}
