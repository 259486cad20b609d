//! `#[event]`: stable type names, schema versions, payload encoding and
//! registration for an enum (one event type per variant) or a struct.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::{Ident, Item, ItemEnum, ItemStruct};

use crate::ast::event::{EventCase, EventEnum, EventStruct, Shape};
use crate::attr::{self, UserDerives};
use crate::ctxt::Ctxt;

/// Expands `#[event(args)]` on `input`.
pub(crate) fn expand(args: TokenStream, input: TokenStream) -> syn::Result<TokenStream> {
    let item: Item = syn::parse2(input)?;
    let mut cx = Ctxt::new();
    match item {
        Item::Enum(e) => Ok(expand_enum(cx, args, e)),
        Item::Struct(s) => Ok(expand_struct(cx, args, s)),
        other => {
            cx.error_spanned_by(
                &other,
                "#[event] goes on an enum (one event type per variant) or on a struct",
            );
            let errors = cx.into_compile_errors();
            Ok(quote!(#other #errors))
        }
    }
}

/// Expands an `#[event]` enum: its own payload encoder and decoder, since
/// each variant is an event type of its own rather than a serde variant.
fn expand_enum(mut cx: Ctxt, args: TokenStream, item: ItemEnum) -> TokenStream {
    let event = EventEnum::from_ast(&mut cx, args, &item);
    let output = stripped_enum(&item);
    match cx.finish(event) {
        Ok(event) => enum_impl(&event, &output),
        Err(errors) => {
            let fallback = fallback_impl(&item.ident, item.generics.params.is_empty());
            quote!(#output #fallback #errors)
        }
    }
}

/// The enum without the inert attributes the compiler must not see.
fn stripped_enum(item: &ItemEnum) -> ItemEnum {
    // `#[serde(…)]` on variant fields is read by the generated decoder; the
    // enum itself keeps it only when it derives serde and so declares it.
    let user = UserDerives::of(&item.attrs);
    let keep_serde = user.serialize || user.deserialize;
    let mut output = item.clone();
    for v in &mut output.variants {
        attr::strip(&mut v.attrs, "event");
        if !keep_serde {
            for f in v.fields.iter_mut() {
                attr::strip(&mut f.attrs, "serde");
            }
        }
    }
    output
}

/// The enum (`output`) followed by the `Event` impl, the payload encoder
/// and decoders, and one registration per variant.
fn enum_impl(event: &EventEnum<'_>, output: &ItemEnum) -> TokenStream {
    if event.protobuf {
        return protobuf_enum_impl(event, output);
    }
    let ty = event.ident;
    let cases = &event.cases;
    let names: Vec<&str> = cases.iter().map(|c| c.name.value.as_str()).collect();
    let event_type_arms = cases.iter().map(|c| {
        let v = c.ident;
        let name = &c.name.value;
        quote!(#ty::#v { .. } => #name)
    });
    let version_arms = cases.iter().map(|c| {
        let v = c.ident;
        let version = c.version;
        quote!(#ty::#v { .. } => #version)
    });
    let encode_arms = cases.iter().map(|c| encode_arm(ty, c));
    let mut helpers = Vec::new();
    let decode_arms: Vec<_> = cases
        .iter()
        .map(|c| decode_arm(ty, c, &mut helpers))
        .collect();
    let registrations = cases.iter().map(|c| {
        registration(
            &c.name.value,
            c.version,
            &format!("{}::{}", ty, c.ident),
            c.ident.span(),
            &variant_schema(c),
        )
    });

    quote! {
        #output

        const _: () = {
            struct __MinkPayload<'__mink>(&'__mink #ty);

            #[automatically_derived]
            impl ::mink::__private::serde::Serialize for __MinkPayload<'_> {
                fn serialize<__S>(
                    &self,
                    __serializer: __S,
                ) -> ::core::result::Result<__S::Ok, __S::Error>
                where
                    __S: ::mink::__private::serde::Serializer,
                {
                    match self.0 {
                        #(#encode_arms)*
                    }
                }
            }

            #(#helpers)*

            #[automatically_derived]
            impl ::mink::__private::Event for #ty {
                const EVENT_TYPES: &'static [&'static str] = &[#(#names),*];

                fn event_type(&self) -> &'static str {
                    match self {
                        #(#event_type_arms,)*
                    }
                }

                fn schema_version(&self) -> u32 {
                    match self {
                        #(#version_arms,)*
                    }
                }

                fn encode<__S: ::mink::__private::Serializer>(
                    &self,
                    __serializer: &__S,
                ) -> ::core::result::Result<::std::vec::Vec<u8>, ::mink::__private::BoxError> {
                    ::mink::__private::Serializer::serialize(__serializer, &__MinkPayload(self))
                }

                fn decode<__S: ::mink::__private::Serializer>(
                    __event_type: &str,
                    _schema_version: u32,
                    __payload: &[u8],
                    __serializer: &__S,
                ) -> ::core::result::Result<::core::option::Option<Self>, ::mink::__private::BoxError> {
                    match __event_type {
                        #(#decode_arms)*
                        _ => ::core::result::Result::Ok(::core::option::Option::None),
                    }
                }
            }

            #(#registrations)*
        };
    }
}

/// [`enum_impl`] for `#[event(protobuf)]`: each variant's message is
/// encoded by prost, whatever the application's serializer.
fn protobuf_enum_impl(event: &EventEnum<'_>, output: &ItemEnum) -> TokenStream {
    let ty = event.ident;
    let cases = &event.cases;
    let names: Vec<&str> = cases.iter().map(|c| c.name.value.as_str()).collect();
    let codec = quote!(::mink::__private::ProtobufSerializer);
    let event_type_arms = cases.iter().map(|c| {
        let v = c.ident;
        let name = &c.name.value;
        quote!(#ty::#v { .. } => #name)
    });
    let version_arms = cases.iter().map(|c| {
        let v = c.ident;
        let version = c.version;
        quote!(#ty::#v { .. } => #version)
    });
    // `from_ast` let only newtype and unit variants through.
    let encode_arms = cases.iter().map(|c| {
        let v = c.ident;
        match c.shape {
            Shape::Unit => quote!(#ty::#v => ::std::vec::Vec::new(),),
            _ => quote!(#ty::#v(__inner) => #codec.encode(__inner),),
        }
    });
    let decode_arms = cases.iter().map(|c| {
        let v = c.ident;
        let name = &c.name.value;
        let build = match c.shape {
            Shape::Unit => quote!(#ty::#v),
            _ => quote!(#ty::#v(#codec.decode(__payload)?)),
        };
        quote! {
            #name => ::core::result::Result::Ok(::core::option::Option::Some(#build)),
        }
    });
    let registrations = cases.iter().map(|c| {
        registration(
            &c.name.value,
            c.version,
            &format!("{}::{}", ty, c.ident),
            c.ident.span(),
            &variant_schema(c),
        )
    });

    quote! {
        #output

        const _: () = {
            #[automatically_derived]
            impl ::mink::__private::Event for #ty {
                const EVENT_TYPES: &'static [&'static str] = &[#(#names),*];

                const CONTENT_TYPE: ::core::option::Option<::mink::__private::ContentType> =
                    ::core::option::Option::Some(#codec::CONTENT_TYPE);

                fn event_type(&self) -> &'static str {
                    match self {
                        #(#event_type_arms,)*
                    }
                }

                fn schema_version(&self) -> u32 {
                    match self {
                        #(#version_arms,)*
                    }
                }

                fn encode<__S: ::mink::__private::Serializer>(
                    &self,
                    _: &__S,
                ) -> ::core::result::Result<::std::vec::Vec<u8>, ::mink::__private::BoxError> {
                    ::core::result::Result::Ok(match self {
                        #(#encode_arms)*
                    })
                }

                fn decode<__S: ::mink::__private::Serializer>(
                    __event_type: &str,
                    _schema_version: u32,
                    __payload: &[u8],
                    _: &__S,
                ) -> ::core::result::Result<::core::option::Option<Self>, ::mink::__private::BoxError> {
                    match __event_type {
                        #(#decode_arms)*
                        _ => ::core::result::Result::Ok(::core::option::Option::None),
                    }
                }
            }

            #(#registrations)*
        };
    }
}

/// The `match` arm serializing one variant's payload.
fn encode_arm(ty: &Ident, case: &EventCase<'_>) -> TokenStream {
    let v = case.ident;
    let variant_name = v.to_string();
    let serde = quote!(::mink::__private::serde);
    match &case.shape {
        Shape::Named(fields) => {
            let idents: Vec<_> = fields.iter().map(|f| f.ident).collect();
            let keys = fields.iter().map(|f| f.key.as_str());
            let len = fields.len();
            quote! {
                #ty::#v { #(#idents),* } => {
                    let mut __state = #serde::Serializer::serialize_struct(__serializer, #variant_name, #len)?;
                    #(#serde::ser::SerializeStruct::serialize_field(&mut __state, #keys, #idents)?;)*
                    #serde::ser::SerializeStruct::end(__state)
                }
            }
        }
        Shape::Newtype(_) => quote! {
            #ty::#v(__inner) => #serde::Serialize::serialize(__inner, __serializer),
        },
        Shape::Tuple(fields) => {
            let binds: Vec<_> = (0..fields.len())
                .map(|i| format_ident!("__f{}", i))
                .collect();
            let len = fields.len();
            quote! {
                #ty::#v(#(#binds),*) => {
                    let mut __state = #serde::Serializer::serialize_tuple(__serializer, #len)?;
                    #(#serde::ser::SerializeTuple::serialize_element(&mut __state, #binds)?;)*
                    #serde::ser::SerializeTuple::end(__state)
                }
            }
        }
        Shape::Unit => quote! {
            #ty::#v => {
                let __state = #serde::Serializer::serialize_struct(__serializer, #variant_name, 0usize)?;
                #serde::ser::SerializeStruct::end(__state)
            }
        },
    }
}

/// The `match` arm decoding one event type; a named variant gets a
/// `Deserialize` helper struct pushed to `helpers`.
fn decode_arm(ty: &Ident, case: &EventCase<'_>, helpers: &mut Vec<TokenStream>) -> TokenStream {
    let v = case.ident;
    let name = &case.name.value;
    let build = match &case.shape {
        Shape::Named(fields) => {
            let helper = format_ident!("__MinkDecode{}", v);
            let idents: Vec<_> = fields.iter().map(|f| f.ident).collect();
            let defs = fields.iter().map(|f| {
                let serde_attrs = f.field.attrs.iter().filter(|a| a.path().is_ident("serde"));
                let ident = f.ident;
                let fty = &f.field.ty;
                quote!(#(#serde_attrs)* #ident: #fty)
            });
            helpers.push(quote! {
                #[derive(::mink::__private::serde::Deserialize)]
                #[serde(crate = "::mink::__private::serde")]
                #[allow(non_camel_case_types)]
                struct #helper { #(#defs,)* }
            });
            quote! {
                let __h: #helper = ::mink::__private::Serializer::deserialize(__serializer, __payload)?;
                #ty::#v { #(#idents: __h.#idents),* }
            }
        }
        Shape::Newtype(field) => {
            let fty = &field.ty;
            quote! {
                let __inner: #fty = ::mink::__private::Serializer::deserialize(__serializer, __payload)?;
                #ty::#v(__inner)
            }
        }
        Shape::Tuple(fields) => {
            let tys = fields.iter().map(|f| &f.ty);
            let binds: Vec<_> = (0..fields.len())
                .map(|i| format_ident!("__f{}", i))
                .collect();
            quote! {
                let (#(#binds,)*): (#(#tys,)*) = ::mink::__private::Serializer::deserialize(__serializer, __payload)?;
                #ty::#v(#(#binds),*)
            }
        }
        Shape::Unit => quote!(#ty::#v),
    };
    quote! {
        #name => {
            let __event = { #build };
            ::core::result::Result::Ok(::core::option::Option::Some(__event))
        }
    }
}

/// Expands an `#[event]` struct, encoded by its own serde derives (or, with
/// `protobuf`, by its `prost::Message` impl).
fn expand_struct(mut cx: Ctxt, args: TokenStream, item: ItemStruct) -> TokenStream {
    let event = EventStruct::from_ast(&mut cx, args, &item);
    let derives = match &event {
        Some(event) if event.protobuf => TokenStream::new(),
        _ => super::missing_derives(UserDerives::of(&item.attrs), false),
    };
    match cx.finish(event) {
        Ok(event) => struct_impl(&event, &derives, &item),
        Err(errors) => {
            let fallback = fallback_impl(&item.ident, item.generics.params.is_empty());
            quote!(#derives #item #fallback #errors)
        }
    }
}

/// The struct with its `derives`, followed by the `Event` impl and the
/// registration.
fn struct_impl(event: &EventStruct<'_>, derives: &TokenStream, item: &ItemStruct) -> TokenStream {
    let ty = event.ident;
    let name = &event.name;
    let version = event.version;
    let schema = payload_schema(name, &quote!(#ty));
    let registration = registration(name, version, &ty.to_string(), ty.span(), &schema);
    if event.protobuf {
        return protobuf_struct_impl(event, item, &registration);
    }
    quote! {
        #derives
        #item

        const _: () = {
            #[automatically_derived]
            impl ::mink::__private::Event for #ty {
                const EVENT_TYPES: &'static [&'static str] = &[#name];

                fn event_type(&self) -> &'static str {
                    #name
                }

                fn schema_version(&self) -> u32 {
                    #version
                }

                fn encode<__S: ::mink::__private::Serializer>(
                    &self,
                    __serializer: &__S,
                ) -> ::core::result::Result<::std::vec::Vec<u8>, ::mink::__private::BoxError> {
                    ::mink::__private::Serializer::serialize(__serializer, self)
                }

                fn decode<__S: ::mink::__private::Serializer>(
                    __event_type: &str,
                    _schema_version: u32,
                    __payload: &[u8],
                    __serializer: &__S,
                ) -> ::core::result::Result<::core::option::Option<Self>, ::mink::__private::BoxError> {
                    if __event_type != #name {
                        return ::core::result::Result::Ok(::core::option::Option::None);
                    }
                    ::mink::__private::Serializer::deserialize(__serializer, __payload)
                        .map(::core::option::Option::Some)
                }
            }

            #registration
        };
    }
}

/// [`struct_impl`] for `#[event(protobuf)]`: the struct is a prost message,
/// encoded by prost whatever the application's serializer.
fn protobuf_struct_impl(
    event: &EventStruct<'_>,
    item: &ItemStruct,
    registration: &TokenStream,
) -> TokenStream {
    let ty = event.ident;
    let name = &event.name;
    let version = event.version;
    let codec = quote!(::mink::__private::ProtobufSerializer);
    quote! {
        #item

        const _: () = {
            #[automatically_derived]
            impl ::mink::__private::Event for #ty {
                const EVENT_TYPES: &'static [&'static str] = &[#name];

                const CONTENT_TYPE: ::core::option::Option<::mink::__private::ContentType> =
                    ::core::option::Option::Some(#codec::CONTENT_TYPE);

                fn event_type(&self) -> &'static str {
                    #name
                }

                fn schema_version(&self) -> u32 {
                    #version
                }

                fn encode<__S: ::mink::__private::Serializer>(
                    &self,
                    _: &__S,
                ) -> ::core::result::Result<::std::vec::Vec<u8>, ::mink::__private::BoxError> {
                    ::core::result::Result::Ok(#codec.encode(self))
                }

                fn decode<__S: ::mink::__private::Serializer>(
                    __event_type: &str,
                    _schema_version: u32,
                    __payload: &[u8],
                    _: &__S,
                ) -> ::core::result::Result<::core::option::Option<Self>, ::mink::__private::BoxError> {
                    if __event_type != #name {
                        return ::core::result::Result::Ok(::core::option::Option::None);
                    }
                    #codec.decode(__payload).map(::core::option::Option::Some)
                }
            }

            #registration
        };
    }
}

/// The body of an event type's schema function when one type, `ty`, is
/// the whole payload: its `JsonSchema`, if it has one.
fn payload_schema(name: &str, ty: &TokenStream) -> TokenStream {
    quote! {
        use ::mink::__private::{SchemaViaDefault as _, SchemaViaImpl as _};
        let mut __schema = ::mink::__private::EventSchema::new(#name);
        (&&::mink::__private::Probe(&::core::marker::PhantomData::<#ty>)).__mink_payload(&mut __schema);
        __schema.finish()
    }
}

/// The body of a variant's schema function: the payload type's schema for
/// a newtype or tuple variant, an object of the fields' schemas for a
/// variant with named fields (a field is required unless it is an
/// `Option` or has `#[serde(default)]`, as the decoder reads it).
fn variant_schema(case: &EventCase<'_>) -> TokenStream {
    let name = &case.name.value;
    match &case.shape {
        Shape::Newtype(field) => {
            let ty = &field.ty;
            payload_schema(name, &quote!(#ty))
        }
        Shape::Tuple(fields) => {
            let tys = fields.iter().map(|f| &f.ty);
            payload_schema(name, &quote!((#(#tys,)*)))
        }
        Shape::Named(fields) => {
            let adds = fields.iter().map(|f| {
                let ty = &f.field.ty;
                let key = &f.key;
                let required = !f.default && !is_option(ty);
                quote! {
                    (&&::mink::__private::Probe(&::core::marker::PhantomData::<#ty>))
                        .__mink_field(&mut __schema, #key, #required);
                }
            });
            quote! {
                use ::mink::__private::{SchemaViaDefault as _, SchemaViaImpl as _};
                let mut __schema = ::mink::__private::EventSchema::new(#name);
                #(#adds)*
                __schema.finish()
            }
        }
        Shape::Unit => quote! {
            ::mink::__private::EventSchema::new(#name).finish()
        },
    }
}

/// Whether `ty` is spelled `Option<…>`, which serde lets a payload leave
/// out.
fn is_option(ty: &syn::Type) -> bool {
    match ty {
        syn::Type::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "Option"),
        _ => false,
    }
}

/// The inventory entry that lets `Mink::builder()` find the event type.
/// `declared_at` carries the span of the type's name, so `line!()` gives
/// the line of its definition rather than of the `#[event]` attribute;
/// `schema` is the body of its schema function.
fn registration(
    name: &str,
    version: u32,
    rust_type: &str,
    declared_at: Span,
    schema: &TokenStream,
) -> TokenStream {
    let suffix = format!("::{rust_type}");
    let declared_at = quote_spanned! {declared_at=>
        ::core::concat!(::core::file!(), ":", ::core::line!())
    };
    quote! {
        ::mink::__private::inventory::submit! {
            ::mink::__private::EventRegistration {
                event_type: #name,
                schema_version: #version,
                rust_type: ::core::concat!(::core::module_path!(), #suffix),
                declared_at: #declared_at,
                schema: {
                    fn __mink_schema() -> ::core::option::Option<::mink::__private::serde_json::Value> {
                        #schema
                    }
                    __mink_schema
                },
            }
        }
    }
}

/// A minimal impl emitted next to errors, so one mistake does not turn
/// every use of the type into a second error.
fn fallback_impl(ty: &Ident, emit: bool) -> TokenStream {
    if !emit {
        return TokenStream::new();
    }
    quote! {
        const _: () = {
            impl ::mink::__private::Event for #ty {
                const EVENT_TYPES: &'static [&'static str] = &[];
                fn event_type(&self) -> &'static str { ::core::unreachable!() }
                fn schema_version(&self) -> u32 { ::core::unreachable!() }
                fn encode<__S: ::mink::__private::Serializer>(&self, _: &__S)
                    -> ::core::result::Result<::std::vec::Vec<u8>, ::mink::__private::BoxError> { ::core::unreachable!() }
                fn decode<__S: ::mink::__private::Serializer>(_: &str, _: u32, _: &[u8], _: &__S)
                    -> ::core::result::Result<::core::option::Option<Self>, ::mink::__private::BoxError> { ::core::unreachable!() }
            }
        };
    }
}
