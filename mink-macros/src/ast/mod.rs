//! Validated views of the macro inputs, one module per macro.
//!
//! Each view borrows the syn tree and keeps the original nodes, so errors
//! and generated code carry the user's spans. A view is built only from an
//! input without errors: what the macro needs is checked and present, so
//! `expand` never meets a missing part. Every `from_ast` that returns
//! `None` has recorded why in the [`Ctxt`], which
//! [`Ctxt::finish`] relies on.

use syn::{Field, FieldsNamed};

use crate::attr;
use crate::ctxt::Ctxt;

pub(crate) mod aggregate;
pub(crate) mod command;
pub(crate) mod event;
pub(crate) mod handler;
pub(crate) mod projection;
pub(crate) mod read_model;
pub(crate) mod saga;

/// The one field marked `#[<attr_name>(id)]`, reporting unknown keys, a
/// repeated `id`, and a second marked field. `owner` names the item in the
/// message ("an aggregate", "a command").
pub(crate) fn marked_id_field<'a>(
    cx: &mut Ctxt,
    fields: &'a FieldsNamed,
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
