//! The outbox on every store: routes in the unit of work, the relay,
//! per-key order, retries, dead letters.
