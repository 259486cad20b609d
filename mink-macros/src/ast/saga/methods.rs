//! The methods of a `#[saga]` block: handlers (one per event type),
//! compensations (one per command type they undo), and the helpers and
//! constructors left alone.

use syn::{FnArg, ImplItemFn, ItemImpl, Signature, Type};

use super::keys::{self, Associate, Markers};
use super::output::Returns;
use crate::ctxt::Ctxt;

/// One handler: `(&mut self, event: &E [, envelope: &RecordedEvent]
/// [, cx: &mut SagaContext]) -> commands`.
pub(crate) struct HandlerMethod<'a> {
    /// The method's signature.
    pub(crate) sig: &'a Signature,
    /// The event type, without the reference.
    pub(crate) event: &'a Type,
    /// Whether the event is taken by reference.
    pub(crate) by_ref: bool,
    /// The envelope parameter's type, when the method takes one.
    pub(crate) envelope: Option<&'a Type>,
    /// The context parameter's type, when the method takes one.
    pub(crate) context: Option<&'a Type>,
    /// What it returns.
    pub(crate) returns: Returns<'a>,
    /// Whether its event may start a new saga (`start`).
    pub(crate) starts: bool,
    /// How its event finds its saga.
    pub(crate) associate: Associate,
}

/// One compensation: `(&self, done: &C) -> command`.
pub(crate) struct CompensationMethod<'a> {
    /// The method's signature.
    pub(crate) sig: &'a Signature,
    /// The command type it undoes, without the reference.
    pub(crate) command: &'a Type,
    /// Whether the command is taken by reference.
    pub(crate) by_ref: bool,
    /// What it returns: at most one command.
    pub(crate) returns: Returns<'a>,
}

/// The methods of a `#[saga]` block the macro uses.
pub(super) struct Methods<'a> {
    /// The valid handlers, in declaration order.
    pub(super) handlers: Vec<HandlerMethod<'a>>,
    /// The valid compensations, in declaration order.
    pub(super) compensations: Vec<CompensationMethod<'a>>,
    /// Whether any method meant as a handler was written, valid or not.
    pub(super) handlers_written: bool,
    /// Whether `start` was written on a handler, valid or not.
    pub(super) start_written: bool,
}

/// The usage line put in handler signature errors.
const HANDLER_SHAPE: &str = "`fn placed(&mut self, event: &OrderPlaced, envelope: &mink::RecordedEvent, cx: &mut mink::saga::SagaContext) -> ReserveStock`, where `envelope` and `cx` are optional";

/// The usage line put in compensation signature errors.
const COMPENSATION_SHAPE: &str = "`fn release(&self, done: &ReserveStock) -> ReleaseStock`";

/// The handlers and compensations of `block`, reporting wrong ones.
/// Functions without a receiver (constructors) and `#[saga(skip)]`
/// methods are left alone.
pub(super) fn read_methods<'a>(cx: &mut Ctxt, block: &'a ItemImpl) -> Methods<'a> {
    let mut out = Methods {
        handlers: Vec::new(),
        compensations: Vec::new(),
        handlers_written: false,
        start_written: false,
    };
    for item in &block.items {
        let syn::ImplItem::Fn(method) = item else {
            continue;
        };
        let markers = keys::method_markers(cx, &method.attrs);
        if markers.misspelt {
            // Reported already; whatever the method was meant to be, it
            // does not also count as missing.
            out.handlers_written = true;
            out.start_written = true;
            continue;
        }
        let sig = &method.sig;
        if markers.skip.is_some() {
            if markers.start.is_some() || markers.compensate.is_some() || markers.associate_written
            {
                cx.error_spanned_by(
                    &sig.ident,
                    format!(
                        "`{}` is marked `#[saga(skip)]`, which leaves a method alone, and has other saga keys; remove `skip` or the other keys",
                        sig.ident
                    ),
                );
            }
            continue;
        }
        if sig.receiver().is_none() {
            if markers.any() {
                cx.error_spanned_by(
                    &sig.ident,
                    format!(
                        "saga method `{}` takes no `self`; a handler takes `&mut self`, a compensation `&self`",
                        sig.ident
                    ),
                );
            }
            continue;
        }
        if markers.compensate.is_some() {
            if let Some(c) = compensation(cx, method, &markers) {
                out.compensations.push(c);
            }
        } else {
            out.handlers_written = true;
            out.start_written |= markers.start.is_some();
            if let Some(h) = handler(cx, method, markers) {
                out.handlers.push(h);
            }
        }
    }
    out
}

/// Whether a method's receiver is `&self` (`Some(false)`), `&mut self`
/// (`Some(true)`) or something else (`None`).
fn receiver_mutability(sig: &Signature) -> Option<bool> {
    let Some(FnArg::Receiver(recv)) = sig.inputs.first() else {
        return None;
    };
    match &*recv.ty {
        Type::Reference(r) => Some(r.mutability.is_some()),
        _ => None,
    }
}

