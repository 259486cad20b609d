//! The validated view of a `#[derive(Aggregate)]` struct.

use syn::{Data, DeriveInput, Fields, Ident, LitStr, Path, Type};

use crate::attr::{self, Once};
use crate::check;
use crate::ctxt::Ctxt;

/// The struct's `#[aggregate(…)]` keys, as given. Kept apart from the view
/// because the fallback impl emitted after an error needs `events` even
/// when the view cannot be built.
pub(crate) struct Container {
    /// `events = Path`: the aggregate's `#[event]` type.
    pub(crate) events: Option<Path>,
    /// `category = "…"`: the prefix of the aggregate's stream ids.
    category: Option<LitStr>,
}

impl Container {
    /// Checks the generics and reads the container's `#[aggregate(…)]`.
    pub(crate) fn from_ast(cx: &mut Ctxt, input: &DeriveInput) -> Self {
        check::no_generics(cx, &input.generics, "an aggregate");
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
        Container {
            events: events.take(),
            category: category.take(),
        }
    }
}

/// A validated `#[derive(Aggregate)]` struct.
pub(crate) struct Aggregate<'a> {
    /// The struct's name.
    pub(crate) ident: &'a Ident,
    /// The aggregate's `#[event]` type.
    pub(crate) events: &'a Path,
    /// The prefix of the aggregate's stream ids, checked to contain no `-`.
    pub(crate) category: &'a LitStr,
    /// The `#[aggregate(id)]` field.
    pub(crate) id: &'a Ident,
    /// That field's type, which the id is parsed into on load.
    pub(crate) id_ty: &'a Type,
}

impl<'a> Aggregate<'a> {
    /// Reads the struct's fields and completes `container`; `None` after an
    /// error.
    pub(crate) fn from_ast(
        cx: &mut Ctxt,
        input: &'a DeriveInput,
        container: &'a Container,
    ) -> Option<Self> {
        let ident = &input.ident;
        let mut has_named_fields = false;
        let id_field = match &input.data {
            Data::Struct(s) => match &s.fields {
                Fields::Named(named) => {
                    has_named_fields = true;
                    super::marked_id_field(cx, named, "aggregate", "an aggregate")
                }
                _ => {
                    cx.error_spanned_by(
                        ident,
                        "#[derive(Aggregate)] needs a struct with named fields, one of them `#[aggregate(id)]`",
                    );
                    None
                }
            },
            Data::Enum(e) => {
                cx.error_spanned_by(
                    e.enum_token,
                    "#[derive(Aggregate)] goes on a struct, not an enum; the enum is usually the aggregate's `#[event]` type",
                );
                None
            }
            Data::Union(u) => {
                cx.error_spanned_by(
                    u.union_token,
                    "#[derive(Aggregate)] goes on a struct, not a union",
                );
                None
            }
        };
        if container.events.is_none() {
            cx.error_spanned_by(
                ident,
                "missing `#[aggregate(events = …)]`: name the aggregate's #[event] type",
            );
        }
        match &container.category {
            None => cx.error_spanned_by(
                ident,
                "missing `#[aggregate(category = \"…\")]`: the prefix of the aggregate's stream ids",
            ),
            Some(c) => check::category_valid(cx, c),
        }
        let id = id_field.and_then(|f| Some((f.ident.as_ref()?, &f.ty)));
        // Without named fields the struct's shape was reported above.
        if id.is_none() && has_named_fields {
            cx.error_spanned_by(
                ident,
                "missing id field: mark the field holding the aggregate's id with `#[aggregate(id)]`",
            );
        }
        match (&container.events, &container.category, id) {
            (Some(events), Some(category), Some((id, id_ty))) if cx.is_ok() => Some(Aggregate {
                ident,
                events,
                category,
                id,
                id_ty,
            }),
            _ => None,
        }
    }
}
