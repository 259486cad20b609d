//! `#[derive(Aggregate)]`: the `Aggregate` impl (category, id, fold) and the
//! `EventOf` marker that ties the aggregate to its event type.

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

use crate::ast;
use crate::check;
use crate::ctxt::Ctxt;

pub(crate) fn expand(input: TokenStream) -> syn::Result<TokenStream> {
    let input: DeriveInput = syn::parse2(input)?;
    let mut cx = Ctxt::new();
    check::no_generics(&mut cx, &input.generics, "an aggregate");
    let agg = ast::aggregate_input(&mut cx, &input);
    if agg.events.is_none() {
        cx.error_spanned_by(
            agg.ident,
            "missing `#[aggregate(events = …)]`: name the aggregate's #[event] type",
        );
    }
    match &agg.category {
        None => cx.error_spanned_by(
            agg.ident,
            "missing `#[aggregate(category = \"…\")]`: the prefix of the aggregate's stream ids",
        ),
        Some(c) => check::category_valid(&mut cx, c),
    }
    if agg.id_field.is_none()
        && matches!(&input.data, syn::Data::Struct(s) if matches!(s.fields, syn::Fields::Named(_)))
    {
        cx.error_spanned_by(
            agg.ident,
            "missing id field: mark the field holding the aggregate's id with `#[aggregate(id)]`",
        );
    }
    if !cx.is_ok() {
        let fallback = fallback_impl(&input, agg.events.as_ref());
        let errors = cx.into_compile_errors();
        return Ok(quote!(#fallback #errors));
    }

    let (Some(events), Some(category), Some(id), Some(id_ty)) =
        (&agg.events, &agg.category, agg.id_field, agg.id_type)
    else {
        unreachable!("checked above")
    };
    let ty = agg.ident;
    Ok(quote! {
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
            }

            #[automatically_derived]
            impl ::mink::__private::EventOf<#ty> for #events {
                fn into_aggregate_event(self) -> #events {
                    self
                }
            }
        };
    })
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
