//! Retry on conflict: with the layer, every racing command lands once;
//! without it, racing commands conflict.

use std::time::Duration;

use mink::bus::RetryOnConflictLayer;
use mink::prelude::*;

use super::{SlowStore, Wallet, credit};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retry_on_conflict_lets_every_racing_command_land_once() {
    let store = SlowStore::memory(Duration::from_millis(1));
    let app = Mink::builder()
        .store(store)
        .layer(RetryOnConflictLayer::new().max_attempts(100))
        .build()
        .await
        .unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move { app.dispatch(credit("hot", i + 1)).await })
        })
        .collect();
    let mut versions = Vec::new();
    for t in tasks {
        versions.push(
            t.await
                .unwrap()
                .unwrap()
                .version
                .expect("an aggregate command"),
        );
    }
    versions.sort_unstable();
    assert_eq!(versions, (1..=16).collect::<Vec<u64>>());
    let wallet = app.load_aggregate::<Wallet>("hot").await.unwrap();
    assert_eq!(wallet.balance, (1..=16).sum::<u64>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_retry_racing_commands_conflict() {
    let store = SlowStore::memory(Duration::from_millis(5));
    let app = Mink::builder().store(store).build().await.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { app.dispatch(credit("cold", 1)).await })
        })
        .collect();
    let mut conflicts = 0;
    for t in tasks {
        if let Err(e) = t.await.unwrap() {
            assert!(e.is_concurrency_conflict(), "{e:?}");
            conflicts += 1;
        }
    }
    assert!(
        conflicts > 0,
        "eight racing loads of one version must conflict"
    );
}
