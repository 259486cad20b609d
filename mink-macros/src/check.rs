//! Rules that span several parts of an input.

use std::collections::HashMap;

use syn::{Generics, LitStr};

use crate::ast::event::{EventCase, EventName};
use crate::ast::handler::HandlerMethod;
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
