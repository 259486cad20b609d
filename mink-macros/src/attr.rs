//! Parsing of the keys inside `#[event(…)]`, `#[aggregate(…)]`,
//! `#[command(…)]`, `#[command_handler(…)]` and `#[projection(…)]`, and of
//! the user's own
//! `#[derive(…)]` list. Each macro's set of keys lives in its `ast` module;
//! this module holds what they share.

use syn::ext::IdentExt;
use syn::meta::ParseNestedMeta;
use syn::{Attribute, Ident, LitInt, LitStr, Path};

use crate::ctxt::Ctxt;
use crate::tokens;

/// One attribute value that may be given at most once.
pub(crate) struct Once<T> {
    /// The key, for the "duplicate" message.
    key: &'static str,
    /// The first value given, if any.
    value: Option<T>,
}

impl<T> Once<T> {
    /// A key not given yet.
    pub(crate) fn new(key: &'static str) -> Self {
        Once { key, value: None }
    }

    /// Stores `value`, or reports a duplicate at `meta`'s key.
    pub(crate) fn set(&mut self, cx: &mut Ctxt, owner: &str, meta: &ParseNestedMeta<'_>, value: T) {
        if self.value.is_some() {
            cx.error_spanned_by(
                &meta.path,
                format!("duplicate `{}` in #[{owner}(…)]; give it once", self.key),
            );
        } else {
            self.value = Some(value);
        }
    }

    /// The value, or `None` when the key was not given.
    pub(crate) fn take(self) -> Option<T> {
        self.value
    }
}

/// Reports an unknown key, listing the expected ones.
pub(crate) fn unknown_key(
    cx: &mut Ctxt,
    owner: &str,
    meta: &ParseNestedMeta<'_>,
    expected: &[&str],
) -> syn::Result<()> {
    let key = tokens::compact(&meta.path);
    let list = expected
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let hint = expected
        .iter()
        .find(|k| edit_distance(k, &key) <= 2)
        .map(|k| format!("did you mean `{k}`? "))
        .unwrap_or_default();
    cx.error_spanned_by(
        &meta.path,
        if expected.len() == 1 {
            format!("unknown `{owner}` attribute `{key}`; the only key here is {list}")
        } else {
            format!("unknown `{owner}` attribute `{key}`; {hint}expected one of {list}")
        },
    );
    skip_value(meta)
}

/// Levenshtein distance, for "did you mean" hints on short keys.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

/// Consumes `= value` or `(…)` after an unknown key so parsing can go on.
fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        let _: syn::Token![=] = meta.input.parse()?;
        let _: syn::Expr = meta.input.parse()?;
    } else if meta.input.peek(syn::token::Paren) {
        let _content;
        syn::parenthesized!(_content in meta.input);
        let _: proc_macro2::TokenStream = _content.parse()?;
    }
    Ok(())
}

/// Parses `key = "text"`.
pub(crate) fn lit_str(meta: &ParseNestedMeta<'_>) -> syn::Result<LitStr> {
    meta.value()?.parse()
}

/// Parses `key = Path`.
pub(crate) fn path(meta: &ParseNestedMeta<'_>) -> syn::Result<Path> {
    meta.value()?.parse()
}

/// Parses `key = 1`.
pub(crate) fn lit_u32(meta: &ParseNestedMeta<'_>) -> syn::Result<(u32, LitInt)> {
    let lit: LitInt = meta.value()?.parse()?;
    let n = lit.base10_parse::<u32>()?;
    Ok((n, lit))
}

/// Parses `key = 1` into a `u64`.
pub(crate) fn lit_u64(meta: &ParseNestedMeta<'_>) -> syn::Result<(u64, LitInt)> {
    let lit: LitInt = meta.value()?.parse()?;
    let n = lit.base10_parse::<u64>()?;
    Ok((n, lit))
}

/// Parses `key = word`, where the word may be a keyword (`kind = async`).
/// A quoted word gets a message saying to drop the quotes.
pub(crate) fn word(meta: &ParseNestedMeta<'_>) -> syn::Result<Ident> {
    let input = meta.value()?;
    if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        return Err(syn::Error::new_spanned(
            &lit,
            format!("write `{}` without quotes", lit.value()),
        ));
    }
    input.call(Ident::parse_any)
}

/// Runs `each` on every key of every `#[name(…)]` in `attrs`, collecting
/// errors into `cx`.
pub(crate) fn for_each_key(
    cx: &mut Ctxt,
    attrs: &[Attribute],
    name: &str,
    mut each: impl FnMut(&mut Ctxt, &ParseNestedMeta<'_>) -> syn::Result<()>,
) {
    for attr in attrs.iter().filter(|a| a.path().is_ident(name)) {
        if let syn::Meta::Path(_) = attr.meta {
            cx.error_spanned_by(attr, format!("expected `#[{name}(…)]` with keys inside"));
            continue;
        }
        let res = attr.parse_nested_meta(|meta| each(cx, &meta));
        if let Err(e) = res {
            cx.syn_error(e);
        }
    }
}

/// Removes every `#[name(…)]` attribute (inert helper attributes that the
/// compiler must not see).
pub(crate) fn strip(attrs: &mut Vec<Attribute>, name: &str) {
    attrs.retain(|a| !a.path().is_ident(name));
}

/// Which of the traits mink derives for its types the user already
/// derives, so the generated `#[derive(…)]` leaves those out instead of
/// deriving them twice.
#[derive(Clone, Copy, Default)]
pub(crate) struct UserDerives {
    /// `Clone` is derived.
    pub(crate) clone: bool,
    /// serde's `Serialize` is derived.
    pub(crate) serialize: bool,
    /// serde's `Deserialize` is derived.
    pub(crate) deserialize: bool,
}

impl UserDerives {
    /// Reads every `#[derive(…)]` in `attrs`, by the last segment of each
    /// path, so `serde::Serialize` counts as `Serialize`.
    pub(crate) fn of(attrs: &[Attribute]) -> Self {
        let mut has = UserDerives::default();
        for a in attrs.iter().filter(|a| a.path().is_ident("derive")) {
            // A derive list that does not parse is rustc's to report.
            let _ = a.parse_nested_meta(|meta| {
                if let Some(last) = meta.path.segments.last() {
                    has.clone |= last.ident == "Clone";
                    has.serialize |= last.ident == "Serialize";
                    has.deserialize |= last.ident == "Deserialize";
                }
                Ok(())
            });
        }
        has
    }
}
