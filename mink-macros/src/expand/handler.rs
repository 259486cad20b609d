//! `#[command_handler]` on an `impl` block: one `Handles<C>` impl and one
//! registration per handler method. On an `async fn`, see
//! [`super::plain_handler`].

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::ItemImpl;
use syn::spanned::Spanned;

use crate::ast::handler::{self, HandlerBlock, HandlerMethod};
use crate::attr;
use crate::ctxt::Ctxt;
use crate::tokens;

/// Expands `#[command_handler(args)]` on `input`, an impl block or an
/// `async fn`.
pub(crate) fn expand(args: TokenStream, input: TokenStream) -> syn::Result<TokenStream> {
    let item: syn::Item = syn::parse2(input)?;
    let mut cx = Ctxt::new();
    handler::no_arguments(&mut cx, &args);
    let block = match item {
        syn::Item::Impl(block) if block.trait_.is_none() => block,
        syn::Item::Fn(f) => return Ok(super::plain_handler::expand(cx, f)),
        other => {
            cx.error_spanned_by(
                &other,
                "#[command_handler] goes on an inherent impl block of an aggregate (`#[command_handler] impl Order { … }`) or on an `async fn` handling a plain command",
            );
            let errors = cx.into_compile_errors();
            return Ok(quote!(#other #errors));
        }
    };
    // Unlike the other macros, the valid handlers get their impls even
    // next to errors: see `HandlerBlock`.
    let view = HandlerBlock::from_ast(&mut cx, &block);
    let output = stripped(&block);
    let errors = cx.into_compile_errors();
    let impls = view.handlers.iter().map(|h| handler_impl(view.self_ty, h));
    Ok(quote! {
        #output
        #errors
        #(#impls)*
    })
}

/// The `Handles<C>` impl and the registration of one handler method of
/// aggregate `agg`.
fn handler_impl(agg: &syn::Type, h: &HandlerMethod<'_>) -> TokenStream {
    let cmd = h.command;
    let output = h.output;
    let method = &h.sig.ident;
    let method_name = method.to_string();
    let agg_name = format!("::{}", tokens::compact(agg));
    let cmd_name = tokens::compact(cmd);
    // Each check is spanned on the user's tokens it is about: a command of
    // another aggregate on the argument type, a wrong return type on the
    // return type, and a second handler for one command (rustc's
    // "conflicting implementations") on both methods. Only the impl's
    // own tokens carry the method's span: spanning its items too would
    // repeat a wrong return type's error once per use of `Self::Error`.
    let assert_command = quote_spanned! {cmd.span()=>
        ::mink::__private::assert_command_for::<#cmd, #agg>();
    };
    let error_type = quote_spanned! {output.span()=>
        <#output as ::mink::__private::HandlerOutput<#agg>>::Error
    };
    let into_events = quote_spanned! {output.span()=>
        ::mink::__private::HandlerOutput::<#agg>::into_events
    };
    let body = quote! {
        type Error = #error_type;

        fn handle(
            &self,
            __command: #cmd,
        ) -> ::core::result::Result<
            ::std::vec::Vec<<#agg as ::mink::__private::Aggregate>::Event>,
            Self::Error,
        > {
            #assert_command
            #into_events(<#agg>::#method(self, __command))
        }
    };
    let handles_impl = quote_spanned! {h.sig.span()=>
        #[automatically_derived]
        impl ::mink::__private::Handles<#cmd> for #agg {
            #body
        }
    };
    quote! {
        const _: () = {
            #handles_impl

            ::mink::__private::inventory::submit! {
                ::mink::__private::HandlerRegistration {
                    command: #cmd_name,
                    aggregate: ::core::concat!(::core::module_path!(), #agg_name),
                    method: #method_name,
                }
            }
        };
    }
}

/// The block without the inert `#[command_handler(skip)]` markers.
fn stripped(block: &ItemImpl) -> ItemImpl {
    let mut out = block.clone();
    for item in &mut out.items {
        if let syn::ImplItem::Fn(f) = item {
            attr::strip(&mut f.attrs, "command_handler");
        }
    }
    out
}
