//! How event payloads become bytes and back.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::BoxError;

/// Turns payloads into bytes and back. Stores only see bytes; the
/// serializer belongs to the [`crate::Mink`] instance.
pub trait Serializer: Send + Sync + 'static {
    /// A short name of the format, such as `json`.
    fn format(&self) -> &'static str;

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
    }
}
