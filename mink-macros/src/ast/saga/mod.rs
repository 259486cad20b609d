//! The validated view of a `#[saga]` impl block: the saga's keys
//! ([`keys`]), its handlers and compensations ([`methods`]) and what they
//! return ([`output`]), with the rules that span several methods
//! ([`rules`]).

use proc_macro2::Span;
use syn::{Ident, ItemImpl, Type};

use crate::ast::projection::{kebab_case, type_name};
use crate::check;
use crate::ctxt::Ctxt;

mod keys;
mod methods;
mod output;
mod rules;

pub(crate) use keys::{Associate, Keys};
pub(crate) use methods::{CompensationMethod, HandlerMethod};
pub(crate) use output::{Commands, Returns};

/// A validated `#[saga]` impl block.
pub(crate) struct SagaBlock<'a> {
    /// The state type the block is on.
    pub(crate) self_ty: &'a Type,
    /// The type's name, for the registration.
    pub(crate) ident: &'a Ident,
    /// The saga type's unique name: `name = "…"` or the type's name in
    /// kebab-case.
    pub(crate) name: String,
    /// The handlers, one per event type, in declaration order.
    pub(crate) handlers: Vec<HandlerMethod<'a>>,
    /// The compensations, one per command type, in declaration order.
    pub(crate) compensations: Vec<CompensationMethod<'a>>,
}

impl<'a> SagaBlock<'a> {
    /// Reads the keys and the methods of `block`; `None` after an error.
    pub(crate) fn from_ast(cx: &mut Ctxt, keys: Keys, block: &'a ItemImpl) -> Option<Self> {
        check::no_generics(cx, &block.generics, "a saga");
        let ident = type_name(&block.self_ty);
        if ident.is_none() {
            cx.error_spanned_by(
                &block.self_ty,
                "#[saga] goes on an impl block of the saga's state, a named struct: `#[saga] impl Checkout { … }`",
            );
        }
        let name = match (&keys.name, ident) {
            (Some(lit), _) => {
                rules::name_valid(cx, &lit.value(), lit.span());
                Some(lit.value())
            }
            (None, Some(ident)) => Some(kebab_case(&ident.to_string())),
            (None, None) => None,
        };
        let methods::Methods {
            handlers,
            compensations,
            handlers_written,
            start_written,
        } = methods::read_methods(cx, block);
        let handlers = rules::unique_handlers(cx, handlers);
        let compensations = rules::unique_compensations(cx, compensations);
        if !handlers_written {
            cx.error_spanned_by(
                &block.self_ty,
                "a saga needs at least one handler: `#[saga(start, associate = order_id)] fn placed(&mut self, event: &OrderPlaced) -> ReserveStock` for the event that begins it, and one per event it reacts to",
            );
        } else if !start_written {
            cx.syn_error(syn::Error::new(
                start_span(block),
                "this saga has no starting event, so no saga of this type would ever begin: mark the handler of the event that begins one `#[saga(start, associate = …)]`",
            ));
        }
        match (ident, name) {
            (Some(ident), Some(name)) if cx.is_ok() => Some(SagaBlock {
                self_ty: &block.self_ty,
                ident,
                name,
                handlers,
                compensations,
            }),
            _ => None,
        }
    }
}

/// Where "no starting event" is reported: the block's type.
fn start_span(block: &ItemImpl) -> Span {
    syn::spanned::Spanned::span(&block.self_ty)
}
