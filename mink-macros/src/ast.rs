//! Typed views of the macro inputs. Each view borrows the syn tree and keeps
//! the original nodes, so errors and generated code carry the user's spans.

use proc_macro2::Span;
use syn::{Field, Fields, Ident, ImplItemFn, ItemImpl, LitStr, Path, Type, Variant};

use crate::attr::{self, Once};
use crate::ctxt::Ctxt;

// ---------------------------------------------------------------- #[event]

/// How a variant (or struct) carries its payload.
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

/// A named field of an event variant.
pub(crate) struct EventField<'a> {
    pub(crate) field: &'a Field,
    pub(crate) ident: &'a Ident,
    /// The key in the payload (`#[serde(rename = "…")]` or the field name).
    pub(crate) key: String,
}

/// One event type: a variant of an `#[event]` enum, or an `#[event]` struct.
pub(crate) struct EventCase<'a> {
    /// The variant name (enums) or the struct name.
    pub(crate) ident: &'a Ident,
    /// Stable type name.
    pub(crate) name: String,
    pub(crate) name_span: Span,
    pub(crate) version: u32,
    pub(crate) shape: Shape<'a>,
}

/// The keys of `#[event(…)]`.
pub(crate) struct EventAttrs {
    pub(crate) name: Option<LitStr>,
    pub(crate) version: Option<u32>,
}

pub(crate) fn event_attrs_from_args(cx: &mut Ctxt, args: proc_macro2::TokenStream) -> EventAttrs {
    let mut name = Once::new("name");
    let mut version = Once::new("version");
    let parser = syn::meta::parser(|meta| {
        parse_event_key(cx, &meta, &mut name, &mut version, true);
        Ok(())
    });
    if let Err(e) = syn::parse::Parser::parse2(parser, args) {
        cx.syn_error(e);
    }
    EventAttrs {
        name: name.take(),
        version: version.take(),
    }
}

pub(crate) fn event_attrs_from_attrs(
    cx: &mut Ctxt,
    attrs: &[syn::Attribute],
    allow_name: bool,
) -> EventAttrs {
    let mut name = Once::new("name");
    let mut version = Once::new("version");
    attr::for_each_key(cx, attrs, "event", |cx, meta| {
        parse_event_key(cx, meta, &mut name, &mut version, allow_name);
        Ok(())
    });
    EventAttrs {
        name: name.take(),
        version: version.take(),
    }
}

fn parse_event_key(
    cx: &mut Ctxt,
    meta: &syn::meta::ParseNestedMeta<'_>,
    name: &mut Once<LitStr>,
    version: &mut Once<u32>,
    allow_name: bool,
) {
    let res = if meta.path.is_ident("name") && allow_name {
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
        let expected: &[&str] = if allow_name {
            &["name", "version"]
        } else {
            &["version"]
        };
        attr::unknown_key(cx, "event", meta, expected)
    };
    if let Err(e) = res {
        cx.syn_error(e);
    }
}

pub(crate) fn event_shape<'a>(cx: &mut Ctxt, fields: &'a Fields) -> Shape<'a> {
    match fields {
        Fields::Unit => Shape::Unit,
        Fields::Unnamed(u) if u.unnamed.len() == 1 => Shape::Newtype(&u.unnamed[0]),
        Fields::Unnamed(u) => Shape::Tuple(u.unnamed.iter().collect()),
        Fields::Named(n) => Shape::Named(
            n.named
                .iter()
                .filter_map(|f| {
                    let ident = f.ident.as_ref()?;
                    Some(EventField {
                        field: f,
                        ident,
                        key: serde_field_key(cx, f, ident),
                    })
                })
                .collect(),
        ),
    }
}

/// The payload key of a field in an enum variant. Only `rename`, `alias`
/// and `default` are understood there; anything else is refused, because
/// the generated encoder would silently ignore it.
fn serde_field_key(cx: &mut Ctxt, field: &Field, ident: &Ident) -> String {
    let mut key = ident.to_string();
    for a in field.attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let res = a.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                key = attr::lit_str(&meta)?.value();
            } else if meta.path.is_ident("alias") {
                let _ = attr::lit_str(&meta)?;
            } else if meta.path.is_ident("default") {
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
    key
}

