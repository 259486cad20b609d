//! The methods of a `#[projection]` block: handlers, the reset method,
//! and the helpers and constructors left alone.

use syn::{FnArg, ImplItemFn, ItemImpl, ReturnType, Signature, Type};

use crate::attr;
use crate::ctxt::Ctxt;

/// One handler method: `(&self, event: &E [, envelope: &RecordedEvent]
/// [, ctx: &mut ProjectionContext<'_>])`.
pub(crate) struct HandlerMethod<'a> {
    /// The method's signature.
    pub(crate) sig: &'a Signature,
    /// The event type, without the reference.
    pub(crate) event: &'a Type,
    /// Whether the event is taken by reference (`&E`) or by value (`E`).
    pub(crate) by_ref: bool,
    /// The envelope parameter's type, when the method takes one.
    pub(crate) envelope: Option<&'a Type>,
    /// The context parameter's type, when the method takes one.
    pub(crate) context: Option<&'a Type>,
    /// The return type; `None` for `()`.
    pub(crate) output: Option<&'a Type>,
}

/// The `#[projection(reset)]` method: `(&self [, ctx: &mut
/// ProjectionContext<'_>])`.
pub(crate) struct ResetMethod<'a> {
    /// The method's signature.
    pub(crate) sig: &'a Signature,
    /// The context parameter's type, when the method takes one.
    pub(crate) context: Option<&'a Type>,
    /// The return type; `None` for `()`.
    pub(crate) output: Option<&'a Type>,
}

/// What `#[projection(…)]` on a method says.
#[derive(Clone, Copy, PartialEq, Eq)]
enum MethodRole {
    /// No marker: a handler.
    Handler,
    /// `#[projection(skip)]`: a helper the macro leaves alone.
    Skip,
    /// `#[projection(reset)]`.
    Reset,
}

/// Reads a method's `#[projection(…)]` markers.
fn method_role(cx: &mut Ctxt, method: &ImplItemFn) -> MethodRole {
    let mut role = MethodRole::Handler;
    let mut misspelt = false;
    attr::for_each_key(cx, &method.attrs, "projection", |cx, meta| {
        let this = if meta.path.is_ident("skip") {
            MethodRole::Skip
        } else if meta.path.is_ident("reset") {
            MethodRole::Reset
        } else {
            misspelt = true;
            return attr::unknown_key(cx, "projection", meta, &["reset", "skip"]);
        };
        if role != MethodRole::Handler && role != this {
            cx.error_spanned_by(
                &meta.path,
                "a method is either `#[projection(reset)]` or `#[projection(skip)]`, not both",
            );
        }
        role = this;
        Ok(())
    });
    // A misspelt marker leaves the method alone: treating it as a handler
    // would add errors about its signature.
    if misspelt { MethodRole::Skip } else { role }
}

/// The methods of a `#[projection]` block the macro uses.
pub(super) struct Methods<'a> {
    /// The valid handlers, in declaration order.
    pub(super) handlers: Vec<HandlerMethod<'a>>,
    /// The valid reset method.
    pub(super) reset: Option<ResetMethod<'a>>,
    /// Whether any method meant as a handler was written, valid or not.
    pub(super) handlers_written: bool,
}

/// The handlers and the reset method of `block`, reporting wrong ones.
/// Functions without a receiver (constructors) are left alone.
pub(super) fn read_methods<'a>(cx: &mut Ctxt, block: &'a ItemImpl) -> Methods<'a> {
    let mut handlers = Vec::new();
    let mut reset: Option<ResetMethod<'a>> = None;
    let mut handlers_written = false;
    for item in &block.items {
        let syn::ImplItem::Fn(method) = item else {
            continue;
        };
        let role = method_role(cx, method);
        let sig = &method.sig;
        if role == MethodRole::Reset && sig.receiver().is_none() {
            cx.error_spanned_by(
                &sig.ident,
                format!(
                    "reset method `{}` takes `&self` and, optionally, `ctx: &mut mink::projection::ProjectionContext<'_>`",
                    sig.ident
                ),
            );
            continue;
        }
        if role == MethodRole::Skip || sig.receiver().is_none() {
            continue;
        }
        handlers_written |= role == MethodRole::Handler;
        if !receiver_ok(cx, sig) || !no_method_generics(cx, sig) {
            continue;
        }
        let output = match &sig.output {
            ReturnType::Default => None,
            ReturnType::Type(_, ty) => Some(&**ty),
        };
        if role == MethodRole::Reset {
            let Some(method) = reset_method(cx, sig, output) else {
                continue;
            };
            if let Some(first) = &reset {
                cx.error_spanned_by(
                    &sig.ident,
                    format!(
                        "a projection has one reset method, and `{}` is already marked `#[projection(reset)]`; merge the two",
                        first.sig.ident
                    ),
                );
            } else {
                reset = Some(method);
            }
        } else if let Some(h) = handler_method(cx, sig, output) {
            handlers.push(h);
        }
    }
    Methods {
        handlers,
        reset,
        handlers_written,
    }
}

