//! Read-model writes bound to an append's transaction commit with the
//! events, or not at all; reads in the transaction see its own writes;
//! a transaction of another store is refused.

use futures::future::FutureExt;
use mink::read_model::{Query, ReadModel, ReadModelError, ReadModelRepository};
use mink::store::WorkFuture;
use mink::{
    AppendResult, Error, ExpectedVersion, NewEvent, StoreTransaction, StreamAppend, UnitOfWork,
};

use super::Backend;
use super::models::{OrderView, order};

super::on_every_store!(
    failed_unit_of_work_leaves_the_read_model_unchanged,
    unit_of_work_writes_commit_with_the_events,
    a_transaction_of_another_store_is_refused,
);

fn append(stream: &str) -> Vec<StreamAppend> {
    vec![StreamAppend::new(
        stream,
        ExpectedVersion::Any,
        vec![NewEvent::new("Touched", b"{}".to_vec())],
    )]
}

/// Inserts, updates and deletes in the transaction, checks that its reads
/// see those writes, then fails or succeeds.
struct Writes {
    repo: ReadModelRepository<OrderView>,
    fail: bool,
}

impl UnitOfWork for Writes {
    fn run<'a>(
        &'a self,
        tx: &'a mut dyn StoreTransaction,
        _written: &'a AppendResult,
    ) -> WorkFuture<'a> {
        async move {
            let f = OrderView::fields();
            let mut rm = self.repo.in_tx(tx);
            rm.insert(&order("new", 7)).await?;
            rm.update("kept", |o| o.status = "changed".into()).await?;
            rm.delete("gone").await?;
            // The transaction sees its own writes.
            assert_eq!(rm.get("new").await?.number, 7);
            assert_eq!(rm.get("kept").await?.status, "changed");
            assert!(rm.find_by_id("gone").await?.is_none());
            assert_eq!(rm.count(f.status.eq("changed")).await?, 1);
            assert_eq!(rm.count(Query::new()).await?, 2);
            if self.fail {
                return Err("the handler failed after writing".into());
            }
            Ok(())
        }
        .boxed()
    }
}

async fn seeded(b: &Backend) -> ReadModelRepository<OrderView> {
    let repo = ReadModelRepository::open_shared(b.read_models.clone())
        .await
        .expect("open");
    repo.insert(&order("kept", 1)).await.expect("insert");
    repo.insert(&order("gone", 2)).await.expect("insert");
    repo
}

async fn snapshot(repo: &ReadModelRepository<OrderView>) -> Vec<OrderView> {
    repo.find(Query::new()).await.expect("read all")
}

async fn failed_unit_of_work_leaves_the_read_model_unchanged(b: &Backend) {
    let repo = seeded(b).await;
    let before = snapshot(&repo).await;
    let work = Writes {
        repo: repo.clone(),
        fail: true,
    };
    let err = b
        .events
        .append_with(append("order-1"), &work)
        .await
        .expect_err("the work fails");
    assert!(matches!(err, Error::UnitOfWork(_)), "{}: {err}", b.name);
    assert_eq!(snapshot(&repo).await, before, "{}", b.name);
    assert!(
        b.events
            .stream_info("order-1")
            .await
            .expect("info")
            .is_none()
    );

    // The store stays usable: the same work, succeeding, commits.
    let ok = Writes {
        repo: repo.clone(),
        fail: false,
    };
    b.events
        .append_with(append("order-1"), &ok)
        .await
        .expect("the work succeeds");
    assert_eq!(repo.get("kept").await.expect("get").status, "changed");
}

async fn unit_of_work_writes_commit_with_the_events(b: &Backend) {
    let repo = seeded(b).await;
    let work = Writes {
        repo: repo.clone(),
        fail: false,
    };
    b.events
        .append_with(append("order-2"), &work)
        .await
        .expect("append");
    let all = snapshot(&repo).await;
    let got: Vec<(&str, &str)> = all
        .iter()
        .map(|o| (o.id.as_str(), o.status.as_str()))
        .collect();
    assert_eq!(got, [("kept", "changed"), ("new", "paid")], "{}", b.name);
    assert_eq!(
        b.events
            .stream_info("order-2")
            .await
            .expect("info")
            .map(|i| i.version),
        Some(1)
    );
}

/// Tries a repository of another store inside this store's transaction.
struct Foreign {
    repo: ReadModelRepository<OrderView>,
}

impl UnitOfWork for Foreign {
    fn run<'a>(
        &'a self,
        tx: &'a mut dyn StoreTransaction,
        _written: &'a AppendResult,
    ) -> WorkFuture<'a> {
        async move {
            match self.repo.in_tx(tx).insert(&order("x", 1)).await {
                Err(ReadModelError::ForeignTransaction { .. }) => Ok(()),
                other => Err(format!("expected a refusal, got {other:?}").into()),
            }
        }
        .boxed()
    }
}

async fn a_transaction_of_another_store_is_refused(b: &Backend) {
    // A SQLite store's read models, or an in-memory one's for SQLite.
    let other = if b.name == "memory" {
        super::sqlite().await
    } else {
        super::memory().await
    }
    .expect("another store");
    let repo = ReadModelRepository::open_shared(other.read_models.clone())
        .await
        .expect("open");
    b.events
        .append_with(append("order-3"), &Foreign { repo })
        .await
        .expect("the refusal is seen by the work");
}
