//! Event store adapters. Each one lives in its own module behind a cargo
//! feature (the in-memory store is always there), owns everything its
//! database stores (events, idempotency records) with its SQL text and
//! migrations, and passes the same conformance suite in `tests/`.
//!
//! [`AnyStore::open`] opens whichever adapter a URL names, for the
//! application, the CLI and tests alike.

pub mod memory;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "sqlite")]
pub mod sqlite;
mod url;

pub use url::AnyStore;
