//! The validated view of a `#[derive(ReadModel)]` struct.

use syn::{Data, DeriveInput, Fields, Ident, LitStr, Type, Visibility};

use crate::attr::{self, Once};
use crate::check;
use crate::ctxt::Ctxt;

/// How a field is indexed, from `#[read_model(id | index | unique)]`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldRole {
    /// A plain column.
    Plain,
    /// The primary key.
    Id,
    /// An indexed column.
    Index,
    /// A column with a unique index.
    Unique,
}

/// One field of the read model.
pub(crate) struct ModelField<'a> {
    /// The field's name.
    pub(crate) ident: &'a Ident,
    /// The column's name: the field's name without `r#`.
    pub(crate) column: String,
    /// The field's type.
    pub(crate) ty: &'a Type,
    /// Its index.
    pub(crate) role: FieldRole,
}

/// A validated `#[derive(ReadModel)]` struct.
pub(crate) struct ReadModel<'a> {
    /// The struct's name.
    pub(crate) ident: &'a Ident,
    /// The struct's visibility, given to its field handles.
    pub(crate) vis: &'a Visibility,
    /// The table's name.
    pub(crate) table: String,
    /// The fields, in order.
    pub(crate) fields: Vec<ModelField<'a>>,
    /// The index of the id field in `fields`.
    pub(crate) id: usize,
}

/// The fields of a struct with named fields, for the fallback expansion
/// after an error.
pub(crate) fn named_fields(input: &DeriveInput) -> Option<&syn::FieldsNamed> {
    match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(named) if input.generics.params.is_empty() => Some(named),
            _ => None,
        },
        _ => None,
    }
}

/// A table or column name both databases take unquoted: ASCII letters,
/// digits and `_`, not starting with a digit, at most 63 bytes.
fn plain_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 63
}

/// `OrderSummary` → `order_summaries`.
pub(crate) fn default_table(ident: &Ident) -> String {
    let name = ident.to_string();
    let name = name.strip_prefix("r#").unwrap_or(&name);
    let mut snake = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                snake.push('_');
            }
            snake.push(c.to_ascii_lowercase());
        } else {
            snake.push(c);
        }
    }
    plural(&snake)
}

fn plural(word: &str) -> String {
    let consonant_y = word.ends_with('y')
        && !word
            .chars()
            .rev()
            .nth(1)
            .is_some_and(|c| "aeiou".contains(c));
    if consonant_y {
        format!("{}ies", &word[..word.len() - 1])
    } else if ["s", "x", "z", "ch", "sh"]
        .iter()
        .any(|e| word.ends_with(e))
    {
        format!("{word}es")
    } else {
        format!("{word}s")
    }
}

impl<'a> ReadModel<'a> {
    /// Reads the struct; `None` after an error.
    pub(crate) fn from_ast(cx: &mut Ctxt, input: &'a DeriveInput) -> Option<Self> {
        let ident = &input.ident;
        check::no_generics(cx, &input.generics, "a read model");
        let mut table = Once::new("table");
        attr::for_each_key(cx, &input.attrs, "read_model", |cx, meta| {
            if meta.path.is_ident("table") {
                match attr::lit_str(meta) {
                    Ok(t) => table.set(cx, "read_model", meta, t),
                    Err(e) => cx.syn_error(e),
                }
                Ok(())
            } else if ["id", "index", "unique"]
                .iter()
                .any(|k| meta.path.is_ident(k))
            {
                cx.error_spanned_by(
                    &meta.path,
                    "`id`, `index` and `unique` go on a field: `#[read_model(id)] id: String`",
                );
                Ok(())
            } else {
                attr::unknown_key(cx, "read_model", meta, &["table"])
            }
        });
        let table: Option<LitStr> = table.take();
        let table_name = match &table {
            Some(lit) => {
                let name = lit.value();
                if !plain_name(&name) {
                    cx.error_spanned_by(
                        lit,
                        format!(
                            "table name `{name}` must be 1 to 63 ASCII letters, digits or `_`, not starting with a digit"
                        ),
                    );
                }
                name
            }
            None => default_table(ident),
        };
        let named = match &input.data {
            Data::Struct(s) => match &s.fields {
                Fields::Named(named) => named,
                _ => {
                    cx.error_spanned_by(
                        ident,
                        "#[derive(ReadModel)] needs a struct with named fields, one of them `#[read_model(id)]`",
                    );
                    return None;
                }
            },
            Data::Enum(e) => {
                cx.error_spanned_by(
                    e.enum_token,
                    "#[derive(ReadModel)] goes on a struct with named fields, not an enum",
                );
                return None;
            }
            Data::Union(u) => {
                cx.error_spanned_by(
                    u.union_token,
                    "#[derive(ReadModel)] goes on a struct with named fields, not a union",
                );
                return None;
            }
        };
        let mut fields = Vec::with_capacity(named.named.len());
        let mut id: Option<usize> = None;
        for f in &named.named {
            let Some(field_ident) = f.ident.as_ref() else {
                continue;
            };
            let mut role = Once::new("id/index/unique");
            attr::for_each_key(cx, &f.attrs, "read_model", |cx, meta| {
                let r = if meta.path.is_ident("id") {
                    FieldRole::Id
                } else if meta.path.is_ident("index") {
                    FieldRole::Index
                } else if meta.path.is_ident("unique") {
                    FieldRole::Unique
                } else {
                    return attr::unknown_key(cx, "read_model", meta, &["index", "unique", "id"]);
                };
                role.set(cx, "read_model", meta, r);
                Ok(())
            });
            let role = role.take().unwrap_or(FieldRole::Plain);
            let name = field_ident.to_string();
            let column = name.strip_prefix("r#").unwrap_or(&name).to_owned();
            if !plain_name(&column) {
                cx.error_spanned_by(
                    field_ident,
                    format!(
                        "field `{column}` cannot name a column: use ASCII letters, digits and `_` (at most 63)"
                    ),
                );
            }
            if role == FieldRole::Id {
                if id.is_some() {
                    cx.error_spanned_by(
                        f,
                        "a read model has exactly one `#[read_model(id)]` field; remove this one or the other",
                    );
                } else {
                    id = Some(fields.len());
                }
            }
            fields.push(ModelField {
                ident: field_ident,
                column,
                ty: &f.ty,
                role,
            });
        }
        if id.is_none() {
            cx.syn_error(syn::Error::new(
                ident.span(),
                "missing id field: mark the field holding the read model's id with `#[read_model(id)]`",
            ));
        }
        match id {
            Some(id) if cx.is_ok() => Some(ReadModel {
                ident,
                vis: &input.vis,
                table: table_name,
                fields,
                id,
            }),
            _ => None,
        }
    }
}
