//! The runtime of mink: the event model, the [`EventStore`] trait and its
//! adapters, aggregates, commands and the [`Mink`] entry point.
//!
//! Applications depend on the `mink` facade crate, which re-exports this
//! crate together with the macros.

pub mod adapters;
pub mod aggregate;
pub mod app;
pub mod bus;
pub mod command;
pub mod error;
pub mod event;
pub mod idempotency;
pub mod registry;
pub mod serializer;
pub mod store;

pub use aggregate::{Aggregate, Event, EventOf, Tracked};
pub use app::{Mink, MinkBuilder};
pub use command::{
    Command, CommandFor, CommandResult, DispatchError, HandlerContext, HandlerFuture,
    HandlerOutput, Handles, IdempotencyKey, Plain, PlainHandler, PlainOutput, Target,
};
pub use error::{BoxError, Error, Result};
pub use event::{
    EventMetadata, ExpectedVersion, NewEvent, Position, RecordedEvent, category_of, stream_id_for,
};
pub use registry::{EventRegistration, HandlerRegistration, Registry};
pub use serializer::{JsonSerializer, Serializer};
pub use store::{
    AppendResult, AppendedStream, EventStore, Limits, ReadAll, ReadFilter, StreamAppend, StreamInfo,
};

/// Re-exported so adapters and tests name the same version.
pub use async_trait::async_trait;

#[doc(hidden)]
pub mod __private {
    //! Used by code the macros generate. Not a public API.
    pub use inventory;
    pub use serde;

    /// Checks, in generated handler code, that `C` is a command of `A`.
    #[inline(always)]
    pub fn assert_command_for<C: crate::CommandFor<A>, A: crate::Aggregate>() {}

    /// Wraps a command so generated code can find optional trait impls.
    pub struct Probe<'a, T>(pub &'a T);

    /// Picked when the command implements [`crate::bus::Validate`].
    pub trait ValidateViaImpl {
        /// Runs the command's rules.
        fn __mink_validate(&self) -> Result<(), crate::bus::ValidationErrors>;
    }
    impl<T: crate::bus::Validate> ValidateViaImpl for &Probe<'_, T> {
        fn __mink_validate(&self) -> Result<(), crate::bus::ValidationErrors> {
            <T as crate::bus::Validate>::validate(self.0)
        }
    }
    /// Picked otherwise: no rules.
    pub trait ValidateViaDefault {
        /// Accepts the command.
        fn __mink_validate(&self) -> Result<(), crate::bus::ValidationErrors>;
    }
    impl<T> ValidateViaDefault for Probe<'_, T> {
        fn __mink_validate(&self) -> Result<(), crate::bus::ValidationErrors> {
            Ok(())
        }
    }

    /// Picked when the command implements [`crate::IdempotencyKey`].
    pub trait KeyViaImpl {
        /// The command's key.
        fn __mink_idempotency_key(&self) -> Option<String>;
    }
    impl<T: crate::IdempotencyKey> KeyViaImpl for &Probe<'_, T> {
        fn __mink_idempotency_key(&self) -> Option<String> {
            <T as crate::IdempotencyKey>::idempotency_key(self.0)
        }
    }
    /// Picked otherwise: no key of its own.
    pub trait KeyViaDefault {
        /// No key.
        fn __mink_idempotency_key(&self) -> Option<String>;
    }
    impl<T> KeyViaDefault for Probe<'_, T> {
        fn __mink_idempotency_key(&self) -> Option<String> {
            None
        }
    }

    /// Parses an aggregate id from text for `#[derive(Aggregate)]`.
    pub fn parse_id<T>(id: &str) -> crate::Result<T>
    where
        T: std::str::FromStr,
        T::Err: std::fmt::Display,
    {
        id.parse::<T>()
            .map_err(|e| crate::Error::invalid("aggregate_id", format!("`{id}`: {e}")))
    }
}
