//! Sagas (process managers): persisted state that reacts to events by
//! sending commands, with deadlines and compensation.
//!
//! Layer: above [`crate::command`] and [`crate::store`]; below the
//! application, which implements [`SagaExecutor`] for it.

mod declaration;
#[doc(hidden)]
pub mod macro_support;
mod registration;

pub use declaration::{
    Association, DeadlineRequest, OutgoingCommand, Routed, Saga, SagaCommandError, SagaContext,
    SagaDispatchFuture, SagaExecutor,
};
pub use macro_support::StoredCommandError;
pub use registration::{SagaRegistration, check_unique_saga_names, registered};
