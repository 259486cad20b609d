//! Payload formats beyond JSON (MessagePack, Protocol Buffers) on every
//! store, with the content type stored per event.
