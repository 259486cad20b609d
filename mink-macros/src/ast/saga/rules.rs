//! Rules of a `#[saga]` block that span several methods, and its name.

use std::collections::HashMap;

use proc_macro2::Span;

use super::methods::{CompensationMethod, HandlerMethod};
use crate::ctxt::Ctxt;
use crate::tokens;

/// A saga's name keys its state, associations, lease and operator
/// commands: keep it non-empty, short and free of spaces.
pub(super) fn name_valid(cx: &mut Ctxt, name: &str, span: Span) {
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
        cx.syn_error(syn::Error::new(span, format!("a saga name {problem}")));
    }
}

/// A saga has one handler per event type. Returns the first of each type,
/// so a duplicate is reported once, at both methods. (The same type
/// through an alias is caught by the compiler: see `expand::saga`.)
pub(super) fn unique_handlers<'a>(
    cx: &mut Ctxt,
    handlers: Vec<HandlerMethod<'a>>,
) -> Vec<HandlerMethod<'a>> {
    let mut seen: HashMap<String, &syn::Ident> = HashMap::new();
    let mut kept = Vec::with_capacity(handlers.len());
    for h in handlers {
        let key = tokens::compact(h.event);
        if let Some(first) = seen.get(&key) {
            cx.error_spanned_by(
                h.event,
                format!(
                    "event type `{key}` already has a handler in this saga, `{first}`; a saga has one handler per event type: merge the two methods (match inside on the event's fields) or remove one"
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

/// A command has at most one compensation in a saga.
pub(super) fn unique_compensations<'a>(
    cx: &mut Ctxt,
    compensations: Vec<CompensationMethod<'a>>,
) -> Vec<CompensationMethod<'a>> {
    let mut seen: HashMap<String, &syn::Ident> = HashMap::new();
    let mut kept = Vec::with_capacity(compensations.len());
    for c in compensations {
        let key = tokens::compact(c.command);
        if let Some(first) = seen.get(&key) {
            cx.error_spanned_by(
                c.command,
                format!(
                    "command `{key}` already has a compensation in this saga, `{first}`; one completed command is undone one way: remove one of them"
                ),
            );
        } else {
            seen.insert(key, &c.sig.ident);
            kept.push(c);
        }
    }
    kept
}
