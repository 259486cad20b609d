//! The validated views of `#[command_handler]`: on an aggregate's impl
//! block ([`HandlerBlock`]) and on an `async fn` handling a command without
//! an aggregate ([`PlainHandler`]).

use proc_macro2::TokenStream;
use syn::{FnArg, Ident, ImplItemFn, ItemFn, ItemImpl, PatType, ReturnType, Signature, Type};

use crate::attr;
use crate::check;
use crate::ctxt::Ctxt;

/// `#[command_handler]` itself takes no arguments, whichever item it is on.
pub(crate) fn no_arguments(cx: &mut Ctxt, args: &TokenStream) {
    if !args.is_empty() {
        cx.error_spanned_by(
            args,
            "#[command_handler] on an impl block takes no arguments; `#[command_handler(skip)]` goes on a method",
        );
    }
}

/// A `#[command_handler]` impl block with its handler methods.
///
/// Built even when some methods are wrong: the valid handlers still get
/// their impls, so a mistake in one does not turn every dispatch of the
/// others into an error.
pub(crate) struct HandlerBlock<'a> {
    /// The aggregate the block is on.
    pub(crate) self_ty: &'a Type,
    /// The handlers, at most one per command.
    pub(crate) handlers: Vec<HandlerMethod<'a>>,
}

impl<'a> HandlerBlock<'a> {
    /// Finds the handler methods of `block`, reporting wrong ones.
    pub(crate) fn from_ast(cx: &mut Ctxt, block: &'a ItemImpl) -> Self {
        check::no_generics(cx, &block.generics, "an aggregate");
        let handlers = handler_methods(cx, block);
        HandlerBlock {
            self_ty: &block.self_ty,
            handlers: check::unique_handlers(cx, handlers),
        }
    }
}

/// One handler method of a `#[command_handler]` block.
pub(crate) struct HandlerMethod<'a> {
    /// The method's signature, whose span the `Handles` impl carries.
    pub(crate) sig: &'a Signature,
    /// The command, taken by value.
    pub(crate) command: &'a Type,
    /// The return type, checked against `HandlerOutput` by the compiler.
    pub(crate) output: &'a Type,
}

/// Whether an impl-block method is skipped by `#[command_handler(skip)]`.
fn is_skipped(cx: &mut Ctxt, method: &ImplItemFn) -> bool {
    let mut skip = false;
    attr::for_each_key(cx, &method.attrs, "command_handler", |cx, meta| {
        // A method with a misspelt key is skipped too: treating it as a
        // handler would add errors about its signature to the real one.
        skip = true;
        if meta.path.is_ident("skip") {
            Ok(())
        } else {
            attr::unknown_key(cx, "command_handler", meta, &["skip"])
        }
    });
    skip
}

/// Finds the handler methods of a `#[command_handler]` block: every method
/// taking `&self` and one by-value argument, except `apply` and those
/// marked `#[command_handler(skip)]`.
fn handler_methods<'a>(cx: &mut Ctxt, block: &'a ItemImpl) -> Vec<HandlerMethod<'a>> {
    let mut found = Vec::new();
    for item in &block.items {
        let syn::ImplItem::Fn(method) = item else {
            continue;
        };
        if is_skipped(cx, method) || method.sig.ident == "apply" {
            continue;
        }
        let inputs: Vec<_> = method.sig.inputs.iter().collect();
        let [FnArg::Receiver(recv), FnArg::Typed(arg)] = inputs.as_slice() else {
            continue;
        };
        if recv.reference.is_none() || recv.mutability.is_some() {
            continue;
        }
        if matches!(*arg.ty, Type::Reference(_)) {
            continue;
        }
        let ReturnType::Type(_, output) = &method.sig.output else {
            cx.error_spanned_by(
                &method.sig,
                format!(
                    "handler `{}` must return `Result<Vec<Event>, Error>`; a method that is not a handler takes `#[command_handler(skip)]`",
                    method.sig.ident
                ),
            );
            continue;
        };
        if method.sig.asyncness.is_some() {
            cx.error_spanned_by(
                method.sig.asyncness,
                "handlers decide synchronously from the loaded state; remove `async`",
            );
            continue;
        }
        found.push(HandlerMethod {
            sig: &method.sig,
            command: &arg.ty,
            output,
        });
    }
    found
}

/// A validated `#[command_handler] async fn` for a command without an
/// aggregate.
pub(crate) struct PlainHandler<'a> {
    /// The function's name; the handler impl carries its span.
    pub(crate) ident: &'a Ident,
    /// The command, the first argument.
    pub(crate) command: &'a Type,
    /// The return type, checked against `PlainOutput` by the compiler.
    pub(crate) output: &'a Type,
    /// Whether a second argument takes the `HandlerContext`.
    pub(crate) takes_context: bool,
}

impl<'a> PlainHandler<'a> {
    /// Reads the function's signature; `None` after an error.
    pub(crate) fn from_ast(cx: &mut Ctxt, item: &'a ItemFn) -> Option<Self> {
        let sig = &item.sig;
        check::no_generics(cx, &sig.generics, "a plain command handler");
        if sig.asyncness.is_none() {
            cx.error_spanned_by(
                sig.fn_token,
                "a plain command handler is an `async fn`: `#[command_handler] async fn …(cmd: MyCommand, ctx: mink::HandlerContext) -> Result<(), MyError>`",
            );
        }
        let args: Vec<&PatType> = sig
            .inputs
            .iter()
            .filter_map(|a| match a {
                FnArg::Typed(t) => Some(t),
                FnArg::Receiver(r) => {
                    cx.error_spanned_by(
                        r,
                        "a plain command handler is a free function; handlers taking `&self` belong in a `#[command_handler] impl` block of an aggregate",
                    );
                    None
                }
            })
            .collect();
        let command = match args.as_slice() {
            [cmd] | [cmd, _] => Some(&*cmd.ty),
            _ => {
                cx.error_spanned_by(
                    &sig.inputs,
                    "a plain command handler takes the command and, optionally, a `mink::HandlerContext`",
                );
                None
            }
        };
        let output = match &sig.output {
            ReturnType::Type(_, ty) => Some(&**ty),
            ReturnType::Default => {
                cx.error_spanned_by(
                    sig,
                    "a plain command handler returns `Result<(), YourError>`",
                );
                None
            }
        };
        match (command, output) {
            (Some(command), Some(output)) if cx.is_ok() => Some(PlainHandler {
                ident: &sig.ident,
                command,
                output,
                takes_context: args.len() == 2,
            }),
            _ => None,
        }
    }
}
