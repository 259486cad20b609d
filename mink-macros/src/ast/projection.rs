//! The validated view of a `#[projection]` impl block: the projection's
//! keys, one handler method per event type, and an optional reset method.

use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{FnArg, Ident, ImplItemFn, ItemImpl, LitInt, LitStr, ReturnType, Signature, Type};

use crate::attr::{self, Once};
use crate::check;
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
    /// The async-only keys' values.
    pub(crate) options: AsyncOptions,
    /// Each async-only key given.
    pub(crate) async_only: Vec<AsyncOnlyKey>,
}

/// The keys while they are read: each may be given once.
struct KeyParser {
    name: Once<LitStr>,
    kind: Once<Kind>,
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

/// A validated `#[projection]` impl block.
pub(crate) struct ProjectionBlock<'a> {
    /// The type the block is on.
    pub(crate) self_ty: &'a Type,
    /// The type's name, for the registration.
    pub(crate) ident: &'a Ident,
    /// The projection's unique name: `name = "…"` or the type's name in
    /// kebab-case.
    pub(crate) name: String,
    /// How it runs.
    pub(crate) kind: Kind,
    /// The async options given (none for other kinds).
    pub(crate) options: AsyncOptions,
    /// The handlers, one per event type, in declaration order.
    pub(crate) handlers: Vec<HandlerMethod<'a>>,
    /// The method marked `#[projection(reset)]`, if any.
    pub(crate) reset: Option<ResetMethod<'a>>,
}

/// One handler method: `(&self, event: &E [, envelope: &RecordedEvent]
/// [, ctx: &mut ProjectionContext<'_>])`.
pub(crate) struct HandlerMethod<'a> {
    /// The method's signature.
    pub(crate) sig: &'a Signature,
    /// The event type, without the reference.
    pub(crate) event: &'a Type,
    /// Whether the event is taken by reference (`&E`) or by value (`E`).
    pub(crate) by_ref: bool,
    /// The envelope parameter's type, when the method takes one.
    pub(crate) envelope: Option<&'a Type>,
    /// The context parameter's type, when the method takes one.
    pub(crate) context: Option<&'a Type>,
    /// The return type; `None` for `()`.
    pub(crate) output: Option<&'a Type>,
}

/// The `#[projection(reset)]` method: `(&self [, ctx: &mut
/// ProjectionContext<'_>])`.
pub(crate) struct ResetMethod<'a> {
    /// The method's signature.
    pub(crate) sig: &'a Signature,
    /// The context parameter's type, when the method takes one.
    pub(crate) context: Option<&'a Type>,
    /// The return type; `None` for `()`.
    pub(crate) output: Option<&'a Type>,
}

impl<'a> ProjectionBlock<'a> {
    /// Reads the keys and the methods of `block`; `None` after an error.
    pub(crate) fn from_ast(cx: &mut Ctxt, keys: Keys, block: &'a ItemImpl) -> Option<Self> {
        check::no_generics(cx, &block.generics, "a projection");
        let ident = type_ident(cx, &block.self_ty);
        let kind = match keys.kind {
            Some(kind) => {
                check::async_only_options(cx, kind, &keys.async_only);
                Some(kind)
            }
            None => {
                cx.syn_error(syn::Error::new(
                    Span::call_site(),
                    "missing `kind`: write `#[projection(kind = inline)]` to run in the append transaction, `kind = async` to run in a checkpointed background worker, or `kind = live` to follow the log in memory",
                ));
                None
            }
        };
        check::backoff_in_order(cx, &keys.options, &keys.async_only);
        let name = match (&keys.name, ident) {
            (Some(lit), _) => {
                check::projection_name_valid(cx, &lit.value(), lit.span());
                Some(lit.value())
            }
            (None, Some(ident)) => Some(kebab_case(&ident.to_string())),
            (None, None) => None,
        };
        let (handlers, reset) = methods(cx, block);
        let handlers = check::unique_projection_handlers(cx, handlers);
        if handlers.is_empty() {
            cx.error_spanned_by(
                &block.self_ty,
                "a projection needs at least one handler: a method `fn on_placed(&self, event: &OrderPlaced) -> Result<(), MyError>` per event type it reads",
            );
        }
        match (ident, name, kind) {
            (Some(ident), Some(name), Some(kind)) if cx.is_ok() => Some(ProjectionBlock {
                self_ty: &block.self_ty,
                ident,
                name,
                kind,
                options: keys.options,
                handlers,
                reset,
            }),
            _ => None,
        }
    }
}

