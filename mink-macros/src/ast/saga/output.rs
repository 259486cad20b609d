//! What a saga method returns, read from its written return type: the
//! commands it sends and whether it may fail.
//!
//! The shapes are recognised by name (`Result`, `Option`, `Vec`, tuples,
//! `()`); anything else is one command. The command types found are what
//! the generated code checks to be commands with handlers and what
//! `Saga::dispatch` decodes by name. A type alias of a shape reads as one
//! command and is refused as "not a mink command": write the shape.

use syn::{GenericArgument, PathArguments, ReturnType, Type};

use crate::ctxt::Ctxt;

/// The shape of the commands a method returns.
pub(crate) enum Commands<'a> {
    /// One command of this type.
    One(&'a Type),
    /// `Option<…>`: the inner shape, or nothing.
    Maybe(Box<Commands<'a>>),
    /// `Vec<…>`: the inner shape, any number of times.
    Many(Box<Commands<'a>>),
    /// A tuple, each element a shape; `()` sends nothing.
    All(Vec<Commands<'a>>),
}

impl<'a> Commands<'a> {
    /// Every command type in the shape, in writing order.
    pub(crate) fn types(&self, out: &mut Vec<&'a Type>) {
        match self {
            Commands::One(ty) => out.push(ty),
            Commands::Maybe(inner) | Commands::Many(inner) => inner.types(out),
            Commands::All(items) => items.iter().for_each(|c| c.types(out)),
        }
    }
}

/// A method's return type, read.
pub(crate) struct Returns<'a> {
    /// The commands it sends.
    pub(crate) commands: Commands<'a>,
    /// Whether they come in `Result<…, E>`.
    pub(crate) fallible: bool,
    /// The written return type; `None` for no `->`.
    pub(crate) written: Option<&'a Type>,
}

impl<'a> Returns<'a> {
    /// Reads `output`, reporting types that cannot be a command.
    pub(crate) fn read(cx: &mut Ctxt, output: &'a ReturnType) -> Option<Self> {
        let ty = match output {
            ReturnType::Default => {
                return Some(Returns {
                    commands: Commands::All(Vec::new()),
                    fallible: false,
                    written: None,
                });
            }
            ReturnType::Type(_, ty) => &**ty,
        };
        let (inner, fallible) = match wrapper(ty, "Result") {
            Some((ok, count)) if count == 1 || count == 2 => (ok, true),
            _ => (ty, false),
        };
        let commands = shape(cx, inner)?;
        Some(Returns {
            commands,
            fallible,
            written: Some(ty),
        })
    }

    /// Whether it sends at most one command, as a compensation does: one
    /// command or an `Option` of one.
    pub(crate) fn at_most_one(&self) -> bool {
        match &self.commands {
            Commands::One(_) => true,
            Commands::Maybe(inner) => matches!(**inner, Commands::One(_)),
            _ => false,
        }
    }
}

/// The shape of `ty`, outside `Result`.
fn shape<'a>(cx: &mut Ctxt, ty: &'a Type) -> Option<Commands<'a>> {
    match ty {
        Type::Paren(p) => shape(cx, &p.elem),
        Type::Group(g) => shape(cx, &g.elem),
        Type::Tuple(t) => {
            let mut items = Vec::with_capacity(t.elems.len());
            let mut ok = true;
            for elem in &t.elems {
                match shape(cx, elem) {
                    Some(c) => items.push(c),
                    None => ok = false,
                }
            }
            ok.then_some(Commands::All(items))
        }
        Type::Path(_) => {
            if let Some((inner, 1)) = wrapper(ty, "Option") {
                return shape(cx, inner).map(|c| Commands::Maybe(Box::new(c)));
            }
            if let Some((inner, 1)) = wrapper(ty, "Vec") {
                return shape(cx, inner).map(|c| Commands::Many(Box::new(c)));
            }
            Some(Commands::One(ty))
        }
        Type::Reference(_) | Type::Array(_) | Type::Slice(_) => Some(Commands::One(ty)),
        _ => {
            cx.error_spanned_by(
                ty,
                "a saga method returns the commands it sends, by type: a command `C`, `Option<C>`, `Vec<C>`, a tuple `(C1, C2)` or `()`, each optionally in `Result<_, E>`",
            );
            None
        }
    }
}

/// For `Name<A, …>` (the last path segment named `name`, with angle
/// brackets), the first type argument and the number of arguments.
fn wrapper<'a>(ty: &'a Type, name: &str) -> Option<(&'a Type, usize)> {
    let Type::Path(p) = ty else {
        return None;
    };
    if p.qself.is_some() {
        return None;
    }
    let last = p.path.segments.last()?;
    if last.ident != name {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    let first = match args.args.first()? {
        GenericArgument::Type(t) => t,
        _ => return None,
    };
    Some((first, args.args.len()))
}
