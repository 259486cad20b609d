//! The PostgreSQL event store. (Being written.)

/// The PostgreSQL event store.
#[derive(Debug)]
pub struct PostgresStore;
