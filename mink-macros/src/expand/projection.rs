//! `#[projection]` on an impl block: the `Projection` impl (name, kind,
//! event types, options, dispatch to the handler methods, reset), one
//! `ProjectionHandles<E>` marker per handler and the registration.

use proc_macro2::{Literal, TokenStream};
use quote::{quote, quote_spanned};
use syn::ItemImpl;
use syn::spanned::Spanned;

use crate::ast::projection::{
    self, AsyncOptions, HandlerMethod, Keys, Kind, Poison, ProjectionBlock, ResetMethod,
};
use crate::attr;
use crate::ctxt::Ctxt;

/// Expands `#[projection(args)]` on `input`, an inherent impl block.
pub(crate) fn expand(args: TokenStream, input: TokenStream) -> syn::Result<TokenStream> {
    let item: syn::Item = syn::parse2(input)?;
    let mut cx = Ctxt::new();
    let block = match item {
        syn::Item::Impl(block) if block.trait_.is_none() => block,
        other => {
            cx.error_spanned_by(
                &other,
                "#[projection] goes on an inherent impl block with one method per event type: `#[projection(kind = async)] impl OrderSummaries { async fn on_placed(&self, event: &OrderPlaced) -> Result<(), MyError> { … } }`",
            );
            let errors = cx.into_compile_errors();
            return Ok(quote!(#other #errors));
        }
    };
    let keys = Keys::from_args(&mut cx, args);
    let view = ProjectionBlock::from_ast(&mut cx, keys, &block);
    let output = stripped(&block);
    match cx.finish(view) {
        Ok(view) => Ok(projection_impl(&view, output)),
        Err(errors) => {
            let fallback = fallback_impl(&block);
            Ok(quote!(#output #fallback #errors))
        }
    }
}

/// The signature of `Projection::handle` as `#[async_trait]` declares it,
/// with full paths.
fn handle_signature() -> TokenStream {
    quote! {
        fn handle<'__mink_self, '__mink_event, '__mink_ctx, '__mink_tx, '__mink_future>(
            &'__mink_self self,
            __mink_event: &'__mink_event ::mink::__private::RecordedEvent,
            __mink_ctx: &'__mink_ctx mut ::mink::__private::ProjectionContext<'__mink_tx>,
        ) -> ::mink::__private::ProjectionFuture<'__mink_future>
        where
            '__mink_self: '__mink_future,
            '__mink_event: '__mink_future,
            '__mink_ctx: '__mink_future,
            '__mink_tx: '__mink_future,
            Self: '__mink_future,
    }
}

/// The block (`output`) followed by everything generated for a valid
/// projection.
fn projection_impl(view: &ProjectionBlock<'_>, output: ItemImpl) -> TokenStream {
    let ty = view.self_ty;
    let name = &view.name;
    let type_name = view.ident.to_string();
    let kind = kind_path(view.kind);
    let events: Vec<&syn::Type> = view.handlers.iter().map(|h| h.event).collect();
    // Every use of `Event` is spanned on the parameter's type and written
    // as `<T as Event>::…`, so a type that is not an event is reported
    // once, there, with the trait's advice: identical diagnostics merge,
    // and a bound on a helper function would add a note that differs.
    let event_types = events.iter().map(|ev| {
        quote_spanned! {ev.span()=>
            <#ev as ::mink::__private::Event>::EVENT_TYPES
        }
    });
    // One marker per event type: a second handler of one type conflicts
    // here, at both parameters, however its type is spelled.
    let markers = events.iter().map(|ev| {
        quote_spanned! {ev.span()=>
            #[automatically_derived]
            impl ::mink::__private::ProjectionHandles<#ev> for #ty {}
        }
    });
    let arms = view.handlers.iter().map(|h| handler_arm(ty, h));
    let options = options_fn(&view.options);
    let reset = view.reset.as_ref().map(|r| reset_fn(ty, r));
    let signature = handle_signature();
    quote! {
        #output

        const _: () = {
            #(#markers)*

            #[automatically_derived]
            impl ::mink::__private::Projection for #ty {
                fn name(&self) -> &str {
                    #name
                }

                fn kind(&self) -> ::mink::__private::ProjectionKind {
                    #kind
                }

                fn event_types(&self) -> ::std::vec::Vec<&'static str> {
                    [#(#event_types),*].concat()
                }

                #options

                #signature
                {
                    ::std::boxed::Box::pin(async move {
                        let __mink_type = __mink_event.event_type.as_str();
                        #(#arms)*
                        ::core::result::Result::Err(
                            ::mink::__private::unhandled_projection_event(__mink_event),
                        )
                    })
                }

                #reset
            }

            fn __mink_make() -> ::core::option::Option<
                ::std::sync::Arc<dyn ::mink::__private::Projection>,
            > {
                #[allow(unused_imports)]
                use ::mink::__private::{MakeViaDefault as _, MakeViaInstance as _};
                (&&::mink::__private::Probe(&::core::marker::PhantomData::<#ty>)).__mink_make()
            }

            ::mink::__private::inventory::submit! {
                ::mink::__private::ProjectionRegistration {
                    name: #name,
                    kind: #kind,
                    rust_type: ::core::concat!(::core::module_path!(), "::", #type_name),
                    declared_at: ::core::concat!(::core::file!(), ":", ::core::line!()),
                    make: __mink_make,
                }
            }
        };
    }
}

/// `ProjectionKind::…` for `kind`.
fn kind_path(kind: Kind) -> TokenStream {
    let variant = match kind {
        Kind::Inline => quote!(Inline),
        Kind::Async => quote!(Async),
        Kind::Live => quote!(Live),
    };
    quote!(::mink::__private::ProjectionKind::#variant)
}

/// The branch of `handle` for one handler: when the event's type name is
/// one of the handler type's, decode it and call the method.
fn handler_arm(ty: &syn::Type, h: &HandlerMethod<'_>) -> TokenStream {
    let ev = h.event;
    let method = &h.sig.ident;
    // Each argument carries the span of the parameter it fills, so a
    // parameter of the wrong type is reported at that parameter.
    let value = if h.by_ref {
        quote_spanned!(ev.span()=> &__mink_value)
    } else {
        quote_spanned!(ev.span()=> __mink_value)
    };
    let envelope = h
        .envelope
        .map(|t| quote_spanned!(t.span()=> , __mink_event));
    let context = h.context.map(|t| quote_spanned!(t.span()=> , __mink_ctx));
    let result = finish_call(
        |span| quote_spanned!(span=> <#ty>::#method(self, #value #envelope #context)),
        h.sig,
        h.output,
    );
    quote_spanned! {ev.span()=>
        if <#ev as ::mink::__private::Event>::EVENT_TYPES.contains(&__mink_type) {
            return match <#ev as ::mink::__private::Event>::from_recorded(
                __mink_event,
                &::mink::__private::JsonSerializer,
            ) {
                ::core::result::Result::Ok(__mink_value) => #result,
                ::core::result::Result::Err(__mink_error) => ::core::result::Result::Err(
                    ::mink::__private::HandlerError::undecodable(__mink_error),
                ),
            };
        }
    }
}

/// The method call `call` builds, awaited when the method is `async`, its
/// result turned into the engine's. The call and the conversion carry the
/// return type's span, so a return type that does not fit
/// `ProjectionOutput` is reported there.
fn finish_call(
    call: impl FnOnce(proc_macro2::Span) -> TokenStream,
    sig: &syn::Signature,
    output: Option<&syn::Type>,
) -> TokenStream {
    let span = output.map_or_else(|| sig.ident.span(), Spanned::span);
    let call = call(span);
    let call = match sig.asyncness {
        Some(_) => quote_spanned!(span=> #call.await),
        None => call,
    };
    quote_spanned! {span=>
        ::mink::__private::ProjectionOutput::into_handler_result(#call)
    }
}

/// The `options()` override of an async projection with options; nothing
/// when every option keeps its default.
fn options_fn(options: &AsyncOptions) -> TokenStream {
    let AsyncOptions {
        batch_size,
        batch_timeout_ms,
        max_attempts,
        on_poison,
        lease_ttl_ms,
        backoff_initial_ms,
        backoff_max_ms,
        poll_interval_ms,
    } = options;
    let millis = |field: &str, ms: &Option<u64>| {
        ms.map(|ms| {
            let field = syn::Ident::new(field, proc_macro2::Span::call_site());
            let ms = Literal::u64_unsuffixed(ms);
            quote!(#field: ::core::time::Duration::from_millis(#ms),)
        })
    };
    let fields = [
        batch_size.map(|n| {
            let n = Literal::u64_unsuffixed(n);
            quote!(batch_size: #n,)
        }),
        millis("batch_timeout", batch_timeout_ms),
        max_attempts.map(|n| {
            let n = Literal::u32_unsuffixed(n);
            quote!(max_attempts: #n,)
        }),
        on_poison.map(|p| {
            let variant = match p {
                Poison::Skip => quote!(Skip),
                Poison::Pause => quote!(Pause),
                Poison::Retry => quote!(Retry),
            };
            quote!(on_poison: ::mink::__private::PoisonPolicy::#variant,)
        }),
        millis("backoff_initial", backoff_initial_ms),
        millis("backoff_max", backoff_max_ms),
        millis("lease_ttl", lease_ttl_ms),
        millis("poll_interval", poll_interval_ms),
    ];
    let fields: Vec<TokenStream> = fields.into_iter().flatten().collect();
    if fields.is_empty() {
        return TokenStream::new();
    }
    quote! {
        fn options(&self) -> ::mink::__private::ProjectionOptions {
            ::mink::__private::ProjectionOptions {
                #(#fields)*
                ..<::mink::__private::ProjectionOptions as ::core::default::Default>::default()
            }
        }
    }
}

/// The `reset` override calling the `#[projection(reset)]` method.
fn reset_fn(ty: &syn::Type, r: &ResetMethod<'_>) -> TokenStream {
    let method = &r.sig.ident;
    let context = r.context.map(|t| quote_spanned!(t.span()=> , __mink_ctx));
    let result = finish_call(
        |span| quote_spanned!(span=> <#ty>::#method(self #context)),
        r.sig,
        r.output,
    );
    quote! {
        fn reset<'__mink_self, '__mink_ctx, '__mink_tx, '__mink_future>(
            &'__mink_self self,
            __mink_ctx: &'__mink_ctx mut ::mink::__private::ProjectionContext<'__mink_tx>,
        ) -> ::mink::__private::ProjectionFuture<'__mink_future>
        where
            '__mink_self: '__mink_future,
            '__mink_ctx: '__mink_future,
            '__mink_tx: '__mink_future,
            Self: '__mink_future,
        {
            ::std::boxed::Box::pin(async move { #result })
        }
    }
}

/// The block without the inert `#[projection(skip)]` and
/// `#[projection(reset)]` markers.
fn stripped(block: &ItemImpl) -> ItemImpl {
    let mut out = block.clone();
    for item in &mut out.items {
        if let syn::ImplItem::Fn(f) = item {
            attr::strip(&mut f.attrs, "projection");
        }
    }
    out
}

/// A minimal `Projection` impl emitted next to errors, so code handing the
/// projection to the application builder does not add errors of its own.
fn fallback_impl(block: &ItemImpl) -> TokenStream {
    let generic = !block.generics.params.is_empty() || block.generics.where_clause.is_some();
    let named = projection::type_name(&block.self_ty).is_some();
    if generic || !named {
        return TokenStream::new();
    }
    let ty = &block.self_ty;
    let signature = handle_signature();
    quote! {
        const _: () = {
            impl ::mink::__private::Projection for #ty {
                fn name(&self) -> &str { ::core::unreachable!() }
                fn kind(&self) -> ::mink::__private::ProjectionKind { ::core::unreachable!() }
                fn event_types(&self) -> ::std::vec::Vec<&'static str> { ::core::unreachable!() }
                #signature
                { ::core::unreachable!() }
            }
        };
    }
}
