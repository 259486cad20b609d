//! Procedural macros of mink. (Being written: these entry points pass items through.)
use proc_macro::TokenStream;

/// `#[event]`
#[proc_macro_attribute]
pub fn event(_args: TokenStream, input: TokenStream) -> TokenStream { input }
/// `#[command]`
#[proc_macro_attribute]
pub fn command(_args: TokenStream, input: TokenStream) -> TokenStream { input }
/// `#[command_handler]`
#[proc_macro_attribute]
pub fn command_handler(_args: TokenStream, input: TokenStream) -> TokenStream { input }
/// `#[derive(Aggregate)]`
#[proc_macro_derive(Aggregate, attributes(aggregate))]
pub fn derive_aggregate(_input: TokenStream) -> TokenStream { TokenStream::new() }
