//! Payload formats beyond JSON (MessagePack, Protocol Buffers) on every
//! store, with the content type stored per event.
//!
//! The adapter conformance suite (`mink_tests::conformance`, module
//! `formats`) round-trips every format on memory, SQLite and PostgreSQL;
//! here are applications that choose a format, and what each database
//! keeps in its columns.

mod app;
mod storage;
