//! Read models: plain structs that projections write and applications
//! query, with queries the compiler checks.
//!
//! `#[derive(ReadModel)]` maps a struct to a table (one column per field,
//! nested values as JSON) and generates typed field handles; a
//! [`ReadModelRepository`] reads, writes and queries its rows in one of the
//! adapters' stores (`InMemoryReadModels`, `SqliteReadModels`,
//! `PostgresReadModels`), on its own or bound to a transaction. See
//! `docs/guide/read-models.md` and `docs/adr/014-read-models.md`.
//!
//! This layer imports only `error`, `event` and `store`; the adapters
//! implement [`ReadModelStore`].

mod error;
pub mod eval;
mod field;
mod query;
mod repository;
mod schema;
pub mod sql;

pub use error::ReadModelError;
pub use field::{Containable, Field, IdColumn, Nullable, Operand, Ordered, Text};
#[doc(hidden)]
pub use query::Condition;
pub use query::{CompareOp, Direction, Filter, Order, Page, Predicate, Query, Select};
pub use repository::{ReadModel, ReadModelRepository, ReadModelStore, ReadModelTx};
pub use schema::{
    Column, ColumnDef, ColumnKind, IndexKind, ModelSchema, Row, StoredColumn, TIMESTAMP_FORMAT,
    format_timestamp,
};

/// What `#[derive(ReadModel)]` generates code against. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use super::{
        ColumnDef, ColumnKind, Field, IdColumn, IndexKind, ModelSchema, ReadModel, ReadModelError,
        Row,
    };
    pub use serde_json::Value;

    /// Wraps a field type so generated code can find its [`super::Column`]
    /// impl, if it has one.
    pub struct KindProbe<T: ?Sized>(std::marker::PhantomData<T>);

    impl<T: ?Sized> KindProbe<T> {
        /// A probe for `T`.
        pub const fn new() -> Self {
            KindProbe(std::marker::PhantomData)
        }
    }

    impl<T: ?Sized> Default for KindProbe<T> {
        fn default() -> Self {
            Self::new()
        }
    }

    /// Picked when the field type is a [`super::Column`]: a real column.
    pub trait KindViaColumn {
        /// The column's kind, and whether it takes `NULL`.
        fn __mink_kind(&self) -> (ColumnKind, bool);
    }
    impl<T: super::Column + ?Sized> KindViaColumn for &KindProbe<T> {
        fn __mink_kind(&self) -> (ColumnKind, bool) {
            (T::KIND, T::NULLABLE)
        }
    }

    /// Picked otherwise: a JSON column.
    pub trait KindViaJson {
        /// [`ColumnKind::Json`], nullable.
        fn __mink_kind(&self) -> (ColumnKind, bool);
    }
    impl<T: ?Sized> KindViaJson for KindProbe<T> {
        fn __mink_kind(&self) -> (ColumnKind, bool) {
            (ColumnKind::Json, true)
        }
    }

    /// Checks, in generated code, that the id field's type can be a key.
    #[inline(always)]
    pub fn assert_id<T: IdColumn>() {}

    /// A column definition from a probed kind.
    pub fn column(
        name: &'static str,
        (kind, nullable): (ColumnKind, bool),
        index: IndexKind,
    ) -> ColumnDef {
        ColumnDef::new(name, kind, nullable, index)
    }
}
