//! Protocol Buffers through `prost` (feature `protobuf`).

use crate::error::BoxError;

use super::ContentType;

/// Protocol Buffers through `prost`: the codec of event types marked
/// `#[event(protobuf)]`, whose payloads are stored as bytes with the
/// content type `application/protobuf`.
///
/// Protocol Buffers is a format of *types*, not of serde values: a
/// message's field numbers live in its `.proto` file and its
/// `prost::Message` impl. So the format is chosen per event type, not per
/// application, and this codec does not implement [`super::Serializer`]:
/// an `#[event(protobuf)]` type is written and read as protobuf whatever
/// the application's serializer is, and its events sit in the same log as
/// JSON or MessagePack ones (docs/adr/019-payload-formats.md).
///
/// # Examples
///
/// ```
/// use mink_runtime::event::{ContentType, ProtobufSerializer};
///
/// #[derive(Clone, PartialEq, prost::Message)]
/// struct Shipped {
///     #[prost(string, tag = "1")]
///     carrier: String,
/// }
///
/// let codec = ProtobufSerializer;
/// let bytes = codec.encode(&Shipped { carrier: "post".into() });
/// assert_eq!(bytes, b"\x0a\x04post");
/// let back: Shipped = codec.decode(&bytes).unwrap();
/// assert_eq!(back.carrier, "post");
/// assert_eq!(ProtobufSerializer::CONTENT_TYPE, ContentType::PROTOBUF);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProtobufSerializer;

impl ProtobufSerializer {
    /// The content type stored with protobuf payloads.
    pub const CONTENT_TYPE: ContentType = ContentType::PROTOBUF;

    /// Encodes one message.
    pub fn encode<M: prost::Message>(&self, message: &M) -> Vec<u8> {
        message.encode_to_vec()
    }

    /// Decodes one message; bytes that are not a valid encoding of `M` are
    /// an error (prost's `DecodeError`).
    pub fn decode<M: prost::Message + Default>(&self, bytes: &[u8]) -> Result<M, BoxError> {
        Ok(M::decode(bytes)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, PartialEq, prost::Message)]
    struct Tick {
        #[prost(uint64, tag = "1")]
        n: u64,
        #[prost(string, tag = "2")]
        label: String,
    }

    #[test]
    fn messages_round_trip_and_bad_bytes_are_errors() {
        let codec = ProtobufSerializer;
        let tick = Tick {
            n: 300,
            label: "a".into(),
        };
        let bytes = codec.encode(&tick);
        assert_eq!(codec.decode::<Tick>(&bytes).unwrap(), tick);
        // A field 1 varint cut short.
        assert!(codec.decode::<Tick>(&[0x08, 0xac]).is_err());
        // No fields at all is the default message.
        assert_eq!(codec.decode::<Tick>(&[]).unwrap(), Tick::default());
    }
}
