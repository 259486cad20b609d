//! The validated view of a `#[projection]` impl block: the projection's
//! keys ([`keys`]), one handler method per event type and an optional
//! reset method ([`methods`]).

use proc_macro2::Span;
use syn::{Ident, ItemImpl, Type};

use crate::check;
use crate::ctxt::Ctxt;

mod keys;
mod methods;

pub(crate) use keys::{AsyncOnlyKey, AsyncOptions, Keys, Kind, Poison};
use methods::Methods;
pub(crate) use methods::{HandlerMethod, ResetMethod};

/// A validated `#[projection]` impl block.
pub(crate) struct ProjectionBlock<'a> {
    /// The type the block is on.
    pub(crate) self_ty: &'a Type,
    /// The type's name, for the registration.
    pub(crate) ident: &'a Ident,
    /// The projection's unique name: `name = "…"` or the type's name in
    /// kebab-case.
    pub(crate) name: String,
    /// How it runs.
    pub(crate) kind: Kind,
    /// The async options given (none for other kinds).
    pub(crate) options: AsyncOptions,
    /// The handlers, one per event type, in declaration order.
    pub(crate) handlers: Vec<HandlerMethod<'a>>,
    /// The method marked `#[projection(reset)]`, if any.
    pub(crate) reset: Option<ResetMethod<'a>>,
}

impl<'a> ProjectionBlock<'a> {
    /// Reads the keys and the methods of `block`; `None` after an error.
    pub(crate) fn from_ast(cx: &mut Ctxt, keys: Keys, block: &'a ItemImpl) -> Option<Self> {
        check::no_generics(cx, &block.generics, "a projection");
        let ident = type_ident(cx, &block.self_ty);
        let kind = match keys.kind {
            Some(kind) => {
                check::async_only_options(cx, kind, &keys.async_only);
                Some(kind)
            }
            None if keys.kind_written => None,
            None => {
                cx.syn_error(syn::Error::new(
                    Span::call_site(),
                    "missing `kind`: write `#[projection(kind = inline)]` to run in the append transaction, `kind = async` to run in a checkpointed background worker, or `kind = live` to follow the log in memory",
                ));
                None
            }
        };
        check::backoff_in_order(cx, &keys.options, &keys.async_only);
        let name = match (&keys.name, ident) {
            (Some(lit), _) => {
                check::projection_name_valid(cx, &lit.value(), lit.span());
                Some(lit.value())
            }
            (None, Some(ident)) => Some(kebab_case(&ident.to_string())),
            (None, None) => None,
        };
        let Methods {
            handlers,
            reset,
            handlers_written,
        } = methods::read_methods(cx, block);
        let handlers = check::unique_projection_handlers(cx, handlers);
        // A handler that was written but refused has its own error.
        if !handlers_written {
            cx.error_spanned_by(
                &block.self_ty,
                "a projection needs at least one handler: a method `fn on_placed(&self, event: &OrderPlaced) -> Result<(), MyError>` per event type it reads",
            );
        }
        match (ident, name, kind) {
            (Some(ident), Some(name), Some(kind)) if cx.is_ok() => Some(ProjectionBlock {
                self_ty: &block.self_ty,
                ident,
                name,
                kind,
                options: keys.options,
                handlers,
                reset,
            }),
            _ => None,
        }
    }
}

/// The name of the type a projection block is on: the last segment of its
/// path, if it is a path.
pub(crate) fn type_name(ty: &Type) -> Option<&Ident> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last().map(|s| &s.ident),
        _ => None,
    }
}

/// [`type_name`], reporting a type without one.
fn type_ident<'a>(cx: &mut Ctxt, ty: &'a Type) -> Option<&'a Ident> {
    let name = type_name(ty);
    if name.is_none() {
        cx.error_spanned_by(
            ty,
            "#[projection] goes on an impl block of a named struct or enum: `#[projection(kind = …)] impl OrderSummaries { … }`",
        );
    }
    name
}

/// `OrderSummaries` → `order-summaries`, `HTTPStats` → `http-stats`,
/// `Orders_V2` → `orders-v2`.
pub(crate) fn kebab_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' {
            if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
            continue;
        }
        if c.is_uppercase() && i > 0 && !out.ends_with('-') {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_lower) {
                out.push('-');
            }
        }
        out.extend(c.to_lowercase());
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}
