//! `#[derive(Aggregate)]`: the `Aggregate` impl (category, id, fold) and the
//! `EventOf` marker that ties the aggregate to its event type.

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

use crate::ast::aggregate::{Aggregate, Container};
use crate::ctxt::Ctxt;

/// Expands `#[derive(Aggregate)]` on `input`.
pub(crate) fn expand(input: TokenStream) -> syn::Result<TokenStream> {
    let input: DeriveInput = syn::parse2(input)?;
    let mut cx = Ctxt::new();
    let container = Container::from_ast(&mut cx, &input);
    let aggregate = Aggregate::from_ast(&mut cx, &input, &container);
    match cx.finish(aggregate) {
        Ok(aggregate) => Ok(aggregate_impl(&aggregate)),
        Err(errors) => {
            let fallback = fallback_impl(&input, container.events.as_ref());
            Ok(quote!(#fallback #errors))
        }
    }
}

/// The `Aggregate` and `EventOf` impls of a valid aggregate.
fn aggregate_impl(aggregate: &Aggregate<'_>) -> TokenStream {
    let Aggregate {
        ident: ty,
        events,
        category,
        id,
        id_ty,
    } = aggregate;
    quote! {
        const _: () = {
            #[automatically_derived]
            impl ::mink::__private::Aggregate for #ty {
                type Event = #events;

                const CATEGORY: &'static str = #category;

                fn aggregate_id(&self) -> ::std::string::String {
                    ::std::string::ToString::to_string(&self.#id)
                }

                fn set_aggregate_id(
                    &mut self,
                    __id: &str,
                ) -> ::core::result::Result<(), ::mink::__private::Error> {
                    self.#id = ::mink::__private::parse_id::<#id_ty>(__id)?;
                    ::core::result::Result::Ok(())
                }

                fn apply_event(&mut self, __event: &#events) {
                    #ty::apply(self, __event)
                }

                fn clone_state(&self) -> ::core::option::Option<Self> {
                    #[allow(unused_imports)]
                    use ::mink::__private::{CloneViaDefault as _, CloneViaImpl as _};
                    (&&::mink::__private::Probe(self)).__mink_clone_state()
                }
            }

            #[automatically_derived]
            impl ::mink::__private::EventOf<#ty> for #events {
                fn into_aggregate_event(self) -> #events {
                    self
                }
            }
        };
    }
}

/// A minimal impl emitted next to errors when the event type is known, so
/// the aggregate's commands and handlers do not add errors of their own.
fn fallback_impl(input: &DeriveInput, events: Option<&syn::Path>) -> TokenStream {
    let is_struct = matches!(input.data, syn::Data::Struct(_));
    let (Some(events), true, true) = (events, is_struct, input.generics.params.is_empty()) else {
        return TokenStream::new();
    };
    let ty = &input.ident;
    quote! {
        const _: () = {
            impl ::mink::__private::Aggregate for #ty {
                type Event = #events;
                const CATEGORY: &'static str = "";
                fn aggregate_id(&self) -> ::std::string::String { ::core::unreachable!() }
                fn set_aggregate_id(&mut self, _: &str)
                    -> ::core::result::Result<(), ::mink::__private::Error> { ::core::unreachable!() }
                fn apply_event(&mut self, _: &#events) { ::core::unreachable!() }
            }

            impl ::mink::__private::EventOf<#ty> for #events {
                fn into_aggregate_event(self) -> #events { self }
            }
        };
    }
}