/// Saga methods are plain functions of concrete types.
fn sync_and_concrete(cx: &mut Ctxt, sig: &Signature, what: &str) -> bool {
    let mut ok = true;
    if let Some(token) = &sig.asyncness {
        cx.error_spanned_by(
            token,
            format!(
                "saga {what} `{}` cannot be `async`: it decides from the state and the event, and the saga manager sends the commands it returns; remove `async`",
                sig.ident
            ),
        );
        ok = false;
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        cx.error_spanned_by(
            &sig.generics,
            format!(
                "saga {what} `{}` cannot be generic: it takes one concrete type",
                sig.ident
            ),
        );
        ok = false;
    }
    ok
}

/// The typed parameters after the receiver.
fn params(sig: &Signature) -> impl Iterator<Item = &Type> {
    sig.inputs.iter().filter_map(|a| match a {
        FnArg::Typed(t) => Some(&*t.ty),
        FnArg::Receiver(_) => None,
    })
}

/// Reads a handler.
fn handler<'a>(
    cx: &mut Ctxt,
    method: &'a ImplItemFn,
    markers: Markers,
) -> Option<HandlerMethod<'a>> {
    let sig = &method.sig;
    let mut ok = true;
    if receiver_mutability(sig).is_none() {
        cx.error_spanned_by(
            sig.inputs.first(),
            format!(
                "saga handler `{}` must take `&mut self` (or `&self`): the manager loads the state, calls the handler and stores the state again; mark a helper `#[saga(skip)]`",
                sig.ident
            ),
        );
        ok = false;
    }
    ok &= sync_and_concrete(cx, sig, "handler");
    let associate = match markers.associate {
        Some((a, _)) => Some(a),
        None => {
            if !markers.associate_written {
                cx.error_spanned_by(
                    &sig.ident,
                    format!(
                        "handler `{}` does not say how its event finds its saga: add `#[saga(associate = order_id)]` (a field of the event, also the key), or `#[saga(associate(key = \"order\", with = order_of))]` with `fn order_of(event: &E) -> impl ToString`",
                        sig.ident
                    ),
                );
            }
            None
        }
    };
    let mut params = params(sig);
    let Some(event_param) = params.next() else {
        cx.error_spanned_by(
            &sig.ident,
            format!(
                "handler `{}` takes no event: a handler is {HANDLER_SHAPE}; mark a helper method `#[saga(skip)]`",
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
    let returns = Returns::read(cx, &sig.output)?;
    Some(HandlerMethod {
        sig,
        event,
        by_ref,
        envelope,
        context,
        returns,
        starts: markers.start.is_some(),
        associate: associate.filter(|_| ok)?,
    })
}

/// Reads a compensation.
fn compensation<'a>(
    cx: &mut Ctxt,
    method: &'a ImplItemFn,
    markers: &Markers,
) -> Option<CompensationMethod<'a>> {
    let sig = &method.sig;
    let mut ok = true;
    if let Some(span) = markers.start {
        cx.syn_error(syn::Error::new(
            span,
            "`start` marks the handler of an event that begins a saga, and a compensation handles no event: remove `start` (or `compensate`)",
        ));
        ok = false;
    }
    if let Some((_, span)) = &markers.associate {
        cx.syn_error(syn::Error::new(
            *span,
            "a compensation takes a command the saga sent, not an event, so it has no association: remove `associate`",
        ));
        ok = false;
    }
    if receiver_mutability(sig) != Some(false) {
        cx.error_spanned_by(
            sig.inputs.first(),
            format!(
                "compensation `{}` must take `&self`: it runs after the saga failed, and returns the command that undoes a completed one without changing the state; it is {COMPENSATION_SHAPE}",
                sig.ident
            ),
        );
        ok = false;
    }
    ok &= sync_and_concrete(cx, sig, "compensation");
    let params: Vec<&Type> = params(sig).collect();
    let (command, by_ref) = match params.as_slice() {
        [Type::Reference(r)] if r.mutability.is_none() => (&*r.elem, true),
        [ty @ (Type::Path(_) | Type::Paren(_) | Type::Group(_))] => (*ty, false),
        _ => {
            cx.error_spanned_by(
                &sig.inputs,
                format!(
                    "compensation `{}` takes one parameter, the completed command it undoes: {COMPENSATION_SHAPE}",
                    sig.ident
                ),
            );
            return None;
        }
    };
    let returns = Returns::read(cx, &sig.output)?;
    if !returns.at_most_one() {
        let at = returns.written.map_or_else(
            || quote::ToTokens::to_token_stream(&sig.ident),
            quote::ToTokens::to_token_stream,
        );
        cx.error_spanned_by(
            at,
            format!(
                "compensation `{}` returns the one command that undoes `{}`: `C` or `Option<C>`, optionally in `Result<_, E>`",
                sig.ident,
                crate::tokens::compact(command)
            ),
        );
        return None;
    }
    ok.then_some(CompensationMethod {
        sig,
        command,
        by_ref,
        returns,
    })
}
