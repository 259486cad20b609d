//! The keys of `#[projection(…)]` on the impl block: the kind, the name
//! and the options of async projections.

use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{LitInt, LitStr};

use crate::attr::{self, Once};
use crate::ctxt::Ctxt;

/// How a projection runs: `kind = inline | async | live`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Inside the append transaction.
    Inline,
    /// In a checkpointed background worker.
    Async,
    /// In memory, following the log.
    Live,
}

impl Kind {
    /// The spelling in `kind = …`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Inline => "inline",
            Kind::Async => "async",
            Kind::Live => "live",
        }
    }
}

/// `on_poison = skip | pause | retry`.
#[derive(Clone, Copy)]
pub(crate) enum Poison {
    /// Park the event and go on.
    Skip,
    /// Stop until an operator resumes.
    Pause,
    /// Keep retrying.
    Retry,
}

/// The keys that tune an async projection, as given. Each fills one field
/// of `ProjectionOptions`; the others keep their defaults.
#[derive(Default)]
pub(crate) struct AsyncOptions {
    /// `batch_size = N`: events per transaction.
    pub(crate) batch_size: Option<u64>,
    /// `batch_timeout_ms = N`.
    pub(crate) batch_timeout_ms: Option<u64>,
    /// `max_attempts = N`: attempts before the poison policy decides.
    pub(crate) max_attempts: Option<u32>,
    /// `on_poison = skip | pause | retry`.
    pub(crate) on_poison: Option<Poison>,
    /// `lease_ttl_ms = N`.
    pub(crate) lease_ttl_ms: Option<u64>,
    /// `backoff_initial_ms = N`.
    pub(crate) backoff_initial_ms: Option<u64>,
    /// `backoff_max_ms = N`.
    pub(crate) backoff_max_ms: Option<u64>,
    /// `poll_interval_ms = N`.
    pub(crate) poll_interval_ms: Option<u64>,
}

/// Every key of `#[projection(…)]` on the block, for "unknown key"
/// messages. All but `name` and `kind` apply to async projections only.
const KEYS: [&str; 10] = [
    "name",
    "kind",
    "batch_size",
    "batch_timeout_ms",
    "max_attempts",
    "on_poison",
    "lease_ttl_ms",
    "backoff_initial_ms",
    "backoff_max_ms",
    "poll_interval_ms",
];

/// An async-only key as given: its name and where it is, for the check
/// that the projection is async.
pub(crate) struct AsyncOnlyKey {
    /// The key.
    pub(crate) key: &'static str,
    /// The key's path.
    pub(crate) span: Span,
}

/// The keys of `#[projection(…)]` on the impl block, as given.
pub(crate) struct Keys {
    /// `name = "…"`.
    pub(crate) name: Option<LitStr>,
    /// `kind = …`.
    pub(crate) kind: Option<Kind>,
    /// Whether `kind` was written, even with a value that did not parse
    /// (already reported), so it is not reported missing as well.
    pub(crate) kind_written: bool,
    /// The async-only keys' values.
    pub(crate) options: AsyncOptions,
    /// Each async-only key given.
    pub(crate) async_only: Vec<AsyncOnlyKey>,
}

/// The keys while they are read: each may be given once.
struct KeyParser {
    name: Once<LitStr>,
    kind: Once<Kind>,
    kind_written: bool,
    batch_size: Once<u64>,
    batch_timeout_ms: Once<u64>,
    max_attempts: Once<u32>,
    on_poison: Once<Poison>,
    lease_ttl_ms: Once<u64>,
    backoff_initial_ms: Once<u64>,
    backoff_max_ms: Once<u64>,
    poll_interval_ms: Once<u64>,
    async_only: Vec<AsyncOnlyKey>,
}

/// The name `#[projection(…)]` reports its keys under.
const OWNER: &str = "projection";

impl KeyParser {
    fn new() -> Self {
        KeyParser {
            name: Once::new("name"),
            kind: Once::new("kind"),
            kind_written: false,
            batch_size: Once::new("batch_size"),
            batch_timeout_ms: Once::new("batch_timeout_ms"),
            max_attempts: Once::new("max_attempts"),
            on_poison: Once::new("on_poison"),
            lease_ttl_ms: Once::new("lease_ttl_ms"),
            backoff_initial_ms: Once::new("backoff_initial_ms"),
            backoff_max_ms: Once::new("backoff_max_ms"),
            poll_interval_ms: Once::new("poll_interval_ms"),
            async_only: Vec::new(),
        }
    }

