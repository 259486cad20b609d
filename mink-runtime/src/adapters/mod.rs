//! Event store adapters. Each one lives in its own module behind a cargo
//! feature (the in-memory store is always there) and passes the same
//! conformance suite in `tests/`.

pub mod memory;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "sqlite")]
pub mod sqlite;
