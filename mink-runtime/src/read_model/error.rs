//! What can go wrong reading or writing a read model.

use crate::error::{BoxError, Error};

/// A failure of a read-model operation. Every variant names the table, and
/// the id or column involved, so callers can match on it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadModelError {
    /// No row has this id.
    #[error("read model `{table}`: no row with id {id}")]
    NotFound {
        /// The read model's table.
        table: &'static str,
        /// The id looked for, as JSON.
        id: String,
    },

    /// [`insert`](super::ReadModelRepository::insert) found a row with the
    /// same id. Nothing was written.
    #[error("read model `{table}`: a row with id {id} already exists")]
    AlreadyExists {
        /// The read model's table.
        table: &'static str,
        /// The repeated id, as JSON.
        id: String,
    },

    /// A `#[read_model(unique)]` field holds a value another row already
    /// has. Nothing was written.
    #[error("read model `{table}`: another row already has this `{column}`")]
    UniqueViolation {
        /// The read model's table.
        table: &'static str,
        /// The unique field.
        column: String,
    },

    /// The stored table was made for another shape of the read model, and
    /// the difference cannot be migrated in place (a field's type changed,
    /// a field was removed, a required field was added).
    #[error(
        "read model `{table}` (stored schema version {stored_version}) no longer matches `{model}`: \
         {reason}; rebuild it: recreate the table with \
         `ReadModelRepository::recreate` and replay its projection from the start"
    )]
    SchemaMismatch {
        /// The read model's table.
        table: &'static str,
        /// The Rust type.
        model: &'static str,
        /// The schema version the table records.
        stored_version: i64,
        /// What changed.
        reason: String,
    },

    /// A value could not be turned into a column (a `u64` above `i64::MAX`,
    /// a serializer error, a `None` in a required column).
    #[error("read model `{table}`: cannot store field `{column}`: {reason}")]
    Encode {
        /// The read model's table.
        table: &'static str,
        /// The field.
        column: String,
        /// Why.
        reason: String,
    },

    /// A stored value could not be turned back into its field (a row edited
    /// by hand into another shape).
    #[error("read model `{table}`: cannot read field `{column}` of a stored row: {reason}")]
    Decode {
        /// The read model's table.
        table: &'static str,
        /// The field.
        column: String,
        /// Why.
        reason: String,
    },

    /// The query cannot run as built (a `like` pattern ending in a lone
    /// `\`, a page number of zero).
    #[error("read model `{table}`: invalid query: {reason}")]
    InvalidQuery {
        /// The read model's table.
        table: &'static str,
        /// Why.
        reason: String,
    },

    /// [`update`](super::ReadModelRepository::update) changed the id.
    #[error("read model `{table}`: an update changed the id from {from} to {to}; ids never change")]
    IdChanged {
        /// The read model's table.
        table: &'static str,
        /// The id before the update.
        from: String,
        /// The id after it.
        to: String,
    },

    /// The repository was bound to a transaction of another store (another
    /// adapter, database file or schema), whose commit would not include
    /// these writes.
    #[error(
        "read model `{table}`: bound to a `{found}` transaction of another store; bind it to a \
         transaction of the store its repository was opened on ({expected})"
    )]
    ForeignTransaction {
        /// The read model's table.
        table: &'static str,
        /// The repository's store.
        expected: &'static str,
        /// The transaction's adapter.
        found: &'static str,
    },

    /// The store failed (I/O, connection, SQL error).
    #[error("read model `{table}`: {source}")]
    Store {
        /// The read model's table.
        table: &'static str,
        /// The store's error.
        #[source]
        source: Error,
    },
}

impl ReadModelError {
    /// Wraps a backend failure.
    pub fn backend(table: &'static str, err: impl Into<BoxError>) -> Self {
        ReadModelError::Store {
            table,
            source: Error::Backend(err.into()),
        }
    }

    /// True when the failure may pass by itself (the store was unavailable).
    pub fn is_transient(&self) -> bool {
        matches!(self, ReadModelError::Store { source, .. } if source.is_transient())
    }
}
