//! Work that runs inside an append's own transaction: it sees what the
//! append wrote, and if it fails, nothing is stored, events included
//! (docs/adr/008-unit-of-work.md).

use std::any::Any;

use futures::future::BoxFuture;

use crate::error::BoxError;

use super::outcome::AppendResult;

/// An append transaction that is open, as a [`UnitOfWork`] sees it.
///
/// Each adapter has its own type behind it, with typed access to its
/// database: `PostgresTransaction::connection()` and
/// `SqliteTransaction::connection()` give the transaction's connection, so
/// that rows written there commit or roll back with the events. Reach it
/// with [`downcast_mut`](#method.downcast_mut) on `dyn StoreTransaction`.
pub trait StoreTransaction: Send + 'static {
    /// The adapter's name: `memory`, `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// The adapter's transaction as [`Any`], for typed access.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl dyn StoreTransaction {
    /// The adapter's own transaction type, when it is `T`.
    pub fn downcast_mut<T: StoreTransaction>(&mut self) -> Option<&mut T> {
        self.as_any_mut().downcast_mut::<T>()
    }
}

/// What [`UnitOfWork::run`] returns.
pub type WorkFuture<'a> = BoxFuture<'a, Result<(), BoxError>>;

/// Work run inside the append transaction, after the events are written and
/// before the commit.
///
/// The work sees each written event's id, version and position. When it
/// returns an error, the transaction rolls back and the append fails with
/// [`crate::Error::UnitOfWork`]. When a store runs an append again (a lost
/// race on PostgreSQL, a busy file on SQLite), the work runs again in the
/// new transaction; it must not have effects outside the transaction that a
/// second run would repeat.
///
/// # Examples
///
/// ```
/// use futures::future::FutureExt;
/// use mink_runtime::store::{AppendResult, StoreTransaction, UnitOfWork, WorkFuture};
///
/// /// Refuses any append that writes more than ten events.
/// struct AtMostTen;
///
/// impl UnitOfWork for AtMostTen {
///     fn run<'a>(
///         &'a self,
///         _tx: &'a mut dyn StoreTransaction,
///         written: &'a AppendResult,
///     ) -> WorkFuture<'a> {
///         async move {
///             if written.events().count() > 10 {
///                 return Err("more than ten events".into());
///             }
///             Ok(())
///         }
///         .boxed()
///     }
/// }
/// ```
pub trait UnitOfWork: Send + Sync {
    /// Runs the work in `tx`, which has just written `written`.
    fn run<'a>(
        &'a self,
        tx: &'a mut dyn StoreTransaction,
        written: &'a AppendResult,
    ) -> WorkFuture<'a>;
}

/// Several units of work, run in order; the first failure stops the rest.
impl<W: UnitOfWork> UnitOfWork for Vec<W> {
    fn run<'a>(
        &'a self,
        tx: &'a mut dyn StoreTransaction,
        written: &'a AppendResult,
    ) -> WorkFuture<'a> {
        Box::pin(async move {
            for work in self.iter() {
                work.run(&mut *tx, written).await?;
            }
            Ok(())
        })
    }
}

impl<W: UnitOfWork + ?Sized> UnitOfWork for std::sync::Arc<W> {
    fn run<'a>(
        &'a self,
        tx: &'a mut dyn StoreTransaction,
        written: &'a AppendResult,
    ) -> WorkFuture<'a> {
        (**self).run(tx, written)
    }
}

/// One unit of work, then another the caller lent, in one transaction: how
/// a store wrapper adds its own work (inline projections, outbox rows)
/// before the work of an `append_with` call. The first failure stops the
/// rest.
pub struct ThenWork<'w, W> {
    /// Runs first.
    pub first: W,
    /// Runs after it, in the same transaction.
    pub then: &'w dyn UnitOfWork,
}

impl<W: UnitOfWork> UnitOfWork for ThenWork<'_, W> {
    fn run<'a>(
        &'a self,
        tx: &'a mut dyn StoreTransaction,
        written: &'a AppendResult,
    ) -> WorkFuture<'a> {
        Box::pin(async move {
            self.first.run(&mut *tx, written).await?;
            self.then.run(tx, written).await
        })
    }
}
