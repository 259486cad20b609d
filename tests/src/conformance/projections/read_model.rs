//! The read model of the projection cases: one table on the SQL stores, one
//! list on the in-memory store, written through a batch's own transaction
//! as a projection's would be, so that it commits with the checkpoint or
//! not at all.

use std::sync::{Arc, Mutex};

use mink::StoreTransaction;
use mink::adapters::memory::MemoryTransaction;
use mink::adapters::postgres::{PostgresTransaction, sqlx};
use mink::adapters::sqlite::SqliteTransaction;
use mink::store::{Lease, ProjectionStore};

/// A read model written through a batch's transaction: a table on the SQL
/// stores (created on first use), staged effects on the in-memory store.
#[derive(Default)]
pub(super) struct ReadModel {
    memory: Arc<Mutex<Vec<String>>>,
}

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS conformance_read_model (row TEXT NOT NULL)";
const SELECT_ROWS: &str = "SELECT row FROM conformance_read_model";

impl ReadModel {
    /// Writes `row` in `tx`, to be stored only if `tx` commits.
    pub(super) async fn write(&self, tx: &mut dyn StoreTransaction, row: &str) {
        if let Some(tx) = tx.downcast_mut::<MemoryTransaction>() {
            let (rows, row) = (Arc::clone(&self.memory), row.to_owned());
            tx.on_commit(move || rows.lock().unwrap().push(row));
        } else if let Some(tx) = tx.downcast_mut::<SqliteTransaction>() {
            let conn = tx.connection();
            sqlx::query(CREATE_TABLE).execute(&mut *conn).await.unwrap();
            sqlx::query("INSERT INTO conformance_read_model (row) VALUES (?1)")
                .bind(row)
                .execute(conn)
                .await
                .expect("write a read-model row");
        } else if let Some(tx) = tx.downcast_mut::<PostgresTransaction>() {
            let conn = tx.connection();
            sqlx::query(CREATE_TABLE).execute(&mut *conn).await.unwrap();
            sqlx::query("INSERT INTO conformance_read_model (row) VALUES ($1)")
                .bind(row)
                .execute(conn)
                .await
                .expect("write a read-model row");
        } else {
            panic!("no read model for a `{}` transaction", tx.backend());
        }
    }

    /// Every committed row, sorted; read in a batch transaction of `lease`
    /// that is rolled back.
    pub(super) async fn rows(&self, store: &dyn ProjectionStore, lease: &Lease) -> Vec<String> {
        let mut batch = store.begin(lease).await.expect("begin a batch");
        let tx = batch.transaction();
        let mut rows: Vec<String> = if tx.downcast_mut::<MemoryTransaction>().is_some() {
            self.memory.lock().unwrap().clone()
        } else if let Some(tx) = tx.downcast_mut::<SqliteTransaction>() {
            let conn = tx.connection();
            sqlx::query(CREATE_TABLE).execute(&mut *conn).await.unwrap();
            sqlx::query_scalar(SELECT_ROWS)
                .fetch_all(conn)
                .await
                .unwrap()
        } else if let Some(tx) = tx.downcast_mut::<PostgresTransaction>() {
            let conn = tx.connection();
            sqlx::query(CREATE_TABLE).execute(&mut *conn).await.unwrap();
            sqlx::query_scalar(SELECT_ROWS)
                .fetch_all(conn)
                .await
                .unwrap()
        } else {
            panic!("no read model for a `{}` transaction", tx.backend());
        };
        rows.sort();
        rows
    }
}
