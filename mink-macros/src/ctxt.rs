//! Collects every error found in one macro input, so a user sees all of
//! them in one build.

use std::fmt::Display;

use proc_macro2::TokenStream;
use quote::ToTokens;

/// The error collector threaded through parsing and checking.
#[derive(Default)]
pub(crate) struct Ctxt {
    /// Errors in the order they were found, which is the order rustc
    /// prints them in.
    errors: Vec<syn::Error>,
}

impl Ctxt {
    /// A collector with no errors yet.
    pub(crate) fn new() -> Self {
        Ctxt::default()
    }

    /// Records an error spanned on `tokens`.
    pub(crate) fn error_spanned_by<T: ToTokens, M: Display>(&mut self, tokens: T, message: M) {
        self.errors.push(syn::Error::new_spanned(tokens, message));
    }

    /// Records a ready-made error.
    pub(crate) fn syn_error(&mut self, err: syn::Error) {
        self.errors.push(err);
    }

    /// True when nothing went wrong so far.
    pub(crate) fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// The validated view when the input had no error; otherwise the
    /// errors as `compile_error!` invocations, to emit next to a fallback
    /// expansion.
    ///
    /// Every `from_ast` returns `None` only after recording why, so a view
    /// of `None` always comes with errors to show.
    pub(crate) fn finish<T>(self, view: Option<T>) -> Result<T, TokenStream> {
        match view {
            Some(view) if self.is_ok() => Ok(view),
            _ => Err(self.into_compile_errors()),
        }
    }

    /// The errors as `compile_error!` invocations, for emitting next to a
    /// fallback expansion.
    pub(crate) fn into_compile_errors(self) -> TokenStream {
        let mut iter = self.errors.into_iter();
        let Some(mut first) = iter.next() else {
            return TokenStream::new();
        };
        for e in iter {
            first.combine(e);
        }
        first.to_compile_error()
    }
}
