//! The PostgreSQL event store: the conformance suite, and what is particular
//! to PostgreSQL (late commits in the global log, racing writers, the JSON
//! requirement, a server restart mid-run, a server that is down).
//!
//! Runs when `MINK_TEST_POSTGRES_URL` is set (CI sets it to
//! `postgres://postgres@127.0.0.1:5432/test`); otherwise each test prints
//! `skipped: MINK_TEST_POSTGRES_URL not set`. Each store gets a schema of its
//! own. The restart and unavailable tests make a throwaway cluster with
//! `initdb` and never touch the shared server.
//!
//! Tests on the shared server take turns (see [`support::Gate`]): a
//! transaction open anywhere on a server holds every reader of the global
//! log back until it ends (docs/adr/004-global-ordering.md), and several
//! cases read the log right after appending to it.
//!
//! The cases are grouped by concern: `ordering` (late commits in the global
//! log), `concurrency` (racing writers, all-or-nothing calls), `input` (what
//! this store refuses or keeps apart), `schema` (migrations), `restart` (a
//! throwaway cluster killed mid-run), `unavailable` (a throwaway cluster
//! stopped) and `conformance` (the suite); `support` holds the skip check,
//! the gate, the log-reading helpers and the throwaway clusters they share.

mod concurrency;
mod conformance;
mod input;
mod ordering;
mod restart;
mod restore;
mod schema;
pub(crate) mod support;
mod unavailable;
