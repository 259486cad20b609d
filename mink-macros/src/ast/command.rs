//! The validated view of a `#[command]` struct.

use proc_macro2::TokenStream;
use syn::{Fields, Ident, ItemStruct, LitStr, Path};

use crate::attr::{self, Once};
use crate::check;
use crate::ctxt::Ctxt;

/// The keys of `#[command(…)]`, as given. Kept apart from the view because
/// the fallback impl emitted after an error needs `aggregate` even when the
/// view cannot be built.
pub(crate) struct Container {
    /// `aggregate = Path`: the aggregate the command targets.
    pub(crate) aggregate: Option<Path>,
    /// `name = "…"`: the command's stable name.
    name: Option<LitStr>,
}

impl Container {
    /// Checks the generics and reads the macro's arguments.
    pub(crate) fn from_ast(cx: &mut Ctxt, args: TokenStream, item: &ItemStruct) -> Self {
        check::no_generics(cx, &item.generics, "a command");
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
        Container {
            aggregate: aggregate.take(),
            name: name.take(),
        }
    }
}

/// A validated `#[command]` struct.
pub(crate) struct Command<'a> {
    /// The struct's name.
    pub(crate) ident: &'a Ident,
    /// Stable name: `name = "…"` or the struct's name.
    pub(crate) name: String,
    /// What the command is dispatched to.
    pub(crate) target: Target<'a>,
}

/// What a command is dispatched to.
pub(crate) enum Target<'a> {
    /// `#[command(aggregate = A)]`: loaded by the `#[command(id)]` field.
    Aggregate {
        /// The aggregate type.
        path: &'a Path,
        /// The field holding the target aggregate's id.
        id: &'a Ident,
    },
    /// No aggregate: handled by a `#[command_handler]` function.
    NoAggregate {
        /// A `#[command(id)]` field, which is optional here; it still
        /// gives the command's `aggregate_id`.
        id: Option<&'a Ident>,
    },
}

impl<'a> Command<'a> {
    /// Reads the struct's fields and completes `container`; `None` after an
    /// error.
    pub(crate) fn from_ast(
        cx: &mut Ctxt,
        item: &'a ItemStruct,
        container: &'a Container,
    ) -> Option<Self> {
        // A command without an aggregate may have any shape, so its fields
        // are searched only when they are named.
        let id = match &item.fields {
            Fields::Named(named) => super::marked_id_field(cx, named, "command", "a command")
                .and_then(|f| f.ident.as_ref()),
            _ => None,
        };
        let target = match (&container.aggregate, id) {
            (Some(_), _) if !matches!(item.fields, Fields::Named(_)) => {
                cx.error_spanned_by(
                    &item.ident,
                    "a command of an aggregate needs a struct with named fields, one of them `#[command(id)]`",
                );
                None
            }
            (Some(path), Some(id)) => Some(Target::Aggregate { path, id }),
            (Some(_), None) => {
                cx.error_spanned_by(
                    &item.ident,
                    "missing id field: mark the field holding the target aggregate's id with `#[command(id)]`",
                );
                None
            }
            (None, id) => Some(Target::NoAggregate { id }),
        };
        let name = container
            .name
            .as_ref()
            .map_or_else(|| item.ident.to_string(), LitStr::value);
        match target {
            Some(target) if cx.is_ok() => Some(Command {
                ident: &item.ident,
                name,
                target,
            }),
            _ => None,
        }
    }
}
