//! User tokens written as text, for messages and registered names.

use quote::ToTokens;

/// The tokens as one string without the spaces `to_string` puts between
/// them: `crate::cmds::A<u8>`, not `crate :: cmds :: A < u8 >`. Two
/// spellings of one type that differ only in spacing give the same text,
/// so it can serve as a key.
pub(crate) fn compact(tokens: &impl ToTokens) -> String {
    tokens.to_token_stream().to_string().replace(' ', "")
}
