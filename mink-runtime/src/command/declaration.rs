//! Declaring commands: the traits `#[command]` implements.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::validation::ValidationErrors;
use crate::aggregate::Aggregate;

/// A request to change one aggregate, or a plain command handled by a
/// function. Implemented by `#[command]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a mink command",
    label = "not a command",
    note = "add `#[command(aggregate = …)]` to the definition of `{Self}`"
)]
pub trait Command: Clone + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The aggregate the command targets, or [`NoAggregate`] for a command
    /// handled by a plain `#[command_handler]` function.
    type Aggregate;

    /// The command's name, for logs and errors.
    const NAME: &'static str;

    /// The id of the target aggregate, as text, or `None` for a plain
    /// command without an id field.
    fn aggregate_id(&self) -> Option<String>;

    /// The command's own rules; `#[command]` calls the type's
    /// [`super::Validate`] implementation when there is one.
    fn validate(&self) -> Result<(), ValidationErrors> {
        Ok(())
    }

    /// A key that makes repeats of this command idempotent;
    /// `#[command]` calls the type's [`IdempotencyKey`] implementation when
    /// there is one.
    fn idempotency_key(&self) -> Option<String> {
        None
    }
}

/// Gives a command an explicit idempotency key (see
/// `bus::IdempotencyLayer`).
pub trait IdempotencyKey {
    /// The key, or `None` to fall back to the layer's strategy.
    fn idempotency_key(&self) -> Option<String>;
}

/// Marks `Self` as a command of aggregate `A`. `#[command(aggregate = A)]`
/// implements it, so a handler on another aggregate does not compile.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a command of aggregate `{A}`",
    label = "a #[command_handler] on `{A}` takes this type",
    note = "give `{Self}` the attribute `#[command(aggregate = {A})]`, or move this handler into a `#[command_handler] impl` of the aggregate its `#[command(aggregate = …)]` names"
)]
pub trait CommandFor<A: Aggregate>: Command {}

/// The `Aggregate` of a plain command: `#[command]` without
/// `aggregate = …`, handled by a `#[command_handler]` function. Never
/// constructed.
#[derive(Debug, Clone, Copy)]
pub enum NoAggregate {}