/// The name of the type a projection block is on: the last segment of its
/// path, if it is a path.
pub(crate) fn type_name(ty: &Type) -> Option<&Ident> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last().map(|s| &s.ident),
        _ => None,
    }
}

/// [`type_name`], reporting a type without one.
fn type_ident<'a>(cx: &mut Ctxt, ty: &'a Type) -> Option<&'a Ident> {
    let name = type_name(ty);
    if name.is_none() {
        cx.error_spanned_by(
            ty,
            "#[projection] goes on an impl block of a named struct or enum: `#[projection(kind = …)] impl OrderSummaries { … }`",
        );
    }
    name
}

/// `OrderSummaries` → `order-summaries`, `HTTPStats` → `http-stats`,
/// `Orders_V2` → `orders-v2`.
pub(crate) fn kebab_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' {
            if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
            continue;
        }
        if c.is_uppercase() && i > 0 && !out.ends_with('-') {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_lower) {
                out.push('-');
            }
        }
        out.extend(c.to_lowercase());
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// What `#[projection(…)]` on a method says.
#[derive(Clone, Copy, PartialEq, Eq)]
enum MethodRole {
    /// No marker: a handler.
    Handler,
    /// `#[projection(skip)]`: a helper the macro leaves alone.
    Skip,
    /// `#[projection(reset)]`.
    Reset,
}

/// Reads a method's `#[projection(…)]` markers.
fn method_role(cx: &mut Ctxt, method: &ImplItemFn) -> MethodRole {
    let mut role = MethodRole::Handler;
    attr::for_each_key(cx, &method.attrs, "projection", |cx, meta| {
        let this = if meta.path.is_ident("skip") {
            MethodRole::Skip
        } else if meta.path.is_ident("reset") {
            MethodRole::Reset
        } else {
            // A misspelt marker leaves the method alone: treating it as a
            // handler would add errors about its signature.
            role = MethodRole::Skip;
            return attr::unknown_key(cx, "projection", meta, &["reset", "skip"]);
        };
        if role != MethodRole::Handler && role != this {
            cx.error_spanned_by(
                &meta.path,
                "a method is either `#[projection(reset)]` or `#[projection(skip)]`, not both",
            );
        }
        role = this;
        Ok(())
    });
    role
}

/// The handlers and the reset method of `block`, reporting wrong ones.
/// Functions without a receiver (constructors) are left alone.
fn methods<'a>(
    cx: &mut Ctxt,
    block: &'a ItemImpl,
) -> (Vec<HandlerMethod<'a>>, Option<ResetMethod<'a>>) {
    let mut handlers = Vec::new();
    let mut reset: Option<ResetMethod<'a>> = None;
    for item in &block.items {
        let syn::ImplItem::Fn(method) = item else {
            continue;
        };
        let role = method_role(cx, method);
        let sig = &method.sig;
        if role == MethodRole::Skip || sig.receiver().is_none() {
            continue;
        }
        if !receiver_ok(cx, sig) || !no_method_generics(cx, sig) {
            continue;
        }
        let output = match &sig.output {
            ReturnType::Default => None,
            ReturnType::Type(_, ty) => Some(&**ty),
        };
        if role == MethodRole::Reset {
            let Some(method) = reset_method(cx, sig, output) else {
                continue;
            };
            if let Some(first) = &reset {
                cx.error_spanned_by(
                    &sig.ident,
                    format!(
                        "a projection has one reset method, and `{}` is already marked `#[projection(reset)]`; merge the two",
                        first.sig.ident
                    ),
                );
            } else {
                reset = Some(method);
            }
        } else if let Some(h) = handler_method(cx, sig, output) {
            handlers.push(h);
        }
    }
    (handlers, reset)
}