pub(crate) fn event_case<'a>(
    cx: &mut Ctxt,
    ident: &'a Ident,
    attrs: EventAttrs,
    default_version: u32,
    fields: &'a Fields,
) -> EventCase<'a> {
    let (name, name_span) = match &attrs.name {
        Some(lit) => (lit.value(), lit.span()),
        None => (ident.to_string(), ident.span()),
    };
    EventCase {
        ident,
        name,
        name_span,
        version: attrs.version.unwrap_or(default_version),
        shape: event_shape(cx, fields),
    }
}

/// A variant together with its parsed case.
pub(crate) fn variant_case<'a>(
    cx: &mut Ctxt,
    variant: &'a Variant,
    default_version: u32,
) -> EventCase<'a> {
    let attrs = event_attrs_from_attrs(cx, &variant.attrs, true);
    event_case(cx, &variant.ident, attrs, default_version, &variant.fields)
}

// ------------------------------------------------------- #[derive(Aggregate)]

/// The parsed `#[aggregate(…)]` container and its id field.
pub(crate) struct AggregateInput<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) events: Option<Path>,
    pub(crate) category: Option<LitStr>,
    pub(crate) id_field: Option<&'a Ident>,
    pub(crate) id_type: Option<&'a Type>,
}

pub(crate) fn aggregate_input<'a>(
    cx: &mut Ctxt,
    input: &'a syn::DeriveInput,
) -> AggregateInput<'a> {
    let mut events = Once::new("events");
    let mut category = Once::new("category");
    attr::for_each_key(cx, &input.attrs, "aggregate", |cx, meta| {
        let res = if meta.path.is_ident("events") {
            attr::path(meta).map(|p| events.set(cx, "aggregate", meta, p))
        } else if meta.path.is_ident("category") {
            attr::lit_str(meta).map(|c| category.set(cx, "aggregate", meta, c))
        } else if meta.path.is_ident("id") {
            cx.error_spanned_by(
                &meta.path,
                "`id` goes on a field: `#[aggregate(id)] id: String`",
            );
            Ok(())
        } else {
            attr::unknown_key(cx, "aggregate", meta, &["events", "category"])
        };
        if let Err(e) = res {
            cx.syn_error(e);
        }
        Ok(())
    });

    let mut id_field = None;
    let mut id_type = None;
    match &input.data {
        syn::Data::Struct(s) => match &s.fields {
            Fields::Named(named) => {
                if let Some(f) = marked_id_field(cx, named, "aggregate", "an aggregate") {
                    id_field = f.ident.as_ref();
                    id_type = Some(&f.ty);
                }
            }
            _ => cx.error_spanned_by(
                &input.ident,
                "#[derive(Aggregate)] needs a struct with named fields, one of them `#[aggregate(id)]`",
            ),
        },
        syn::Data::Enum(e) => cx.error_spanned_by(
            e.enum_token,
            "#[derive(Aggregate)] goes on a struct, not an enum; the enum is usually the aggregate's `#[event]` type",
        ),
        syn::Data::Union(u) => cx.error_spanned_by(
            u.union_token,
            "#[derive(Aggregate)] goes on a struct, not a union",
        ),
    }
    AggregateInput {
        ident: &input.ident,
        events: events.take(),
        category: category.take(),
        id_field,
        id_type,
    }
}

/// The one field marked `#[<attr>(id)]`, reporting unknown keys, a
/// repeated `id`, and a second marked field.
fn marked_id_field<'a>(
    cx: &mut Ctxt,
    fields: &'a syn::FieldsNamed,
    attr_name: &str,
    owner: &str,
) -> Option<&'a Field> {
    let mut found: Option<&'a Field> = None;
    for f in &fields.named {
        let mut is_id = false;
        attr::for_each_key(cx, &f.attrs, attr_name, |cx, meta| {
            if meta.path.is_ident("id") {
                if is_id {
                    cx.error_spanned_by(&meta.path, "duplicate `id` on this field");
                }
                is_id = true;
                Ok(())
            } else {
                attr::unknown_key(cx, attr_name, meta, &["id"])
            }
        });
        if !is_id {
            continue;
        }
        if found.is_some() {
            cx.error_spanned_by(
                f,
                format!(
                    "{owner} has exactly one `#[{attr_name}(id)]` field; remove this one or the other"
                ),
            );
        } else {
            found = Some(f);
        }
    }
    found
}

