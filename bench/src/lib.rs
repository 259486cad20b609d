//! mink's benchmark suite: mink's stores against raw PostgreSQL (pgbench)
//! and a peer framework (cqrs-es with postgres-es), in one run.
//!
//! ```text
//! cargo run --release -p mink-bench -- all
//! ```
//!
//! See `docs/benchmarks.md` for the workloads, how to read the table and the
//! latest results. The modules `shape`, `measure` and `figure` are compiled
//! into the peer crate too, so both sides measure the same way.

pub mod append;
pub mod catchup;
pub mod domain;
pub mod figure;
pub mod hot;
pub mod load;
pub mod measure;
pub mod memory_use;
pub mod outbox;
pub mod peer;
pub mod projections;
pub mod publishers;
pub mod raw;
pub mod read_models;
pub mod report;
pub mod sagas;
pub mod shape;
pub mod soak;
pub mod stores;

/// Turns any displayable error into the bench's error text, saying what was
/// being done.
pub trait OrSay<T> {
    /// `Err(e)` becomes `Err("<what>: <e>")`.
    fn or_say(self, what: &str) -> Result<T, String>;
}

impl<T, E: std::fmt::Display> OrSay<T> for Result<T, E> {
    fn or_say(self, what: &str) -> Result<T, String> {
        self.map_err(|e| format!("{what}: {e}"))
    }
}
