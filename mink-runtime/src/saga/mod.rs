//! Sagas (process managers): persisted state that reacts to events by
//! sending commands, with deadlines and compensation.
//!
//! A [`SagaEngine`] works one saga type: it holds the type's lease, reads
//! the log after the type's cursor (a projection checkpoint named
//! `saga:<NAME>`), and commits the sagas' new state, associations,
//! deadlines and commands with the cursor in one transaction. It then
//! sends the commands through a [`SagaExecutor`] with idempotency keys
//! derived from their stable message ids, so a crash at any point neither
//! loses a command nor runs one twice (docs/adr/016-sagas.md).
//!
//! Layer: above `command` and `store`; below the application, which
//! implements [`SagaExecutor`] for it.

mod clock;
mod declaration;
mod handling;
#[doc(hidden)]
pub mod macro_support;
mod manager;
mod operator;
mod registration;

pub use clock::{Clock, ManualClock, SystemClock};
pub use declaration::{
    Association, DeadlineRequest, OutgoingCommand, Routed, Saga, SagaCommandError, SagaContext,
    SagaDispatchFuture, SagaExecutor,
};
pub use macro_support::StoredCommandError;
pub use manager::{SagaEngine, SagaEngineBuilder, SagaOptions, SagaRunner, cursor_name};
pub use operator::{SagaDetails, Sagas};
pub use registration::{SagaRegistration, check_unique_saga_names, registered};
