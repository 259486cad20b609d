//! `#[command(aggregate = …)]`: the `Command` impl and the `CommandFor`
//! marker a handler is checked against. Without `aggregate`, a command
//! handled by a `#[command_handler]` function.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::ItemStruct;
use syn::spanned::Spanned;

use crate::ast::command::{Command, Container, Target};
use crate::attr::{self, UserDerives};
use crate::ctxt::Ctxt;

/// Expands `#[command(args)]` on `input`.
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
    let container = Container::from_ast(&mut cx, args, &item);
    let command = Command::from_ast(&mut cx, &item, &container);
    // Commands are cloned to retry and serialized for idempotency keys and
    // queues.
    let derives = super::missing_derives(UserDerives::of(&item.attrs), true);
    let output = stripped(&item);
    let output = quote!(#derives #output);
    match cx.finish(command) {
        Ok(command) => Ok(command_impl(&command, output)),
        Err(errors) => {
            let fallback = fallback_impl(&item, container.aggregate.as_ref());
            Ok(quote!(#output #fallback #errors))
        }
    }
}

/// The struct (`output`) followed by the `Command` impl of a valid command
/// and, for a command of an aggregate, its `CommandFor` marker.
fn command_impl(command: &Command<'_>, output: TokenStream) -> TokenStream {
    let ty = command.ident;
    let name = &command.name;
    let (target, command_for, aggregate_id) = match &command.target {
        Target::Aggregate { path, id } => {
            // Spanned on the aggregate path, so naming a type that is not
            // an aggregate is reported there.
            let command_for = quote_spanned! {path.span()=>
                #[automatically_derived]
                impl ::mink::__private::CommandFor<#path> for #ty {}
            };
            let aggregate_id = quote!(::core::option::Option::Some(
                ::std::string::ToString::to_string(&self.#id)
            ));
            (quote!(#path), command_for, aggregate_id)
        }
        Target::NoAggregate { id } => {
            let aggregate_id = match id {
                Some(id) => quote!(::core::option::Option::Some(
                    ::std::string::ToString::to_string(&self.#id)
                )),
                None => quote!(::core::option::Option::None),
            };
            (
                quote!(::mink::__private::NoAggregate),
                TokenStream::new(),
                aggregate_id,
            )
        }
    };
    quote! {
        #output

        const _: () = {
            #[automatically_derived]
            impl ::mink::__private::Command for #ty {
                type Aggregate = #target;

                const NAME: &'static str = #name;

                fn aggregate_id(&self) -> ::core::option::Option<::std::string::String> {
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
    }
}

/// The struct without the inert `#[command(id)]` markers on its fields.
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
                fn aggregate_id(&self) -> ::core::option::Option<::std::string::String> { ::core::unreachable!() }
            }

            impl ::mink::__private::CommandFor<#aggregate> for #ty {}
        };
    }
}
