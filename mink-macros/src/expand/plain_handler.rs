//! `#[command_handler]` on an `async fn`: the handler of a plain command
//! (one declared with `#[command]` and no `aggregate`).

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::ItemFn;
use syn::spanned::Spanned;

use crate::ast::handler::PlainHandler;
use crate::ctxt::Ctxt;
use crate::tokens;

/// Expands `#[command_handler]` on the function `item`; `cx` may already
/// hold an error about the macro's arguments.
pub(crate) fn expand(mut cx: Ctxt, item: ItemFn) -> TokenStream {
    let handler = PlainHandler::from_ast(&mut cx, &item);
    match cx.finish(handler) {
        Ok(handler) => handler_impl(&handler, &item),
        Err(errors) => quote!(#item #errors),
    }
}

/// The function (`item`) followed by the `PlainHandler` impl on its command
/// and the registration.
fn handler_impl(handler: &PlainHandler<'_>, item: &ItemFn) -> TokenStream {
    let PlainHandler {
        ident: name,
        command,
        output,
        takes_context,
    } = *handler;
    let name_str = name.to_string();
    let cmd_name = tokens::compact(command);
    let call = if takes_context {
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
    let impl_ = quote_spanned! {name.span()=>
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
