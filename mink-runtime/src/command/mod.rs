//! The command vocabulary: what a command is, what travels with it, which
//! handler takes it, what a dispatch returns, and how a command reaches the
//! code that executes it.
//!
//! Layer: above [`crate::aggregate`] and [`crate::store`]; below the bus and
//! the application. Execution is reached through the [`Execute`] trait,
//! which the application implements, so nothing here knows `Mink`.

mod aggregate_handler;
mod context;
mod declaration;
mod outcome;
mod plain_handler;
mod registration;
mod result_record;
mod routing;
mod validation;

pub use aggregate_handler::{HandlerOutput, Handles};
pub use context::Context;
#[doc(hidden)]
pub use declaration::CommandFor;
pub use declaration::{Command, IdempotencyKey, NoAggregate};
pub use outcome::{CommandError, CommandResult, DispatchError, Rejection};
#[doc(hidden)]
pub use plain_handler::PlainOutput;
pub use plain_handler::{HandlerContext, HandlerFuture, PlainHandler};
#[doc(hidden)]
pub use registration::HandlerRegistration;
pub use result_record::ResultRecord;
pub use routing::{CommandRoute, Execute, ExecuteFuture};
pub use validation::{Validate, ValidationErrors, Violation};
