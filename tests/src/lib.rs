//! Shared pieces of the integration tests.

pub mod conformance;
pub mod proto;
pub mod saga_domain;

/// Says plainly that a test is skipped, and why.
///
/// The line goes straight to the process's standard error instead of
/// through `println!`, which the test harness captures and hides for a
/// passing test: a skipped service test must show in `cargo test`'s default
/// output.
pub fn skip(reason: &str) {
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "skipped: {reason}");
}
