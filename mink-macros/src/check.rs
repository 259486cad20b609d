//! Rules that span several parts of an input.

use std::collections::HashMap;

use proc_macro2::Span;
use syn::{Generics, LitStr};

use crate::ast::event::{EventCase, EventName};
use crate::ast::handler::HandlerMethod;
use crate::ast::projection::{
    AsyncOnlyKey, AsyncOptions, HandlerMethod as ProjectionHandler, Kind,
};
use crate::ctxt::Ctxt;
use crate::tokens;

/// Generic events, aggregates and commands are not supported: their stable
/// names and registrations must be known at compile time.
pub(crate) fn no_generics(cx: &mut Ctxt, generics: &Generics, what: &str) {
    if !generics.params.is_empty() || generics.where_clause.is_some() {
        cx.error_spanned_by(
            generics,
            format!("{what} cannot be generic; use a concrete type"),
        );
    }
}

/// Two event types of one Rust type must not share a stable name.
pub(crate) fn unique_event_names(cx: &mut Ctxt, cases: &[EventCase<'_>]) {
    let mut seen: HashMap<&str, &EventCase<'_>> = HashMap::new();
    for case in cases {
        if let Some(first) = seen.get(case.name.value.as_str()) {
            cx.syn_error(syn::Error::new(
                case.name.span,
                format!(
                    "event type name `{}` is already used by variant `{}`; give one of them #[event(name = \"…\")]",
                    case.name.value, first.ident
                ),
            ));
        } else {
            seen.insert(&case.name.value, case);
        }
    }
}

/// Event type names are stored in every row: keep them non-empty and short.
pub(crate) fn event_name_valid(cx: &mut Ctxt, name: &EventName) {
    if name.value.is_empty() || name.value.len() > 255 {
        cx.syn_error(syn::Error::new(
            name.span,
            "an event type name must be 1 to 255 bytes long",
        ));
    }
}

/// A category is the part of a stream id before the first `-`, so it must
/// not contain one.
pub(crate) fn category_valid(cx: &mut Ctxt, category: &LitStr) {
    let value = category.value();
    if value.is_empty() {
        cx.error_spanned_by(category, "the category must not be empty");
    } else if value.contains('-') {
        cx.error_spanned_by(
            category,
            format!(
                "the category `{value}` contains `-`, which separates category and id in stream ids; use `_` instead"
            ),
        );
    }
}

/// One command has exactly one handler. Returns the handlers to generate
/// code for: the first of each command, so a duplicate is reported once.
pub(crate) fn unique_handlers<'a>(
    cx: &mut Ctxt,
    handlers: Vec<HandlerMethod<'a>>,
) -> Vec<HandlerMethod<'a>> {
    let mut seen: HashMap<String, &syn::Ident> = HashMap::new();
    let mut kept = Vec::with_capacity(handlers.len());
    for h in handlers {
        let key = tokens::compact(h.command);
        if let Some(first) = seen.get(&key) {
            cx.error_spanned_by(
                h.command,
                format!(
                    "command `{key}` already has a handler, `{first}`; a command has exactly one handler: remove one of them"
                ),
            );
        } else {
            seen.insert(key, &h.sig.ident);
            kept.push(h);
        }
    }
    kept
}

/// Only async projections have options: inline ones run in the append
/// transaction and live ones in memory, with nothing to batch, retry or
/// lease. Each async-only key is reported where it is written.
pub(crate) fn async_only_options(cx: &mut Ctxt, kind: Kind, given: &[AsyncOnlyKey]) {
    if kind == Kind::Async {
        return;
    }
    for key in given {
        cx.syn_error(syn::Error::new(
            key.span,
            format!(
                "`{}` applies to async projections only, and this one is `kind = {}`; remove it, or make the projection `kind = async`",
                key.key,
                kind.as_str()
            ),
        ));
    }
}

/// The first pause after a failure cannot be longer than the longest one.
pub(crate) fn backoff_in_order(cx: &mut Ctxt, options: &AsyncOptions, given: &[AsyncOnlyKey]) {
    let (Some(initial), Some(max)) = (options.backoff_initial_ms, options.backoff_max_ms) else {
        return;
    };
    if initial > max {
        let span = given
            .iter()
            .find(|k| k.key == "backoff_initial_ms")
            .map_or_else(Span::call_site, |k| k.span);
        cx.syn_error(syn::Error::new(
            span,
            format!(
                "`backoff_initial_ms = {initial}` is longer than `backoff_max_ms = {max}`; the first pause after a failure cannot exceed the longest"
            ),
        ));
    }
}

/// A projection's name keys its checkpoint, lease and dead letters, and is
/// typed in commands: keep it non-empty, short and free of spaces.
pub(crate) fn projection_name_valid(cx: &mut Ctxt, name: &str, span: Span) {
    let problem = if name.is_empty() {
        Some("must not be empty")
    } else if name.len() > 255 {
        Some("must be at most 255 bytes long")
    } else if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("must not contain spaces or control characters; use `-`")
    } else {
        None
    };
    if let Some(problem) = problem {
        cx.syn_error(syn::Error::new(
            span,
            format!("a projection name {problem}"),
        ));
    }
}

/// A projection has one handler per event type. Returns the handlers to
/// generate code for: the first of each type, so a duplicate is reported
/// once, at both methods. (The same type spelled through another path or
/// an alias is caught by the compiler: see `expand::projection`.)
pub(crate) fn unique_projection_handlers<'a>(
    cx: &mut Ctxt,
    handlers: Vec<ProjectionHandler<'a>>,
) -> Vec<ProjectionHandler<'a>> {
    let mut seen: HashMap<String, &syn::Ident> = HashMap::new();
    let mut kept = Vec::with_capacity(handlers.len());
    for h in handlers {
        let key = tokens::compact(h.event);
        if let Some(first) = seen.get(&key) {
            cx.error_spanned_by(
                h.event,
                format!(
                    "event type `{key}` already has a handler in this projection, `{first}`; a projection has one handler per event type: merge the two methods or remove one"
                ),
            );
            cx.error_spanned_by(
                first,
                format!("`{first}` handles `{key}`, and so does `{}`", h.sig.ident),
            );
        } else {
            seen.insert(key, &h.sig.ident);
            kept.push(h);
        }
    }
    kept
}