// ----------------------------------------------------------------- #[command]

/// The parsed `#[command(…)]` item.
pub(crate) struct CommandInput<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) aggregate: Option<Path>,
    pub(crate) name: Option<LitStr>,
    pub(crate) id_field: Option<Ident>,
}

pub(crate) fn command_input<'a>(
    cx: &mut Ctxt,
    args: proc_macro2::TokenStream,
    item: &'a syn::ItemStruct,
) -> CommandInput<'a> {
    let mut aggregate = Once::new("aggregate");
    let mut name = Once::new("name");
    let parser = syn::meta::parser(|meta| {
        let res = if meta.path.is_ident("aggregate") {
            attr::path(&meta).map(|p| aggregate.set(cx, "command", &meta, p))
        } else if meta.path.is_ident("name") {
            attr::lit_str(&meta).map(|n| name.set(cx, "command", &meta, n))
        } else if meta.path.is_ident("id") {
            cx.error_spanned_by(
                &meta.path,
                "`id` goes on a field: `#[command(id)] order_id: String`",
            );
            Ok(())
        } else {
            attr::unknown_key(cx, "command", &meta, &["aggregate", "name"])
        };
        if let Err(e) = res {
            cx.syn_error(e);
        }
        Ok(())
    });
    if let Err(e) = syn::parse::Parser::parse2(parser, args) {
        cx.syn_error(e);
    }

    // Plain commands may have any shape; a command of an aggregate needs a
    // named id field, checked in `expand::command`.
    let id_field = match &item.fields {
        Fields::Named(named) => {
            marked_id_field(cx, named, "command", "a command").and_then(|f| f.ident.clone())
        }
        _ => None,
    };
    CommandInput {
        ident: &item.ident,
        aggregate: aggregate.take(),
        name: name.take(),
        id_field,
    }
}

// --------------------------------------------------------- #[command_handler]

/// One handler method found in a `#[command_handler]` block.
pub(crate) struct HandlerMethod<'a> {
    pub(crate) method: &'a ImplItemFn,
    pub(crate) command: &'a Type,
    pub(crate) output: &'a Type,
}

/// Whether an impl-block method is skipped by `#[command_handler(skip)]`.
pub(crate) fn is_skipped(cx: &mut Ctxt, method: &ImplItemFn) -> bool {
    let mut skip = false;
    attr::for_each_key(cx, &method.attrs, "command_handler", |cx, meta| {
        // A method with a misspelt key is skipped too: treating it as a
        // handler would add errors about its signature to the real one.
        skip = true;
        if meta.path.is_ident("skip") {
            Ok(())
        } else {
            attr::unknown_key(cx, "command_handler", meta, &["skip"])
        }
    });
    skip
}

/// Finds the handler methods of a `#[command_handler]` block: every method
/// taking `&self` and one by-value argument, except `apply` and those
/// marked `#[command_handler(skip)]`.
pub(crate) fn handler_methods<'a>(cx: &mut Ctxt, block: &'a ItemImpl) -> Vec<HandlerMethod<'a>> {
    let mut found = Vec::new();
    for item in &block.items {
        let syn::ImplItem::Fn(method) = item else {
            continue;
        };
        if is_skipped(cx, method) || method.sig.ident == "apply" {
            continue;
        }
        let inputs: Vec<_> = method.sig.inputs.iter().collect();
        let [syn::FnArg::Receiver(recv), syn::FnArg::Typed(arg)] = inputs.as_slice() else {
            continue;
        };
        if recv.reference.is_none() || recv.mutability.is_some() {
            continue;
        }
        if matches!(*arg.ty, Type::Reference(_)) {
            continue;
        }
        let syn::ReturnType::Type(_, output) = &method.sig.output else {
            cx.error_spanned_by(
                &method.sig,
                format!(
                    "handler `{}` must return `Result<Vec<Event>, Error>`; a method that is not a handler takes `#[command_handler(skip)]`",
                    method.sig.ident
                ),
            );
            continue;
        };
        if method.sig.asyncness.is_some() {
            cx.error_spanned_by(
                method.sig.asyncness,
                "handlers decide synchronously from the loaded state; remove `async`",
            );
            continue;
        }
        found.push(HandlerMethod {
            method,
            command: &arg.ty,
            output,
        });
    }
    found
}
