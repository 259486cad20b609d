//! MessagePack through `rmp-serde` (feature `msgpack`).

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::BoxError;

use super::{ContentType, Serializer};

/// MessagePack through `rmp-serde`: compact binary payloads, stored as
/// bytes (`bytea` on PostgreSQL, a BLOB on SQLite) with the content type
/// `application/msgpack`.
///
/// Structs and struct-like variants are written as maps keyed by field
/// name, as JSON writes them, not as positional arrays: a field added
/// with `#[serde(default)]`, or fields reordered, still read back, which
/// an event log that outlives its code needs. It costs the field names'
/// bytes in each payload.
///
/// # Examples
///
/// ```
/// use mink_runtime::event::{ContentType, MessagePackSerializer, Serializer};
///
/// #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
/// struct Shipped {
///     carrier: String,
/// }
///
/// let s = MessagePackSerializer;
/// let bytes = s.serialize(&Shipped { carrier: "post".into() }).unwrap();
/// // A map of one entry, `carrier`, holding the string `post`.
/// assert_eq!(bytes[0], 0x81);
/// assert_eq!(s.deserialize::<Shipped>(&bytes).unwrap().carrier, "post");
/// assert_eq!(s.content_type(), ContentType::MSGPACK);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessagePackSerializer;

impl Serializer for MessagePackSerializer {
    fn format(&self) -> &'static str {
        "msgpack"
    }

    fn content_type(&self) -> ContentType {
        ContentType::MSGPACK
    }

    fn serialize<T: Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>, BoxError> {
        // Room for a typical event up front, as `serde_json::to_vec` does:
        // MessagePack writes in many small pieces.
        let mut bytes = Vec::with_capacity(128);
        value.serialize(&mut rmp_serde::Serializer::new(&mut bytes).with_struct_map())?;
        Ok(bytes)
    }

    fn deserialize<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, BoxError> {
        Ok(rmp_serde::from_slice(bytes)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, serde::Deserialize, Debug, PartialEq)]
    struct V1 {
        sku: String,
        qty: u32,
    }

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct V2 {
        qty: u32,
        sku: String,
        #[serde(default)]
        note: Option<String>,
    }

    #[test]
    fn fields_are_keyed_by_name_so_schemas_can_evolve() {
        let s = MessagePackSerializer;
        let bytes = s
            .serialize(&V1 {
                sku: "tea".into(),
                qty: 2,
            })
            .unwrap();
        let v2: V2 = s.deserialize(&bytes).unwrap();
        assert_eq!(
            v2,
            V2 {
                qty: 2,
                sku: "tea".into(),
                note: None
            }
        );
    }

    #[test]
    fn bad_bytes_are_an_error() {
        let s = MessagePackSerializer;
        assert!(s.deserialize::<V1>(&[0xc1]).is_err());
        assert!(s.deserialize::<V1>(b"").is_err());
    }
}
