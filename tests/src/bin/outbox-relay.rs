//! A small application for the multi-process tests of the outbox relay.
//!
//! `outbox-relay <database> <schema> <file>` runs a relay of the store's
//! outbox until killed. Its one publisher, `file`, appends one line per
//! message it delivers to `<file>` (`<message id> <key> <body>`), flushed
//! before the message counts as delivered, and prints `publishing <id>`
//! before each, taking 10 ms per message so that a batch takes a while.
//! Claims last one second, so that another relay takes over soon after
//! this one is killed.
//!
//! `<database>` is a `postgres://` URL (with `<schema>` the store's schema)
//! or a SQLite file path (the schema is ignored).

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use mink::EventStore;
use mink::adapters::postgres::PostgresStore;
use mink::adapters::sqlite::SqliteStore;
use mink::outbox::{OutboxMessage, PublishError, Publisher, Relay, RelayOptions};

/// Appends each message to a file.
struct FilePublisher {
    file: Mutex<std::fs::File>,
}

#[async_trait]
impl Publisher for FilePublisher {
    fn name(&self) -> &str {
        "file"
    }

    async fn publish(&self, messages: &[OutboxMessage]) -> Vec<Result<(), PublishError>> {
        let mut results = Vec::new();
        for message in messages {
            {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "publishing {}", message.id);
                let _ = out.flush();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            let line = format!(
                "{} {} {}\n",
                message.id,
                message.key,
                String::from_utf8_lossy(&message.payload)
            );
            let written = {
                let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
                file.write_all(line.as_bytes())
                    .and_then(|()| file.sync_data())
            };
            results.push(written.map_err(PublishError::retry));
        }
        results
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [database, schema, file] = args.as_slice() else {
        return Err("usage: outbox-relay <database> <schema> <file>".into());
    };
    let store: Arc<dyn EventStore> = if database.starts_with("postgres") {
        Arc::new(
            PostgresStore::builder(database.clone())
                .schema(schema.clone())
                .build()
                .await?,
        )
    } else {
        Arc::new(SqliteStore::open(database).await?)
    };
    let outbox = store.outbox_store().ok_or("the store keeps no outbox")?;
    let publisher = FilePublisher {
        file: Mutex::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(file)?,
        ),
    };
    let options = RelayOptions {
        batch_size: 5,
        concurrency: 1,
        claim_ttl: Duration::from_secs(1),
        backoff_min: Duration::from_millis(10),
        backoff_max: Duration::from_millis(100),
        poll_interval: Duration::from_millis(100),
        ..RelayOptions::default()
    };
    let relay = Relay::new(outbox, vec![Arc::new(publisher)], options)?;
    let _running = relay.start(store.log_changes());
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "ready")?;
        out.flush()?;
    }
    std::future::pending::<()>().await;
    Ok(())
}