/// Handlers and reset take `&self`: the engine shares one instance between
/// its workers and the application.
fn receiver_ok(cx: &mut Ctxt, sig: &Signature) -> bool {
    let Some(FnArg::Receiver(recv)) = sig.inputs.first() else {
        return false;
    };
    let shared_ref = match &*recv.ty {
        Type::Reference(r) => r.mutability.is_none(),
        _ => false,
    };
    if !shared_ref {
        cx.error_spanned_by(
            recv,
            format!(
                "projection method `{}` must take `&self`: one instance serves every event, shared between tasks; keep changing state in the read model's store or behind a lock, or mark a helper `#[projection(skip)]`",
                sig.ident
            ),
        );
    }
    shared_ref
}

/// Handler and reset methods are called with concrete types.
fn no_method_generics(cx: &mut Ctxt, sig: &Signature) -> bool {
    let generic = !sig.generics.params.is_empty() || sig.generics.where_clause.is_some();
    if generic {
        cx.error_spanned_by(
            &sig.generics,
            format!(
                "projection method `{}` cannot be generic: it handles one concrete event type",
                sig.ident
            ),
        );
    }
    !generic
}

/// The usage line put in signature errors.
const HANDLER_SHAPE: &str = "`fn on_placed(&self, event: &OrderPlaced, envelope: &mink::RecordedEvent, ctx: &mut mink::projection::ProjectionContext<'_>)`, where `envelope` and `ctx` are optional";

/// Reads a handler's parameters: the event, then optionally the envelope
/// (`&_`) and the context (`&mut _`), in that order.
fn handler_method<'a>(
    cx: &mut Ctxt,
    sig: &'a Signature,
    output: Option<&'a Type>,
) -> Option<HandlerMethod<'a>> {
    let mut params = sig.inputs.iter().skip(1).map(|a| match a {
        FnArg::Typed(t) => &*t.ty,
        FnArg::Receiver(_) => unreachable!("only the first input can be a receiver"),
    });
    let Some(event_param) = params.next() else {
        cx.error_spanned_by(
            &sig.ident,
            format!(
                "handler `{}` takes no event: a handler takes the event it applies, {HANDLER_SHAPE}; mark a helper method `#[projection(skip)]`",
                sig.ident
            ),
        );
        return None;
    };
    let (event, by_ref) = match event_param {
        Type::Reference(r) if r.mutability.is_some() => {
            cx.error_spanned_by(
                event_param,
                format!(
                    "handler `{}` takes the event by `&mut`; take it by shared reference `&E` or by value `E`",
                    sig.ident
                ),
            );
            return None;
        }
        Type::Reference(r) => (&*r.elem, true),
        other => (other, false),
    };
    let mut envelope = None;
    let mut context = None;
    for param in params {
        match param {
            Type::Reference(r) if r.mutability.is_some() && context.is_none() => {
                context = Some(param);
            }
            Type::Reference(r)
                if r.mutability.is_none() && envelope.is_none() && context.is_none() =>
            {
                envelope = Some(param);
            }
            _ => {
                cx.error_spanned_by(
                    param,
                    format!(
                        "unexpected parameter of handler `{}`; a handler is {HANDLER_SHAPE}",
                        sig.ident
                    ),
                );
                return None;
            }
        }
    }
    Some(HandlerMethod {
        sig,
        event,
        by_ref,
        envelope,
        context,
        output,
    })
}

/// Reads the reset method's parameters: nothing, or the context.
fn reset_method<'a>(
    cx: &mut Ctxt,
    sig: &'a Signature,
    output: Option<&'a Type>,
) -> Option<ResetMethod<'a>> {
    let params: Vec<&Type> = sig
        .inputs
        .iter()
        .skip(1)
        .filter_map(|a| match a {
            FnArg::Typed(t) => Some(&*t.ty),
            FnArg::Receiver(_) => None,
        })
        .collect();
    let context = match params.as_slice() {
        [] => None,
        [ctx @ Type::Reference(r)] if r.mutability.is_some() => Some(*ctx),
        _ => {
            cx.error_spanned_by(
                &sig.inputs,
                format!(
                    "reset method `{}` takes `&self` and, optionally, `ctx: &mut mink::projection::ProjectionContext<'_>`",
                    sig.ident
                ),
            );
            return None;
        }
    };
    Some(ResetMethod {
        sig,
        context,
        output,
    })
}
