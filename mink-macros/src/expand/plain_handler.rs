//! `#[command_handler]` on an `async fn`: the handler of a plain command
//! (one declared with `#[command]` and no `aggregate`).

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, Type};

use crate::check;
use crate::ctxt::Ctxt;

pub(crate) fn expand(mut cx: Ctxt, item: ItemFn) -> TokenStream {
    let sig = &item.sig;
    check::no_generics(&mut cx, &sig.generics, "a plain command handler");
    if sig.asyncness.is_none() {
        cx.error_spanned_by(
            sig.fn_token,
            "a plain command handler is an `async fn`: `#[command_handler] async fn …(cmd: MyCommand, ctx: mink::HandlerContext) -> Result<(), MyError>`",
        );
    }
    let args: Vec<&syn::PatType> = sig
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
    let command: Option<&Type> = match args.as_slice() {
        [cmd] | [cmd, _] => Some(&cmd.ty),
        _ => {
            cx.error_spanned_by(
                &sig.inputs,
                "a plain command handler takes the command and, optionally, a `mink::HandlerContext`",
            );
            None
        }
    };
    let output = match &sig.output {
        syn::ReturnType::Type(_, ty) => Some(ty),
        syn::ReturnType::Default => {
            cx.error_spanned_by(
                sig,
                "a plain command handler returns `Result<(), YourError>`",
            );
            None
        }
    };
    let (Some(command), Some(output), true) = (command, output, cx.is_ok()) else {
        let errors = cx.into_compile_errors();
        return quote!(#item #errors);
    };

    let name = &sig.ident;
    let name_str = name.to_string();
    let cmd_name = quote!(#command).to_string().replace(' ', "");
    let call = if args.len() == 2 {
        quote!(#name(self, __ctx))
    } else {
        quote!({
            let _ = __ctx;
            #name(self)
        })
    };
    let error_type = quote_spanned! {output.span()=>
        <#output as ::mink::__private::PlainOutput>::Error
    };
    let impl_ = quote_spanned! {sig.ident.span()=>
        #[automatically_derived]
        impl ::mink::__private::PlainHandler for #command {
            type Error = #error_type;

            fn handle(
                self,
                __ctx: ::mink::__private::HandlerContext,
            ) -> ::mink::__private::HandlerFuture<Self::Error> {
                ::std::boxed::Box::pin(#call)
            }
        }
    };
    quote! {
        #item

        const _: () = {
            #impl_

            ::mink::__private::inventory::submit! {
                ::mink::__private::HandlerRegistration {
                    command: #cmd_name,
                    aggregate: "",
                    method: ::core::concat!(::core::module_path!(), "::", #name_str),
                }
            }
        };
    }
}
