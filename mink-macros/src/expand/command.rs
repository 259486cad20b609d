//! `#[command(aggregate = …)]`: the `Command` impl and the `CommandFor`
//! marker a handler is checked against.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::ItemStruct;
use syn::spanned::Spanned;

use crate::ast;
use crate::attr;
use crate::check;
use crate::ctxt::Ctxt;

pub(crate) fn expand(args: TokenStream, input: TokenStream) -> syn::Result<TokenStream> {
    let item: syn::Item = syn::parse2(input)?;
    let mut cx = Ctxt::new();
    let item = match item {
        syn::Item::Struct(s) => s,
        other => {
            cx.error_spanned_by(
                &other,
                "#[command] goes on a struct with named fields, one of them `#[command(id)]`",
            );
            let errors = cx.into_compile_errors();
            return Ok(quote!(#other #errors));
        }
    };
    check::no_generics(&mut cx, &item.generics, "a command");
    let cmd = ast::command_input(&mut cx, args, &item);
    if cmd.aggregate.is_none() {
        cx.error_spanned_by(
            &item.ident,
            "missing `aggregate`: write `#[command(aggregate = YourAggregate)]`",
        );
    }
    if cmd.id_field.is_none() && matches!(item.fields, syn::Fields::Named(_)) {
        cx.error_spanned_by(
            &item.ident,
            "missing id field: mark the field holding the target aggregate's id with `#[command(id)]`",
        );
    }
    let output = stripped(&item);
    if !cx.is_ok() {
        let fallback = fallback_impl(&item, cmd.aggregate.as_ref());
        let errors = cx.into_compile_errors();
        return Ok(quote!(#output #fallback #errors));
    }
    let (Some(aggregate), Some(id)) = (&cmd.aggregate, &cmd.id_field) else {
        unreachable!("checked above")
    };
    let ty = cmd.ident;
    let name = cmd
        .name
        .as_ref()
        .map_or_else(|| ty.to_string(), syn::LitStr::value);
    // Spanned on the aggregate path, so naming a type that is not an
    // aggregate is reported there.
    let command_for = quote_spanned! {aggregate.span()=>
        impl ::mink::__private::CommandFor<#aggregate> for #ty {}
    };
    Ok(quote! {
        #output

        const _: () = {
            #[automatically_derived]
            impl ::mink::__private::Command for #ty {
                type Aggregate = #aggregate;

                const NAME: &'static str = #name;

                fn aggregate_id(&self) -> ::std::string::String {
                    ::std::string::ToString::to_string(&self.#id)
                }
            }

            #[automatically_derived]
            #command_for
        };
    })
}

fn stripped(item: &ItemStruct) -> ItemStruct {
    let mut out = item.clone();
    for f in out.fields.iter_mut() {
        attr::strip(&mut f.attrs, "command");
    }
    out
}

/// A minimal impl emitted next to errors when the aggregate is known, so
/// handlers and dispatch sites of the command do not add errors of their
/// own.
fn fallback_impl(item: &ItemStruct, aggregate: Option<&syn::Path>) -> TokenStream {
    let (Some(aggregate), true) = (aggregate, item.generics.params.is_empty()) else {
        return TokenStream::new();
    };
    let ty = &item.ident;
    quote! {
        const _: () = {
            impl ::mink::__private::Command for #ty {
                type Aggregate = #aggregate;
                const NAME: &'static str = "";
                fn aggregate_id(&self) -> ::std::string::String { ::core::unreachable!() }
            }

            impl ::mink::__private::CommandFor<#aggregate> for #ty {}
        };
    }
}