    /// Reads one key.
    fn key(&mut self, cx: &mut Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
        let known = meta
            .path
            .get_ident()
            .and_then(|i| KEYS.iter().copied().find(|k| i == k));
        let Some(key) = known else {
            return attr::unknown_key(cx, OWNER, meta, &KEYS);
        };
        match key {
            "name" => {
                let lit = attr::lit_str(meta)?;
                self.name.set(cx, OWNER, meta, lit);
                return Ok(());
            }
            "kind" => {
                self.kind_written = true;
                let kind = parse_kind(meta)?;
                self.kind.set(cx, OWNER, meta, kind);
                return Ok(());
            }
            "batch_size" => {
                let (n, lit) = attr::lit_u64(meta)?;
                at_least_one(cx, n, &lit, key);
                self.batch_size.set(cx, OWNER, meta, n);
            }
            "max_attempts" => {
                let (n, lit) = attr::lit_u32(meta)?;
                at_least_one(cx, n.into(), &lit, key);
                self.max_attempts.set(cx, OWNER, meta, n);
            }
            "on_poison" => {
                let policy = parse_poison(meta)?;
                self.on_poison.set(cx, OWNER, meta, policy);
            }
            _ => {
                let (n, lit) = attr::lit_u64(meta)?;
                let slot = match key {
                    "batch_timeout_ms" => &mut self.batch_timeout_ms,
                    "lease_ttl_ms" => {
                        at_least_one(cx, n, &lit, key);
                        &mut self.lease_ttl_ms
                    }
                    "backoff_initial_ms" => &mut self.backoff_initial_ms,
                    "backoff_max_ms" => &mut self.backoff_max_ms,
                    _ => &mut self.poll_interval_ms,
                };
                slot.set(cx, OWNER, meta, n);
            }
        }
        self.async_only.push(AsyncOnlyKey {
            key,
            span: meta.path.span(),
        });
        Ok(())
    }

    fn finish(self) -> Keys {
        Keys {
            name: self.name.take(),
            kind: self.kind.take(),
            kind_written: self.kind_written,
            options: AsyncOptions {
                batch_size: self.batch_size.take(),
                batch_timeout_ms: self.batch_timeout_ms.take(),
                max_attempts: self.max_attempts.take(),
                on_poison: self.on_poison.take(),
                lease_ttl_ms: self.lease_ttl_ms.take(),
                backoff_initial_ms: self.backoff_initial_ms.take(),
                backoff_max_ms: self.backoff_max_ms.take(),
                poll_interval_ms: self.poll_interval_ms.take(),
            },
            async_only: self.async_only,
        }
    }
}

/// `kind = inline | async | live`.
fn parse_kind(meta: &ParseNestedMeta<'_>) -> syn::Result<Kind> {
    let word = attr::word(meta)?;
    let kind = match word.to_string().as_str() {
        "inline" => Kind::Inline,
        "async" => Kind::Async,
        "live" => Kind::Live,
        other => {
            return Err(syn::Error::new(
                word.span(),
                format!(
                    "unknown projection kind `{other}`; expected `inline` (in the append transaction), `async` (in a checkpointed background worker) or `live` (in memory, following the log)"
                ),
            ));
        }
    };
    Ok(kind)
}

/// `on_poison = skip | pause | retry`.
fn parse_poison(meta: &ParseNestedMeta<'_>) -> syn::Result<Poison> {
    let word = attr::word(meta)?;
    match word.to_string().as_str() {
        "skip" => Ok(Poison::Skip),
        "pause" => Ok(Poison::Pause),
        "retry" => Ok(Poison::Retry),
        other => Err(syn::Error::new(
            word.span(),
            format!(
                "unknown `on_poison` policy `{other}`; expected `skip` (park the event and go on), `pause` (stop until an operator resumes) or `retry` (keep retrying)"
            ),
        )),
    }
}

/// A count or a lease that must not be zero.
fn at_least_one(cx: &mut Ctxt, n: u64, lit: &LitInt, key: &str) {
    if n == 0 {
        cx.error_spanned_by(lit, format!("`{key}` must be at least 1"));
    }
}

impl Keys {
    /// Parses the macro's arguments, reporting every bad key.
    pub(crate) fn from_args(cx: &mut Ctxt, args: TokenStream) -> Self {
        let mut keys = KeyParser::new();
        let parser = syn::meta::parser(|meta| {
            if let Err(e) = keys.key(cx, &meta) {
                cx.syn_error(e);
            }
            Ok(())
        });
        if let Err(e) = syn::parse::Parser::parse2(parser, args) {
            cx.syn_error(e);
        }
        keys.finish()
    }
}
