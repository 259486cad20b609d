//! Code generation, one module per macro, each from its validated view in
//! `ast`.

use proc_macro2::TokenStream;
use quote::quote;

use crate::attr::UserDerives;

pub(crate) mod aggregate;
pub(crate) mod command;
pub(crate) mod event;
pub(crate) mod handler;
pub(crate) mod plain_handler;
pub(crate) mod projection;
pub(crate) mod read_model;
pub(crate) mod saga;

/// `#[derive(…)]` of `Clone` (when `clone` is asked for), `Serialize` and
/// `Deserialize`, leaving out those the user already derives, with serde
/// pointed at mink's re-export so users need no serde dependency.
pub(crate) fn missing_derives(user: UserDerives, clone: bool) -> TokenStream {
    let clone = (clone && !user.clone).then(|| quote!(::core::clone::Clone));
    let ser = (!user.serialize).then(|| quote!(::mink::__private::serde::Serialize));
    let de = (!user.deserialize).then(|| quote!(::mink::__private::serde::Deserialize));
    let serde_crate = (ser.is_some() || de.is_some())
        .then(|| quote!(#[serde(crate = "::mink::__private::serde")]));
    let list: Vec<TokenStream> = clone.into_iter().chain(ser).chain(de).collect();
    if list.is_empty() {
        return TokenStream::new();
    }
    quote! {
        #[derive(#(#list),*)]
        #serde_crate
    }
}