/// Handlers and reset take `&self`: the engine shares one instance between
/// its workers and the application.
fn receiver_ok(cx: &mut Ctxt, sig: &Signature) -> bool {
    let Some(FnArg::Receiver(recv)) = sig.inputs.first() else {
        return false;
    };
    let shared_ref = match &*recv.ty {
        Type::Reference(r) => r.mutability.is_none(),
        _ => false,
    };
    if !shared_ref {
        cx.error_spanned_by(
            recv,
            format!(
                "projection method `{}` must take `&self`: one instance serves every event, shared between tasks; keep changing state in the read model's store or behind a lock, or mark a helper `#[projection(skip)]`",
                sig.ident
            ),
        );
    }
    shared_ref
}

/// Handler and reset methods are called with concrete types.
fn no_method_generics(cx: &mut Ctxt, sig: &Signature) -> bool {
    let generic = !sig.generics.params.is_empty() || sig.generics.where_clause.is_some();
    if generic {
        cx.error_spanned_by(
            &sig.generics,
            format!(
                "projection method `{}` cannot be generic: it handles one concrete event type",
                sig.ident
            ),
        );
    }
    !generic
}

/// The usage line put in signature errors.
const HANDLER_SHAPE: &str = "`fn on_placed(&self, event: &OrderPlaced, envelope: &mink::RecordedEvent, ctx: &mut mink::projection::ProjectionContext<'_>)`, where `envelope` and `ctx` are optional";

/// Reads a handler's parameters: the event, then optionally the envelope
/// (`&_`) and the context (`&mut _`), in that order.
fn handler_method<'a>(
    cx: &mut Ctxt,
    sig: &'a Signature,
    output: Option<&'a Type>,
) -> Option<HandlerMethod<'a>> {
    // The receiver, checked by the caller, is the first input.
    let mut params = sig.inputs.iter().skip(1).filter_map(|a| match a {
        FnArg::Typed(t) => Some(&*t.ty),
        FnArg::Receiver(_) => None,
    });
    let Some(event_param) = params.next() else {
        cx.error_spanned_by(
            &sig.ident,
            format!(
                "handler `{}` takes no event: a handler takes the event it applies, {HANDLER_SHAPE}; mark a helper method `#[projection(skip)]`",
                sig.ident
            ),
        );
        return None;
    };
    let (event, by_ref) = match event_param {
        Type::Reference(r) if r.mutability.is_some() => {
            cx.error_spanned_by(
                event_param,
                format!(
                    "handler `{}` takes the event by `&mut`; take it by shared reference `&E` or by value `E`",
                    sig.ident
                ),
            );
            return None;
        }
        Type::Reference(r) => (&*r.elem, true),
        other => (other, false),
    };
    let mut envelope = None;
    let mut context = None;
    for param in params {
        match param {
            Type::Reference(r) if r.mutability.is_some() && context.is_none() => {
                context = Some(param);
            }
            Type::Reference(r)
                if r.mutability.is_none() && envelope.is_none() && context.is_none() =>
            {
                envelope = Some(param);
            }
            _ => {
                let why = match param {
                    Type::Reference(r) if r.mutability.is_none() && context.is_some() => {
                        "the envelope goes before the context"
                    }
                    _ => "unexpected parameter",
                };
                cx.error_spanned_by(
                    param,
                    format!(
                        "{why} in handler `{}`; a handler is {HANDLER_SHAPE}",
                        sig.ident
                    ),
                );
                return None;
            }
        }
    }
    Some(HandlerMethod {
        sig,
        event,
        by_ref,
        envelope,
        context,
        output,
    })
}

/// Reads the reset method's parameters: nothing, or the context.
fn reset_method<'a>(
    cx: &mut Ctxt,
    sig: &'a Signature,
    output: Option<&'a Type>,
) -> Option<ResetMethod<'a>> {
    let params: Vec<&Type> = sig
        .inputs
        .iter()
        .skip(1)
        .filter_map(|a| match a {
            FnArg::Typed(t) => Some(&*t.ty),
            FnArg::Receiver(_) => None,
        })
        .collect();
    let context = match params.as_slice() {
        [] => None,
        [ctx @ Type::Reference(r)] if r.mutability.is_some() => Some(*ctx),
        _ => {
            cx.error_spanned_by(
                &sig.inputs,
                format!(
                    "reset method `{}` takes `&self` and, optionally, `ctx: &mut mink::projection::ProjectionContext<'_>`",
                    sig.ident
                ),
            );
            return None;
        }
    };
    Some(ResetMethod {
        sig,
        context,
        output,
    })
}
