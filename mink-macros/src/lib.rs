//! Procedural macros of mink. Use them through the `mink` crate:
//! `use mink::prelude::*;`.
//!
//! Every entry point only calls its `expand` function. Each macro then
//! goes `attr` (attribute keys) → `ast/<macro>` (a validated view of the
//! input) → `check` (rules spanning several parts) → `expand/<macro>`
//! (generation from the view), as serde_derive does; errors gather in
//! `ctxt` so all of them show at once. Generated code reaches the runtime
//! only through `::mink::__private`.

use proc_macro::TokenStream;

mod ast;
mod attr;
mod check;
mod ctxt;
mod expand;
mod tokens;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_projection;
#[cfg(test)]
mod tests_saga;

/// Declares a domain event type: an enum with one event per variant, or a
/// struct.
///
/// Each event gets a stable type name (the variant or struct name, or
/// `#[event(name = "…")]`) and a schema version (`#[event(version = N)]`,
/// default 1), is serialized with serde and registered so that
/// `Mink::builder()` finds it. See the `mink` crate for examples.
#[proc_macro_attribute]
pub fn event(args: TokenStream, input: TokenStream) -> TokenStream {
    expand::event::expand(args.into(), input.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Derives `Aggregate` for a struct with `#[aggregate(events = E, category = "c")]`
/// and one `#[aggregate(id)]` field. The struct provides
/// `fn apply(&mut self, event: &E)`.
#[proc_macro_derive(Aggregate, attributes(aggregate))]
pub fn derive_aggregate(input: TokenStream) -> TokenStream {
    expand::aggregate::expand(input.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Declares a command: `#[command(aggregate = A)]` on a struct with one
/// `#[command(id)]` field naming the target aggregate.
#[proc_macro_attribute]
pub fn command(args: TokenStream, input: TokenStream) -> TokenStream {
    expand::command::expand(args.into(), input.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Turns the methods of an aggregate's impl block into command handlers:
/// every method taking `&self` and one command by value, returning
/// `Result<Vec<Event>, Error>`. `apply` and methods marked
/// `#[command_handler(skip)]` are left alone.
#[proc_macro_attribute]
pub fn command_handler(args: TokenStream, input: TokenStream) -> TokenStream {
    expand::handler::expand(args.into(), input.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Turns an inherent impl block into a projection: one method per event
/// type it reads, registered so that `Mink::builder()` finds it.
///
/// ```ignore
/// use mink::prelude::*;
/// use mink::projection::ProjectionContext;
/// use mink::RecordedEvent;
///
/// #[projection(name = "order-summary", kind = async, batch_size = 100)]
/// impl OrderSummaries {
///     async fn placed(
///         &self,
///         event: &OrderPlaced,
///         envelope: &RecordedEvent,
///         ctx: &mut ProjectionContext<'_>,
///     ) -> Result<(), SummaryError> {
///         // write the read model in `ctx.transaction()`
///         Ok(())
///     }
///
///     fn changed(&self, event: &OrderEvent) {}
///
///     #[projection(reset)]
///     async fn clear(&self, ctx: &mut ProjectionContext<'_>) -> Result<(), SummaryError> {
///         Ok(())
///     }
/// }
/// ```
///
/// - **Handlers** take `&self` and the event, by reference or by value,
///   optionally followed by the envelope (`&RecordedEvent`) and then the
///   context (`&mut ProjectionContext<'_>`). They may be `async` or not,
///   and return `Result<(), E>` with `E: Into<BoxError>` (wrap a failure
///   that may pass by itself in `Transient`) or nothing. Each event type
///   has one handler; an `#[event]` enum's handler gets all its variants.
/// - `kind = inline | async | live` is required: it decides whether the
///   read model commits with the events, with a checkpoint in a background
///   worker, or lives in memory.
/// - `name = "…"` names the checkpoint, lease and dead letters; it defaults
///   to the type's name in kebab-case (`OrderSummaries` →
///   `order-summaries`).
/// - Async projections only: `batch_size`, `batch_timeout_ms`,
///   `max_attempts`, `on_poison = skip | pause | retry`, `lease_ttl_ms`,
///   `backoff_initial_ms`, `backoff_max_ms`, `poll_interval_ms`; the rest of
///   `ProjectionOptions` keeps its defaults.
/// - `#[projection(reset)]` marks the method that clears the read model
///   before a rebuild (`&self`, optionally the context);
///   `#[projection(skip)]` leaves a helper method alone. Functions without
///   `self`, such as constructors, are always left alone.
///
/// A projection whose type is `Default` is built by the application
/// builder; others are handed to it with `MinkBuilder::projection`.
#[proc_macro_attribute]
pub fn projection(args: TokenStream, input: TokenStream) -> TokenStream {
    expand::projection::expand(args.into(), input.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Turns an inherent impl block on a saga's state into a saga (a process
/// manager): one handler per event type it reacts to, returning the
/// commands to send, and optional compensations.
///
/// ```ignore
/// use mink::prelude::*;
/// use mink::saga::SagaContext;
///
/// #[derive(Default, serde::Serialize, serde::Deserialize)]
/// pub struct Checkout { order_id: String, reserved: bool }
///
/// #[saga(name = "checkout")]
/// impl Checkout {
///     #[saga(start, associate = order_id)]
///     fn placed(&mut self, event: &OrderPlaced) -> ReserveStock {
///         self.order_id = event.order_id.clone();
///         ReserveStock { sku: event.sku.clone(), order_id: event.order_id.clone() }
///     }
///
///     #[saga(associate = order_id)]
///     fn reserved(&mut self, event: &StockReserved, cx: &mut SagaContext) -> Option<RequestPayment> {
///         self.reserved = true;
///         cx.associate("payment", format!("pay-{}", event.order_id));
///         Some(RequestPayment { payment_id: format!("pay-{}", event.order_id) })
///     }
///
///     #[saga(associate(key = "payment", with = payment_of))]
///     fn paid(&mut self, event: &PaymentEvent, cx: &mut SagaContext) -> Result<Vec<ShipOrder>, CheckoutError> {
///         cx.complete();
///         Ok(vec![ShipOrder { order_id: self.order_id.clone() }])
///     }
///
///     #[saga(compensate)]
///     fn release(&self, done: &ReserveStock) -> ReleaseStock {
///         ReleaseStock { sku: done.sku.clone(), order_id: done.order_id.clone() }
///     }
/// }
/// ```
///
/// - **Handlers** take `&mut self` (or `&self`) and the event, by
///   reference or by value, optionally followed by the envelope
///   (`&RecordedEvent`) and then the context (`&mut SagaContext`). They
///   return the commands to send: `()`, a command `C`, `Option<C>`,
///   `Vec<C>` or a tuple `(C1, C2)`, any of them in `Result<_, E>` with
///   `E: std::error::Error + Send + Sync + 'static` (an `Err` fails the
///   saga). Each event type has one handler; each returned command must
///   have a `#[command_handler]`.
/// - `#[saga(associate = field)]` on every handler says how its event
///   finds its saga: by the value (`ToString`) of one of the event's
///   fields, whose name is the key. `associate(key = "…", field = f)` names
///   the key; `associate(key = "…", with = f)` computes the value with
///   `fn f(event: &E) -> impl ToString` (for enum events). A handler adds
///   more associations with `cx.associate(key, value)`.
/// - `#[saga(start)]` marks the handlers whose event begins a new saga when
///   none is associated yet; at least one is required.
/// - `#[saga(compensate)]` marks a compensation: `(&self, done: &C)`
///   returning the command (`C2` or `Option<C2>`, optionally in
///   `Result`) that undoes the completed command `done`.
/// - `name = "…"` names the saga type (its state, associations and
///   lease); it defaults to the type's name in kebab-case (`Checkout` →
///   `checkout`). `#[saga(skip)]` leaves a helper method alone; functions
///   without `self` are always left alone.
///
/// The state type must be `Default`, `Serialize` and `Deserialize`.
#[proc_macro_attribute]
pub fn saga(args: TokenStream, input: TokenStream) -> TokenStream {
    expand::saga::expand(args.into(), input.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Derives `ReadModel` for a struct with named fields, one of them
/// `#[read_model(id)]`: a table with one column per field (nested values
/// as JSON), indexes for `#[read_model(index)]` and
/// `#[read_model(unique)]` fields, and typed field handles for queries
/// (`Model::fields()`). The table is `#[read_model(table = "…")]`, by
/// default the snake-case plural of the struct's name.
#[proc_macro_derive(ReadModel, attributes(read_model))]
pub fn derive_read_model(input: TokenStream) -> TokenStream {
    expand::read_model::expand(input.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
