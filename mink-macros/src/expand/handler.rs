//! `#[command_handler]` on an `impl` block: one `Handles<C>` impl and one
//! registration per handler method. On an `async fn`, see
//! [`super::plain_handler`].

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::ItemImpl;
use syn::spanned::Spanned;

use crate::ast::{self, HandlerMethod};
use crate::attr;
use crate::check;
use crate::ctxt::Ctxt;

pub(crate) fn expand(args: TokenStream, input: TokenStream) -> syn::Result<TokenStream> {
    let item: syn::Item = syn::parse2(input)?;
    let mut cx = Ctxt::new();
    if !args.is_empty() {
        cx.error_spanned_by(
            &args,
            "#[command_handler] on an impl block takes no arguments; `#[command_handler(skip)]` goes on a method",
        );
    }
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
    check::no_generics(&mut cx, &block.generics, "an aggregate");
    let handlers = ast::handler_methods(&mut cx, &block);
    let handlers = check::unique_handlers(&mut cx, handlers);
    let output = stripped(&block);
    let errors = cx.into_compile_errors();
    let impls = handlers.iter().map(|h| handler_impl(&block, h));
    Ok(quote! {
        #output
        #errors
        #(#impls)*
    })
}

fn handler_impl(block: &ItemImpl, h: &HandlerMethod<'_>) -> TokenStream {
    let agg = &block.self_ty;
    let cmd = h.command;
    let output = h.output;
    let method = &h.method.sig.ident;
    let method_name = method.to_string();
    let agg_name = format!("::{}", quote!(#agg)).replace(' ', "");
    let cmd_name = quote!(#cmd).to_string().replace(' ', "");
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
    let handles_impl = quote_spanned! {h.method.sig.span()=>
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

fn stripped(block: &ItemImpl) -> ItemImpl {
    let mut out = block.clone();
    for item in &mut out.items {
        if let syn::ImplItem::Fn(f) = item {
            attr::strip(&mut f.attrs, "command_handler");
        }
    }
    out
}
