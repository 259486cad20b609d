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
/// type it reads, `(&self, event: &E)` optionally followed by
/// `envelope: &RecordedEvent` and `ctx: &mut ProjectionContext<'_>`,
/// `async` or not, returning `Result<(), E>` or `()`.
///
/// Keys: `kind = inline | async | live` (required), `name = "…"` (default:
/// the type's name in kebab-case) and, for async projections only,
/// `batch_size`, `batch_timeout_ms`, `max_attempts`,
/// `on_poison = skip | pause | retry`, `lease_ttl_ms`,
/// `backoff_initial_ms`, `backoff_max_ms` and `poll_interval_ms`. A method
/// marked `#[projection(reset)]` clears the read model before a rebuild;
/// `#[projection(skip)]` leaves a helper method alone. See the `mink` crate
/// for examples.
#[proc_macro_attribute]
pub fn projection(args: TokenStream, input: TokenStream) -> TokenStream {
    expand::projection::expand(args.into(), input.into())
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
