//! `#[command(aggregate = …)]`: the `Command` impl and the `CommandFor`
//! marker a handler is checked against. Without `aggregate`, a plain
//! command, handled by a `#[command_handler]` function.

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
    if cmd.aggregate.is_some() && !matches!(item.fields, syn::Fields::Named(_)) {
        cx.error_spanned_by(
            &item.ident,
            "a command of an aggregate needs a struct with named fields, one of them `#[command(id)]`",
        );
    } else if cmd.aggregate.is_some() && cmd.id_field.is_none() {
        cx.error_spanned_by(
            &item.ident,
            "missing id field: mark the field holding the target aggregate's id with `#[command(id)]`",
        );
    }
    let output = stripped(&item);
    let derives = derives(&item);
    let output = quote!(#derives #output);
    if !cx.is_ok() {
        let fallback = fallback_impl(&item, cmd.aggregate.as_ref());
        let errors = cx.into_compile_errors();
        return Ok(quote!(#output #fallback #errors));
    }
    let ty = cmd.ident;
    let name = cmd
        .name
        .as_ref()
        .map_or_else(|| ty.to_string(), syn::LitStr::value);
    let (target, command_for) = match &cmd.aggregate {
        Some(aggregate) => {
            // Spanned on the aggregate path, so naming a type that is not
            // an aggregate is reported there.
            let command_for = quote_spanned! {aggregate.span()=>
                #[automatically_derived]
                impl ::mink::__private::CommandFor<#aggregate> for #ty {}
            };
            (quote!(#aggregate), command_for)
        }
        None => (quote!(::mink::__private::Plain), TokenStream::new()),
    };
    let aggregate_id = match &cmd.id_field {
        Some(id) => quote!(::std::string::ToString::to_string(&self.#id)),
        None => quote!(::std::string::String::new()),
    };
    Ok(quote! {
        #output

        const _: () = {
            #[automatically_derived]
            impl ::mink::__private::Command for #ty {
                type Aggregate = #target;

                const NAME: &'static str = #name;

                fn aggregate_id(&self) -> ::std::string::String {
                    #aggregate_id
                }

                fn validate(
                    &self,
                ) -> ::core::result::Result<(), ::mink::__private::ValidationErrors> {
                    #[allow(unused_imports)]
                    use ::mink::__private::{ValidateViaDefault as _, ValidateViaImpl as _};
                    (&&::mink::__private::Probe(self)).__mink_validate()
                }

                fn idempotency_key(&self) -> ::core::option::Option<::std::string::String> {
                    #[allow(unused_imports)]
                    use ::mink::__private::{KeyViaDefault as _, KeyViaImpl as _};
                    (&&::mink::__private::Probe(self)).__mink_idempotency_key()
                }
            }

            #command_for
        };
    })
}

/// `Clone`, `Serialize` and `Deserialize`, leaving out those the user
/// already derives: commands are cloned to retry and serialized for
/// idempotency keys and queues.
fn derives(item: &ItemStruct) -> TokenStream {
    let mut has = [false; 3];
    for a in item.attrs.iter().filter(|a| a.path().is_ident("derive")) {
        let _ = a.parse_nested_meta(|meta| {
            if let Some(last) = meta.path.segments.last() {
                for (i, name) in ["Clone", "Serialize", "Deserialize"].iter().enumerate() {
                    has[i] |= last.ident == name;
                }
            }
            Ok(())
        });
    }
    let mut list = Vec::new();
    if !has[0] {
        list.push(quote!(::core::clone::Clone));
    }
    if !has[1] {
        list.push(quote!(::mink::__private::serde::Serialize));
    }
    if !has[2] {
        list.push(quote!(::mink::__private::serde::Deserialize));
    }
    let serde_crate =
        (!has[1] || !has[2]).then(|| quote!(#[serde(crate = "::mink::__private::serde")]));
    if list.is_empty() {
        return TokenStream::new();
    }
    quote! {
        #[derive(#(#list),*)]
        #serde_crate
    }
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
