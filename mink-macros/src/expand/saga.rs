//! `#[saga]` on an impl block: the `Saga` impl (name, event types,
//! routing with associations, handling, compensation, dispatch of stored
//! commands by name), the saga's own event enum, one marker per handler
//! and compensation, and the registration.

use std::collections::HashSet;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, ItemImpl, Type};

use crate::ast::projection::type_name;
use crate::ast::saga::{
    Associate, Commands, CompensationMethod, HandlerMethod, Keys, Returns, SagaBlock,
};
use crate::attr;
use crate::ctxt::Ctxt;
use crate::tokens;

/// Expands `#[saga(args)]` on `input`, an inherent impl block.
pub(crate) fn expand(args: TokenStream, input: TokenStream) -> syn::Result<TokenStream> {
    let item: syn::Item = syn::parse2(input)?;
    let mut cx = Ctxt::new();
    let block = match item {
        syn::Item::Impl(block) if block.trait_.is_none() => block,
        other => {
            cx.error_spanned_by(
                &other,
                "#[saga] goes on an inherent impl block of the saga's state, with one method per event type: `#[saga] impl Checkout { #[saga(start, associate = order_id)] fn placed(&mut self, event: &OrderPlaced) -> ReserveStock { … } }`",
            );
            let errors = cx.into_compile_errors();
            return Ok(quote!(#other #errors));
        }
    };
    let keys = Keys::from_args(&mut cx, args);
    let view = SagaBlock::from_ast(&mut cx, keys, &block);
    let output = stripped(&block);
    match cx.finish(view) {
        Ok(view) => Ok(saga_impl(&view, output)),
        Err(errors) => {
            let fallback = fallback_impl(&block);
            Ok(quote!(#output #fallback #errors))
        }
    }
}

/// The block (`output`) followed by everything generated for a valid saga.
fn saga_impl(view: &SagaBlock<'_>, output: ItemImpl) -> TokenStream {
    let ty = view.self_ty;
    let name = &view.name;
    let type_name = view.ident.to_string();
    let events: Vec<&Type> = view.handlers.iter().map(|h| h.event).collect();
    // Every use of `Event` is spanned on the parameter's type and written
    // as `<T as Event>::…`, so a type that is not an event is reported
    // once, there, with the trait's advice (identical diagnostics merge).
    let event_types = events.iter().map(|ev| {
        quote_spanned! {ev.span()=>
            <#ev as ::mink::__private::Event>::EVENT_TYPES
        }
    });
    let variants = view.handlers.iter().map(|h| {
        let method = &h.sig.ident;
        let ev = h.event;
        quote!(#method(#ev))
    });
    let debug_arms = view.handlers.iter().map(|h| {
        let method = &h.sig.ident;
        let text = format!("{method}({})", tokens::compact(h.event));
        quote!(__MinkSagaEvent::#method(_) => __mink_f.write_str(#text))
    });
    // One marker per event type and per compensated command: a second
    // method for one type conflicts here, at both parameters, however its
    // type is spelled.
    let markers = view
        .handlers
        .iter()
        .map(|h| {
            let ev = h.event;
            quote_spanned! {ev.span()=>
                #[automatically_derived]
                impl ::mink::__private::SagaHandles<#ev> for #ty {}
            }
        })
        .chain(view.compensations.iter().map(|c| {
            let cmd = c.command;
            quote_spanned! {cmd.span()=>
                #[automatically_derived]
                impl ::mink::__private::SagaCompensates<#cmd> for #ty {}
            }
        }));
    let route_arms = view.handlers.iter().map(route_arm);
    let handle_arms = view.handlers.iter().map(|h| handle_arm(ty, h));
    let compensate_arms = view.compensations.iter().map(|c| compensate_arm(ty, c));
    let dispatch_arms = sent_commands(view).into_iter().map(dispatch_arm);
    let handled_commands = command_checks(view.handlers.iter().map(|h| &h.returns));
    let compensating_commands = command_checks(view.compensations.iter().map(|c| &c.returns));
    let impl_span = ty.span();
    let saga_trait = quote_spanned!(impl_span=> ::mink::__private::Saga);
    quote! {
        #output

        const _: () = {
            /// The events this saga's handlers take, one variant per
            /// handler.
            #[allow(non_camel_case_types, private_interfaces, missing_docs, unreachable_pub)]
            pub enum __MinkSagaEvent {
                #(#variants,)*
            }

            #[automatically_derived]
            impl ::core::fmt::Debug for __MinkSagaEvent {
                fn fmt(
                    &self,
                    __mink_f: &mut ::core::fmt::Formatter<'_>,
                ) -> ::core::fmt::Result {
                    match self {
                        #(#debug_arms,)*
                    }
                }
            }

            #(#markers)*

            #[automatically_derived]
            impl #saga_trait for #ty {
                const NAME: &'static str = #name;

                type Event = __MinkSagaEvent;

                fn event_types() -> ::std::vec::Vec<&'static str> {
                    [#(#event_types),*].concat()
                }

                fn route<__S: ::mink::__private::Serializer>(
                    __mink_recorded: &::mink::__private::RecordedEvent,
                    __mink_serializer: &__S,
                ) -> ::core::result::Result<
                    ::core::option::Option<::mink::__private::Routed<Self::Event>>,
                    ::mink::__private::Error,
                > {
                    let __mink_type = __mink_recorded.event_type.as_str();
                    #(#route_arms)*
                    ::core::result::Result::Ok(::core::option::Option::None)
                }

                fn handle(
                    &mut self,
                    __mink_event: Self::Event,
                    __mink_envelope: &::mink::__private::RecordedEvent,
                    __mink_context: &mut ::mink::__private::SagaContext,
                ) -> ::core::result::Result<
                    ::std::vec::Vec<::mink::__private::OutgoingCommand>,
                    ::mink::__private::BoxError,
                > {
                    #handled_commands
                    #[allow(unused_mut)]
                    let mut __mink_out = ::std::vec::Vec::new();
                    match __mink_event {
                        #(#handle_arms)*
                    }
                    ::core::result::Result::Ok(__mink_out)
                }

                fn compensate(
                    &self,
                    __mink_done: &::mink::__private::OutgoingCommand,
                ) -> ::core::result::Result<
                    ::core::option::Option<::mink::__private::OutgoingCommand>,
                    ::mink::__private::BoxError,
                > {
                    #compensating_commands
                    #(#compensate_arms)*
                    ::core::result::Result::Ok(::core::option::Option::None)
                }

                fn dispatch<__X: ::mink::__private::SagaExecutor>(
                    __mink_executor: &__X,
                    __mink_command: &::mink::__private::OutgoingCommand,
                    __mink_context: ::mink::__private::Context,
                ) -> ::mink::__private::SagaDispatchFuture {
                    #(#dispatch_arms)*
                    ::mink::__private::unknown_saga_command(#name, __mink_command)
                }
            }

            ::mink::__private::inventory::submit! {
                ::mink::__private::SagaRegistration {
                    name: #name,
                    rust_type: ::core::concat!(::core::module_path!(), "::", #type_name),
                    declared_at: ::core::concat!(::core::file!(), ":", ::core::line!()),
                    event_types: <#ty as ::mink::__private::Saga>::event_types,
                }
            }
        };
    }
}

/// The branch of `route` for one handler: when the event's type name is
/// one of the handler type's, decode it and take its association.
fn route_arm(h: &HandlerMethod<'_>) -> TokenStream {
    let ev = h.event;
    let method = &h.sig.ident;
    let starts = h.starts;
    let (key, value) = match &h.associate {
        Associate::Field { key, field } => (
            key,
            quote_spanned! {field.span()=>
                ::std::string::ToString::to_string(&__mink_event.#field)
            },
        ),
        Associate::With { key, with } => (
            key,
            quote_spanned! {with.span()=>
                ::std::string::ToString::to_string(&#with(&__mink_event))
            },
        ),
    };
    quote_spanned! {ev.span()=>
        if <#ev as ::mink::__private::Event>::EVENT_TYPES.contains(&__mink_type) {
            let __mink_event = <#ev as ::mink::__private::Event>::from_recorded(
                __mink_recorded,
                __mink_serializer,
            )?;
            let __mink_value = #value;
            return ::core::result::Result::Ok(::core::option::Option::Some(
                ::mink::__private::Routed {
                    event: __MinkSagaEvent::#method(__mink_event),
                    association: ::mink::__private::Association {
                        key: #key,
                        value: __mink_value,
                    },
                    starts: #starts,
                },
            ));
        }
    }
}

/// The arm of `handle` for one handler: call it, then serialize what it
/// returned.
fn handle_arm(ty: &Type, h: &HandlerMethod<'_>) -> TokenStream {
    let method = &h.sig.ident;
    let ev = h.event;
    // Each argument carries the span of the parameter it fills, so a
    // parameter of the wrong type is reported at that parameter.
    let value = if h.by_ref {
        quote_spanned!(ev.span()=> &__mink_value)
    } else {
        quote_spanned!(ev.span()=> __mink_value)
    };
    let envelope = h
        .envelope
        .map(|t| quote_spanned!(t.span()=> , __mink_envelope));
    let context = h
        .context
        .map(|t| quote_spanned!(t.span()=> , __mink_context));
    let span = call_span(h.sig, &h.returns);
    let call = quote_spanned!(span=> <#ty>::#method(self, #value #envelope #context));
    let returned = Ident::new("__mink_returned", Span::call_site());
    let unwrap = unwrap_result(&h.returns, &returned);
    let mut names = Names::default();
    let collect = collect(&h.returns.commands, &quote!(#returned), &mut names);
    quote! {
        __MinkSagaEvent::#method(__mink_value) => {
            let #returned = #call;
            #unwrap
            #collect
        }
    }
}

/// The branch of `compensate` for one compensation: when the completed
/// command is of its type, decode it and call the method.
fn compensate_arm(ty: &Type, c: &CompensationMethod<'_>) -> TokenStream {
    let method = &c.sig.ident;
    let cmd = c.command;
    let value = if c.by_ref {
        quote_spanned!(cmd.span()=> &__mink_command)
    } else {
        quote_spanned!(cmd.span()=> __mink_command)
    };
    let span = call_span(c.sig, &c.returns);
    let call = quote_spanned!(span=> <#ty>::#method(self, #value));
    let returned = Ident::new("__mink_returned", Span::call_site());
    let unwrap = unwrap_result(&c.returns, &returned);
    let undo = match &c.returns.commands {
        Commands::One(out) => {
            let new = outgoing(out, &quote!(#returned));
            quote!(::core::option::Option::Some(#new))
        }
        Commands::Maybe(inner) => {
            let Commands::One(out) = &**inner else {
                unreachable!("a compensation returns at most one command: checked in ast::saga")
            };
            let new = outgoing(out, &quote!(__mink_undo));
            quote! {
                match #returned {
                    ::core::option::Option::Some(__mink_undo) => ::core::option::Option::Some(#new),
                    ::core::option::Option::None => ::core::option::Option::None,
                }
            }
        }
        Commands::Many(_) | Commands::All(_) => {
            unreachable!("a compensation returns at most one command: checked in ast::saga")
        }
    };
    quote_spanned! {cmd.span()=>
        if __mink_done.name == <#cmd as ::mink::__private::Command>::NAME {
            let __mink_command =
                ::mink::__private::decode_done_command::<#cmd>(__mink_done)?;
            let #returned = #call;
            #unwrap
            return ::core::result::Result::Ok(#undo);
        }
    }
}

/// The branch of `dispatch` for one command type the saga sends: decode
/// the stored payload and send it through the executor. `send` requires a
/// handler for the command, so a saga that returns a command nothing
/// handles does not compile, reported at the return type.
fn dispatch_arm(cmd: &Type) -> TokenStream {
    quote_spanned! {cmd.span()=>
        if __mink_command.name == <#cmd as ::mink::__private::Command>::NAME {
            return match ::mink::__private::decode_saga_command::<#cmd>(__mink_command) {
                ::core::result::Result::Ok(__mink_typed) => {
                    ::mink::__private::SagaExecutor::send(__mink_executor, __mink_typed, __mink_context)
                }
                ::core::result::Result::Err(__mink_failed) => __mink_failed,
            };
        }
    }
}

/// `<C as Command>::NAME` of each command type in `returns`, spanned on
/// the type: the first use of each in a generated method. A type that is
/// not a command is then reported there with the `Command` trait's advice,
/// the same diagnostic in every method (so they merge into one), and the
/// method's other uses of the type add nothing.
fn command_checks<'a>(returns: impl Iterator<Item = &'a Returns<'a>>) -> TokenStream {
    let mut types = Vec::new();
    for r in returns {
        r.commands.types(&mut types);
    }
    let mut seen = HashSet::new();
    types.retain(|ty| seen.insert(tokens::compact(ty)));
    if types.is_empty() {
        return TokenStream::new();
    }
    let names = types.iter().map(|ty| {
        quote_spanned! {ty.span()=>
            <#ty as ::mink::__private::Command>::NAME
        }
    });
    quote! {
        let _: &[&str] = &[#(#names),*];
    }
}

/// Every command type the saga's methods return, handlers' and
/// compensations', first spelling of each.
fn sent_commands<'a>(view: &SagaBlock<'a>) -> Vec<&'a Type> {
    let mut all = Vec::new();
    for h in &view.handlers {
        h.returns.commands.types(&mut all);
    }
    for c in &view.compensations {
        c.returns.commands.types(&mut all);
    }
    let mut seen = HashSet::new();
    all.retain(|ty| seen.insert(tokens::compact(ty)));
    all
}

/// The span a method call carries: its return type's, so a return type
/// that does not fit is reported there.
fn call_span(sig: &syn::Signature, returns: &Returns<'_>) -> Span {
    returns
        .written
        .map_or_else(|| sig.ident.span(), Spanned::span)
}

/// For a method returning `Result`, rebinds `returned` to its `Ok` value
/// or returns its `Err` from the generated method.
fn unwrap_result(returns: &Returns<'_>, returned: &Ident) -> TokenStream {
    let Some(written) = returns.written.filter(|_| returns.fallible) else {
        return TokenStream::new();
    };
    let into_box = quote_spanned! {written.span()=>
        ::mink::__private::SagaHandlerError::into_box_error(__mink_error)
    };
    quote! {
        let #returned = match #returned {
            ::core::result::Result::Ok(__mink_ok) => __mink_ok,
            ::core::result::Result::Err(__mink_error) => {
                return ::core::result::Result::Err(#into_box);
            }
        };
    }
}

/// Fresh binding names for nested shapes.
#[derive(Default)]
struct Names(usize);

impl Names {
    fn next(&mut self) -> Ident {
        self.0 += 1;
        format_ident!("__mink_v{}", self.0)
    }
}

/// Pushes every command in `value`, of shape `commands`, onto
/// `__mink_out`.
fn collect(commands: &Commands<'_>, value: &TokenStream, names: &mut Names) -> TokenStream {
    match commands {
        Commands::One(ty) => {
            let new = outgoing(ty, value);
            quote!(__mink_out.push(#new);)
        }
        Commands::Maybe(inner) => {
            let v = names.next();
            let body = collect(inner, &quote!(#v), names);
            quote! {
                if let ::core::option::Option::Some(#v) = #value {
                    #body
                }
            }
        }
        Commands::Many(inner) => {
            let v = names.next();
            let body = collect(inner, &quote!(#v), names);
            quote! {
                for #v in #value {
                    #body
                }
            }
        }
        Commands::All(items) if items.is_empty() => TokenStream::new(),
        Commands::All(items) => {
            let vs: Vec<Ident> = items.iter().map(|_| names.next()).collect();
            let bodies: Vec<TokenStream> = items
                .iter()
                .zip(&vs)
                .map(|(item, v)| collect(item, &quote!(#v), names))
                .collect();
            quote! {
                let (#(#vs,)*) = #value;
                #(#bodies)*
            }
        }
    }
}

/// `OutgoingCommand::new::<C>(&value)?`, spanned on the command type, so
/// a returned type that is not a command is reported there with the
/// `Command` trait's advice.
fn outgoing(ty: &Type, value: &TokenStream) -> TokenStream {
    quote_spanned! {ty.span()=>
        ::mink::__private::OutgoingCommand::new::<#ty>(&#value)?
    }
}

/// The block without the inert `#[saga(…)]` method markers.
fn stripped(block: &ItemImpl) -> ItemImpl {
    let mut out = block.clone();
    for item in &mut out.items {
        if let syn::ImplItem::Fn(f) = item {
            attr::strip(&mut f.attrs, "saga");
        }
    }
    out
}

/// A minimal `Saga` impl emitted next to errors, so code using the saga
/// (fixtures, the application builder) does not add errors of its own.
fn fallback_impl(block: &ItemImpl) -> TokenStream {
    let generic = !block.generics.params.is_empty() || block.generics.where_clause.is_some();
    if generic || type_name(&block.self_ty).is_none() {
        return TokenStream::new();
    }
    let ty = &block.self_ty;
    quote! {
        const _: () = {
            impl ::mink::__private::Saga for #ty {
                const NAME: &'static str = "";
                type Event = ::core::convert::Infallible;
                fn event_types() -> ::std::vec::Vec<&'static str> { ::core::unreachable!() }
                fn route<__S: ::mink::__private::Serializer>(
                    _: &::mink::__private::RecordedEvent,
                    _: &__S,
                ) -> ::core::result::Result<
                    ::core::option::Option<::mink::__private::Routed<Self::Event>>,
                    ::mink::__private::Error,
                > { ::core::unreachable!() }
                fn handle(
                    &mut self,
                    _: Self::Event,
                    _: &::mink::__private::RecordedEvent,
                    _: &mut ::mink::__private::SagaContext,
                ) -> ::core::result::Result<
                    ::std::vec::Vec<::mink::__private::OutgoingCommand>,
                    ::mink::__private::BoxError,
                > { ::core::unreachable!() }
                fn compensate(
                    &self,
                    _: &::mink::__private::OutgoingCommand,
                ) -> ::core::result::Result<
                    ::core::option::Option<::mink::__private::OutgoingCommand>,
                    ::mink::__private::BoxError,
                > { ::core::unreachable!() }
                fn dispatch<__X: ::mink::__private::SagaExecutor>(
                    _: &__X,
                    _: &::mink::__private::OutgoingCommand,
                    _: ::mink::__private::Context,
                ) -> ::mink::__private::SagaDispatchFuture { ::core::unreachable!() }
            }
        };
    }
}
