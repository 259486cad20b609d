//! The validated view of an `#[event]` enum (one event type per variant)
//! or an `#[event]` struct (one event type).

use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::{Field, Fields, Ident, ItemEnum, ItemStruct, LitStr, Variant};

use crate::attr::{self, Once};
use crate::check;
use crate::ctxt::Ctxt;

/// A validated `#[event]` enum.
pub(crate) struct EventEnum<'a> {
    /// The enum's name.
    pub(crate) ident: &'a Ident,
    /// One event type per variant, in declaration order.
    pub(crate) cases: Vec<EventCase<'a>>,
    /// `#[event(protobuf)]`: each variant holds a `prost::Message`, encoded
    /// as Protocol Buffers instead of through serde.
    pub(crate) protobuf: bool,
}

impl<'a> EventEnum<'a> {
    /// Reads `#[event(…)]`'s arguments and every variant; `None` after an
    /// error.
    pub(crate) fn from_ast(cx: &mut Ctxt, args: TokenStream, item: &'a ItemEnum) -> Option<Self> {
        // `name` is accepted here only to say where it goes instead.
        let keys = Keys::from_args(cx, args);
        if let Some(name) = &keys.name {
            cx.error_spanned_by(
                name,
                "`name` goes on each variant of an #[event] enum: `#[event(name = \"…\")] Variant { … }`",
            );
        }
        check::no_generics(cx, &item.generics, "an #[event] type");
        if item.variants.is_empty() {
            cx.error_spanned_by(&item.ident, "an #[event] enum needs at least one variant");
        }
        // The enum's version is the default of its variants.
        let default_version = keys.version.unwrap_or(1);
        let cases: Vec<EventCase<'a>> = item
            .variants
            .iter()
            .map(|v| EventCase::from_variant(cx, v, default_version))
            .collect();
        check::unique_event_names(cx, &cases);
        for case in &cases {
            check::event_name_valid(cx, &case.name);
        }
        if keys.protobuf {
            for (case, variant) in cases.iter().zip(&item.variants) {
                if matches!(case.shape, Shape::Named(_) | Shape::Tuple(_)) {
                    cx.error_spanned_by(
                        &variant.fields,
                        "a variant of an #[event(protobuf)] enum holds one prost message, \
                         `Variant(pb::Message)`, or nothing: Protocol Buffers encodes messages, \
                         not loose fields",
                    );
                }
            }
        }
        cx.is_ok().then_some(EventEnum {
            ident: &item.ident,
            cases,
            protobuf: keys.protobuf,
        })
    }
}

/// A validated `#[event]` struct: the whole struct is the payload, encoded
/// by the serde derives of the struct itself.
pub(crate) struct EventStruct<'a> {
    /// The struct's name.
    pub(crate) ident: &'a Ident,
    /// Stable type name.
    pub(crate) name: String,
    /// Schema version.
    pub(crate) version: u32,
    /// `#[event(protobuf)]`: the struct is a `prost::Message`, encoded as
    /// Protocol Buffers instead of through serde.
    pub(crate) protobuf: bool,
}

impl<'a> EventStruct<'a> {
    /// Reads `#[event(…)]`'s arguments; `None` after an error.
    pub(crate) fn from_ast(cx: &mut Ctxt, args: TokenStream, item: &'a ItemStruct) -> Option<Self> {
        let keys = Keys::from_args(cx, args);
        check::no_generics(cx, &item.generics, "an #[event] type");
        let name = EventName::new(keys.name.as_ref(), &item.ident);
        check::event_name_valid(cx, &name);
        cx.is_ok().then(|| EventStruct {
            ident: &item.ident,
            name: name.value,
            version: keys.version.unwrap_or(1),
            protobuf: keys.protobuf,
        })
    }
}

/// A stable event type name, with the span errors about it point at.
pub(crate) struct EventName {
    /// The name stored with every event of this type.
    pub(crate) value: String,
    /// The `name = "…"` literal, or the Rust name when none was given.
    pub(crate) span: Span,
}

impl EventName {
    /// `name = "…"` when given, else the Rust name.
    fn new(given: Option<&LitStr>, ident: &Ident) -> Self {
        match given {
            Some(lit) => EventName {
                value: lit.value(),
                span: lit.span(),
            },
            None => EventName {
                value: ident.to_string(),
                span: ident.span(),
            },
        }
    }
}

/// One event type of an `#[event]` enum: a variant.
pub(crate) struct EventCase<'a> {
    /// The variant name.
    pub(crate) ident: &'a Ident,
    /// Stable type name.
    pub(crate) name: EventName,
    /// Schema version.
    pub(crate) version: u32,
    /// How the variant carries its payload.
    pub(crate) shape: Shape<'a>,
}

impl<'a> EventCase<'a> {
    /// Reads the variant's `#[event(…)]` and the `#[serde(…)]` of its
    /// fields.
    fn from_variant(cx: &mut Ctxt, variant: &'a Variant, default_version: u32) -> Self {
        let keys = Keys::from_attrs(cx, &variant.attrs);
        EventCase {
            ident: &variant.ident,
            name: EventName::new(keys.name.as_ref(), &variant.ident),
            version: keys.version.unwrap_or(default_version),
            shape: Shape::from_fields(cx, &variant.fields),
        }
    }
}

