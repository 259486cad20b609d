//! How event payloads become bytes and back.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::BoxError;

use super::ContentType;

/// Turns payloads into bytes and back: the format of an application's
/// events.
///
/// Stores only see bytes and the [content type](Serializer::content_type)
/// recorded beside them. The serializer belongs to the `Mink` instance
/// (`Mink::builder().serializer(…)`); JSON ([`JsonSerializer`]) is the
/// default, MessagePack (`MessagePackSerializer`, feature `msgpack`) the
/// built-in binary choice. Events of other formats in the same log are
/// still read: each is decoded by the format its content type names, as
/// long as that format is JSON, an enabled built-in one, or this
/// serializer's (docs/adr/019-payload-formats.md).
///
/// # Writing one
///
/// Implement the four methods over serde. The content type is stored with
/// every event the serializer writes and must name its format for good:
/// reads pick the format by it.
///
/// ```
/// use mink_runtime::event::{ContentType, Serializer};
/// use mink_runtime::BoxError;
///
/// /// JSON under a vendor media type, indented for people reading the log.
/// struct IndentedJson;
///
/// impl Serializer for IndentedJson {
///     fn format(&self) -> &'static str {
///         "indented-json"
///     }
///
///     fn content_type(&self) -> ContentType {
///         // A `+json` type: PostgreSQL keeps it in its `jsonb` column.
///         ContentType::from_static("application/vnd.shop+json")
///     }
///
///     fn serialize<T: serde::Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>, BoxError> {
///         Ok(serde_json::to_vec_pretty(value)?)
///     }
///
///     fn deserialize<T: serde::de::DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, BoxError> {
///         Ok(serde_json::from_slice(bytes)?)
///     }
/// }
///
/// let bytes = IndentedJson.serialize(&vec![1, 2]).unwrap();
/// assert_eq!(String::from_utf8(bytes.clone()).unwrap(), "[\n  1,\n  2\n]");
/// assert_eq!(IndentedJson.deserialize::<Vec<u32>>(&bytes).unwrap(), [1, 2]);
/// ```
pub trait Serializer: Send + Sync + 'static {
    /// A short name of the format, such as `json`.
    fn format(&self) -> &'static str;

    /// The content type stored with every event this serializer writes.
    /// The default is `application/<format>`; override it with a constant
    /// ([`ContentType::from_static`]) to spare an allocation per event.
    fn content_type(&self) -> ContentType {
        ContentType::new(format!("application/{}", self.format()))
    }

    /// Serializes one payload.
    fn serialize<T: Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>, BoxError>;

    /// Deserializes one payload.
    fn deserialize<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, BoxError>;
}

/// JSON through `serde_json`: the default, readable with any SQL client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JsonSerializer;

impl Serializer for JsonSerializer {
    fn format(&self) -> &'static str {
        "json"
    }

    fn content_type(&self) -> ContentType {
        ContentType::JSON
    }

    fn serialize<T: Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>, BoxError> {
        Ok(serde_json::to_vec(value)?)
    }

    fn deserialize<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, BoxError> {
        Ok(serde_json::from_slice(bytes)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_and_typed_failure() {
        let s = JsonSerializer;
        let bytes = s.serialize(&vec![1u32, 2, 3]).unwrap();
        assert_eq!(bytes, b"[1,2,3]");
        let back: Vec<u32> = s.deserialize(&bytes).unwrap();
        assert_eq!(back, vec![1, 2, 3]);
        assert!(s.deserialize::<Vec<u32>>(b"{").is_err());
        assert_eq!(s.content_type(), ContentType::JSON);
    }

    #[test]
    fn the_default_content_type_names_the_format() {
        struct Cbor;
        impl Serializer for Cbor {
            fn format(&self) -> &'static str {
                "cbor"
            }
            fn serialize<T: Serialize + ?Sized>(&self, _: &T) -> Result<Vec<u8>, BoxError> {
                Ok(Vec::new())
            }
            fn deserialize<T: DeserializeOwned>(&self, _: &[u8]) -> Result<T, BoxError> {
                Err("no payload".into())
            }
        }
        assert_eq!(Cbor.content_type(), "application/cbor");
        assert!(Cbor.deserialize::<u8>(b"").is_err());
        assert!(Cbor.serialize(&1u8).unwrap().is_empty());
    }
}
