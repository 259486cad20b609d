//! Shared pieces of the integration tests.

pub mod conformance;