/// How a variant carries its payload.
pub(crate) enum Shape<'a> {
    /// `{ a: A, b: B }`
    Named(Vec<EventField<'a>>),
    /// `(Inner)`: the payload is the inner value.
    Newtype(&'a Field),
    /// `(A, B, …)`: the payload is a sequence.
    Tuple(Vec<&'a Field>),
    /// No fields: the payload is `{}`.
    Unit,
}

impl<'a> Shape<'a> {
    /// The shape of `fields`, reading the payload key of each named field.
    fn from_fields(cx: &mut Ctxt, fields: &'a Fields) -> Self {
        match fields {
            Fields::Unit => Shape::Unit,
            Fields::Unnamed(u) if u.unnamed.len() == 1 => Shape::Newtype(&u.unnamed[0]),
            Fields::Unnamed(u) => Shape::Tuple(u.unnamed.iter().collect()),
            Fields::Named(n) => Shape::Named(
                n.named
                    .iter()
                    .filter_map(|f| {
                        let ident = f.ident.as_ref()?;
                        let (key, default) = serde_field_key(cx, f, ident);
                        Some(EventField {
                            field: f,
                            ident,
                            key,
                            default,
                        })
                    })
                    .collect(),
            ),
        }
    }
}

/// A named field of an event variant.
pub(crate) struct EventField<'a> {
    /// The field, whose `#[serde(…)]` and type the decoder copies.
    pub(crate) field: &'a Field,
    /// The field's name.
    pub(crate) ident: &'a Ident,
    /// The key in the payload (`#[serde(rename = "…")]` or the field name).
    pub(crate) key: String,
    /// `#[serde(default)]`: the payload may leave the key out.
    pub(crate) default: bool,
}

/// The payload key of a field in an enum variant, and whether it has a
/// `#[serde(default)]`. Only `rename`, `alias` and `default` are understood
/// there; anything else is refused, because the generated encoder would
/// silently ignore it.
fn serde_field_key(cx: &mut Ctxt, field: &Field, ident: &Ident) -> (String, bool) {
    let mut key = ident.to_string();
    let mut default = false;
    for a in field.attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let res = a.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                key = attr::lit_str(&meta)?.value();
            } else if meta.path.is_ident("alias") {
                let _ = attr::lit_str(&meta)?;
            } else if meta.path.is_ident("default") {
                default = true;
                if meta.input.peek(syn::Token![=]) {
                    let _ = attr::lit_str(&meta)?;
                }
            } else {
                cx.error_spanned_by(
                    &meta.path,
                    "only `rename`, `alias` and `default` are supported on fields of #[event] enum variants; \
                     for more serde control, wrap a struct: `Variant(MyPayload)`",
                );
                if meta.input.peek(syn::Token![=]) {
                    let _: syn::Expr = meta.value()?.parse()?;
                }
            }
            Ok(())
        });
        if let Err(e) = res {
            cx.syn_error(e);
        }
    }
    (key, default)
}

/// The keys of `#[event(…)]`, as given; defaults are the views' business.
struct Keys {
    /// `name = "…"`.
    name: Option<LitStr>,
    /// `version = N`, never 0.
    version: Option<u32>,
    /// `protobuf`, on the type only.
    protobuf: bool,
}

impl Keys {
    /// The keys of the macro's own arguments: `#[event(…)] enum E`.
    fn from_args(cx: &mut Ctxt, args: TokenStream) -> Self {
        let mut name = Once::new("name");
        let mut version = Once::new("version");
        let mut protobuf = Once::new("protobuf");
        let parser = syn::meta::parser(|meta| {
            if meta.path.is_ident("protobuf") {
                protobuf.set(cx, "event", &meta, ());
            } else {
                parse_key(cx, &meta, &mut name, &mut version, TYPE_KEYS);
            }
            Ok(())
        });
        if let Err(e) = syn::parse::Parser::parse2(parser, args) {
            cx.syn_error(e);
        }
        Keys {
            name: name.take(),
            version: version.take(),
            protobuf: protobuf.take().is_some(),
        }
    }

    /// The keys of inert `#[event(…)]` attributes on a variant.
    fn from_attrs(cx: &mut Ctxt, attrs: &[syn::Attribute]) -> Self {
        let mut name = Once::new("name");
        let mut version = Once::new("version");
        attr::for_each_key(cx, attrs, "event", |cx, meta| {
            parse_key(cx, meta, &mut name, &mut version, VARIANT_KEYS);
            Ok(())
        });
        Keys {
            name: name.take(),
            version: version.take(),
            protobuf: false,
        }
    }
}

/// The keys of `#[event(…)]` on the type.
const TYPE_KEYS: &[&str] = &["name", "version", "protobuf"];
/// The keys of `#[event(…)]` on a variant.
const VARIANT_KEYS: &[&str] = &["name", "version"];

/// Parses one key of `#[event(…)]`, recording every error in `cx` so the
/// following keys are still read; `expected` lists the keys allowed where
/// it stands.
fn parse_key(
    cx: &mut Ctxt,
    meta: &ParseNestedMeta<'_>,
    name: &mut Once<LitStr>,
    version: &mut Once<u32>,
    expected: &[&str],
) {
    let res = if meta.path.is_ident("name") {
        attr::lit_str(meta).map(|v| name.set(cx, "event", meta, v))
    } else if meta.path.is_ident("version") {
        attr::lit_u32(meta).and_then(|(n, lit)| {
            if n == 0 {
                Err(syn::Error::new_spanned(
                    lit,
                    "schema versions start at 1; the first schema of an event is `version = 1`",
                ))
            } else {
                version.set(cx, "event", meta, n);
                Ok(())
            }
        })
    } else {
        attr::unknown_key(cx, "event", meta, expected)
    };
    if let Err(e) = res {
        cx.syn_error(e);
    }
}
