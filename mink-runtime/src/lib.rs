//! The runtime of mink: the event model, the [`EventStore`] trait and its
//! adapters, aggregates, commands and the [`Mink`] entry point.
//!
//! Applications depend on the `mink` facade crate, which re-exports this
//! crate together with the macros.

pub mod adapters;
pub mod aggregate;
pub mod app;
pub mod command;
pub mod error;
pub mod event;
pub mod registry;
pub mod serializer;
pub mod store;

pub use aggregate::{Aggregate, Event, EventOf, Tracked};
pub use app::{Mink, MinkBuilder};
pub use command::{Command, CommandFor, CommandResult, DispatchError, HandlerOutput, Handles};
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
