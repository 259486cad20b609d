//! The keys of `#[saga(…)]`: on the impl block (`name`), and on its
//! methods (`start`, `associate`, `compensate`, `skip`).

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt as _;
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{Attribute, LitStr, Member, Path};

use crate::attr::{self, Once};
use crate::ctxt::Ctxt;

/// The name `#[saga(…)]` reports its keys under.
const OWNER: &str = "saga";

/// The keys of `#[saga(…)]` on the impl block, as given.
pub(crate) struct Keys {
    /// `name = "…"`.
    pub(crate) name: Option<LitStr>,
}

impl Keys {
    /// Parses the macro's arguments, reporting every bad key.
    pub(crate) fn from_args(cx: &mut Ctxt, args: TokenStream) -> Self {
        let mut name = Once::new("name");
        let parser = syn::meta::parser(|meta| {
            let res = if meta.path.is_ident("name") {
                attr::lit_str(&meta).map(|lit| name.set(cx, OWNER, &meta, lit))
            } else {
                attr::unknown_key(cx, OWNER, &meta, &["name"])
            };
            if let Err(e) = res {
                cx.syn_error(e);
            }
            Ok(())
        });
        if let Err(e) = syn::parse::Parser::parse2(parser, args) {
            cx.syn_error(e);
        }
        Keys { name: name.take() }
    }
}

/// How an event finds its saga: `associate = field`, or
/// `associate(key = "…", field = f)`, or `associate(key = "…", with = f)`.
pub(crate) enum Associate {
    /// The value of one of the event's fields.
    Field {
        /// The association key.
        key: String,
        /// The field.
        field: Member,
    },
    /// What a function of the event returns.
    With {
        /// The association key.
        key: String,
        /// The function, called with `&E`.
        with: Path,
    },
}

/// The keys written on a method, as given.
#[derive(Default)]
pub(crate) struct Markers {
    /// `start`, where written.
    pub(crate) start: Option<Span>,
    /// `compensate`, where written.
    pub(crate) compensate: Option<Span>,
    /// `skip`, where written.
    pub(crate) skip: Option<Span>,
    /// `associate…`, read, and where written.
    pub(crate) associate: Option<(Associate, Span)>,
    /// Whether `associate` was written, even if it did not parse.
    pub(crate) associate_written: bool,
    /// Whether any key was unknown: the method is then left alone, since
    /// reading it as a handler would add errors about its signature.
    pub(crate) misspelt: bool,
}

impl Markers {
    /// Whether any marker was written.
    pub(crate) fn any(&self) -> bool {
        self.start.is_some()
            || self.compensate.is_some()
            || self.skip.is_some()
            || self.associate_written
    }
}

/// The method keys, for "unknown key" messages.
const METHOD_KEYS: [&str; 4] = ["start", "associate", "compensate", "skip"];

/// Reads a method's `#[saga(…)]` keys.
pub(crate) fn method_markers(cx: &mut Ctxt, attrs: &[Attribute]) -> Markers {
    let mut m = Markers::default();
    attr::for_each_key(cx, attrs, OWNER, |cx, meta| {
        let span = meta.path.span();
        let slot = if meta.path.is_ident("start") {
            &mut m.start
        } else if meta.path.is_ident("compensate") {
            &mut m.compensate
        } else if meta.path.is_ident("skip") {
            &mut m.skip
        } else if meta.path.is_ident("associate") {
            if m.associate_written {
                cx.error_spanned_by(&meta.path, "duplicate `associate` in #[saga(…)]; an event finds its saga by one association: add more from the handler with `cx.associate(key, value)`");
            }
            m.associate_written = true;
            let associate = parse_associate(meta)?;
            m.associate.get_or_insert((associate, span));
            return Ok(());
        } else {
            m.misspelt = true;
            return attr::unknown_key(cx, OWNER, meta, &METHOD_KEYS);
        };
        if slot.is_some() {
            cx.error_spanned_by(
                &meta.path,
                format!(
                    "duplicate `{}` in #[saga(…)]; give it once",
                    crate::tokens::compact(&meta.path)
                ),
            );
        }
        *slot = Some(span);
        Ok(())
    });
    m
}

/// The usage line of `associate`, for messages.
const ASSOCIATE_SHAPE: &str = "write `associate = order_id` (a field of the event, also the key), `associate(key = \"order\", field = order_id)`, or `associate(key = \"order\", with = order_of)` with `fn order_of(event: &E) -> impl ToString`";

/// Parses `associate = field` or `associate(…)`.
fn parse_associate(meta: &ParseNestedMeta<'_>) -> syn::Result<Associate> {
    if meta.input.peek(syn::Token![=]) {
        let field: Member = meta.value()?.parse()?;
        return match &field {
            Member::Named(ident) => Ok(Associate::Field {
                key: ident.unraw().to_string(),
                field,
            }),
            Member::Unnamed(_) => Err(syn::Error::new_spanned(
                &field,
                "a tuple field has no name to use as the association key; write `associate(key = \"order\", field = 0)`",
            )),
        };
    }
    if !meta.input.peek(syn::token::Paren) {
        return Err(meta.error(format!(
            "`associate` needs to say where the value comes from: {ASSOCIATE_SHAPE}"
        )));
    }
    let mut key: Option<LitStr> = None;
    let mut field: Option<Member> = None;
    let mut with: Option<Path> = None;
    meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("key") {
            key = Some(attr::lit_str(&inner)?);
        } else if inner.path.is_ident("field") {
            field = Some(inner.value()?.parse()?);
        } else if inner.path.is_ident("with") {
            with = Some(attr::path(&inner)?);
        } else {
            return Err(inner.error(format!(
                "unknown `associate` key `{}`; expected `key`, `field` or `with`",
                crate::tokens::compact(&inner.path)
            )));
        }
        Ok(())
    })?;
    if let Some(k) = &key
        && k.value().is_empty()
    {
        return Err(syn::Error::new_spanned(
            k,
            "an association key must not be empty",
        ));
    }
    match (key, field, with) {
        (_, Some(f), Some(_)) => Err(syn::Error::new_spanned(
            f,
            "an association comes from a field or from a function, not both: remove `field` or `with`",
        )),
        (Some(key), Some(field), None) => Ok(Associate::Field {
            key: key.value(),
            field,
        }),
        (None, Some(field @ Member::Named(_)), None) => {
            let key = match &field {
                Member::Named(ident) => ident.unraw().to_string(),
                Member::Unnamed(_) => unreachable!("matched as named"),
            };
            Ok(Associate::Field { key, field })
        }
        (None, Some(field), None) => Err(syn::Error::new_spanned(
            field,
            "a tuple field has no name to use as the association key; add `key = \"…\"`",
        )),
        (Some(key), None, Some(with)) => Ok(Associate::With {
            key: key.value(),
            with,
        }),
        (None, None, Some(with)) => Err(syn::Error::new_spanned(
            with,
            "an association computed `with` a function needs its key: add `key = \"…\"`",
        )),
        (_, None, None) => Err(meta.error(format!(
            "`associate(…)` needs `field` or `with`: {ASSOCIATE_SHAPE}"
        ))),
    }
}
