//! A small application for the multi-process tests of the saga manager.
//!
//! `saga-worker run <database> <schema> <instance> <orders>` runs the
//! `sagas.checkout` saga (see `mink_tests::saga_domain`) with a short
//! lease, printing `ready` once its manager runs, until killed or until
//! `<orders>` checkouts exist and none of their commands is pending; then
//! it prints `done` and stops. Every command a checkout sends appends one
//! event to a ledger stream, so a command run twice shows there.
//!
//! `<database>` is a `postgres://` URL (with `<schema>` the store's schema)
//! or a SQLite file path (the schema is ignored).

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use mink::adapters::postgres::PostgresStore;
use mink::adapters::sqlite::SqliteStore;
use mink::saga::{Saga, SagaOptions};
use mink::store::SagaQuery;
use mink::{BoxError, EventStore, Mink};
use mink_tests::saga_domain::Checkout;

async fn open(database: &str, schema: &str) -> Result<Arc<dyn EventStore>, BoxError> {
    if database.starts_with("postgres://") || database.starts_with("postgresql://") {
        let store = PostgresStore::builder(database)
            .schema(schema)
            .build()
            .await?;
        Ok(Arc::new(store))
    } else {
        Ok(Arc::new(SqliteStore::open(database).await?))
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| -> Result<&str, BoxError> {
        args.get(i)
            .map(String::as_str)
            .ok_or_else(|| format!("missing argument {i}; see the module docs").into())
    };
    if arg(1)? != "run" {
        return Err(format!("unknown command `{}`", arg(1)?).into());
    }
    let store = open(arg(2)?, arg(3)?).await?;
    let orders: usize = arg(5)?.parse()?;
    let app = Mink::builder()
        .shared_store(Arc::clone(&store))
        .registered_projections(false)
        .instance_id(arg(4)?)
        .saga::<Checkout>()
        .saga_options(SagaOptions {
            batch_size: 5,
            poll_interval: Duration::from_millis(20),
            lease_ttl: Duration::from_millis(1500),
            backoff_initial: Duration::from_millis(5),
            backoff_max: Duration::from_millis(100),
            idempotency_lease: Duration::from_secs(2),
            ..SagaOptions::default()
        })
        .build()
        .await?;
    println!("ready");
    std::io::stdout().flush()?;
    let sagas = store.saga_store().ok_or("this store keeps no sagas")?;
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = sagas
            .list(&SagaQuery {
                saga_type: Some(Checkout::NAME.to_owned()),
                ..SagaQuery::default()
            })
            .await?
            .len();
        if started >= orders && sagas.pending_commands(Checkout::NAME, 1).await?.is_empty() {
            break;
        }
    }
    app.shutdown().await;
    println!("done");
    Ok(())
}
