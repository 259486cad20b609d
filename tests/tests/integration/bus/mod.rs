//! The command bus and each middleware, through real dispatches.
//!
//! This module holds what the cases share: the wallet aggregate with its
//! commands and handler, a count of handler runs per wallet, and a store
//! that waits before every append. The cases are grouped by concern, one
//! submodule each.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use mink::prelude::*;
use mink::{IdempotencyKey, Validate, ValidationErrors};

mod correlation;
mod idempotency;
mod layers;
mod observability;
mod recovery;
mod retry;
mod tenants;
mod validation;

/// Counts handler runs per test (each test uses its own wallet ids).
static RUNS: Mutex<BTreeMap<String, usize>> = Mutex::new(BTreeMap::new());

fn count_run(id: &str) {
    *RUNS.lock().unwrap().entry(id.to_owned()).or_default() += 1;
}

fn runs(id: &str) -> usize {
    RUNS.lock().unwrap().get(id).copied().unwrap_or(0)
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub enum WalletEvent {
    #[event(name = "WalletCredited")]
    Credited { amount: u64, note: String },
}

#[derive(Aggregate, Debug, Default)]
#[aggregate(events = WalletEvent, category = "wallet")]
pub struct Wallet {
    #[aggregate(id)]
    id: String,
    balance: u64,
}

#[command(aggregate = Wallet)]
pub struct Credit {
    #[command(id)]
    wallet: String,
    amount: u64,
    note: String,
}

impl Validate for Credit {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut v = ValidationErrors::new();
        v.check(self.amount == 0, "amount", "must be positive");
        v.check(self.amount > 1_000_000, "amount", "must be at most 1000000");
        v.check(self.note.trim().is_empty(), "note", "must not be blank");
        v.into_result()
    }
}

#[command(aggregate = Wallet)]
pub struct Explode {
    #[command(id)]
    wallet: String,
}

/// A credit carrying its own idempotency key.
#[command(aggregate = Wallet)]
pub struct CreditOnce {
    #[command(id)]
    wallet: String,
    amount: u64,
    request: String,
}

impl IdempotencyKey for CreditOnce {
    fn idempotency_key(&self) -> Option<String> {
        Some(self.request.clone())
    }
}

#[derive(Debug, PartialEq, thiserror::Error)]
#[error("wallet refused: {0}")]
pub struct WalletError(String);

#[command_handler]
impl Wallet {
    fn credit(&self, cmd: Credit) -> Result<Vec<WalletEvent>, WalletError> {
        count_run(&self.id);
        if cmd.note == "refuse" {
            return Err(WalletError("told to".into()));
        }
        Ok(vec![WalletEvent::Credited {
            amount: cmd.amount,
            note: cmd.note,
        }])
    }

    fn credit_once(&self, cmd: CreditOnce) -> Result<Vec<WalletEvent>, WalletError> {
        count_run(&self.id);
        Ok(vec![WalletEvent::Credited {
            amount: cmd.amount,
            note: cmd.request,
        }])
    }

    fn explode(&self, _cmd: Explode) -> Result<Vec<WalletEvent>, WalletError> {
        panic!("wallet {} exploded", self.id)
    }

    fn apply(&mut self, event: &WalletEvent) {
        match event {
            WalletEvent::Credited { amount, .. } => self.balance += amount,
        }
    }
}

fn credit(wallet: &str, amount: u64) -> Credit {
    Credit {
        wallet: wallet.into(),
        amount,
        note: "n".into(),
    }
}

/// A real store that waits before every append: makes a timeout happen
/// without blocking a runtime thread.
struct SlowStore {
    inner: std::sync::Arc<dyn EventStore>,
    delay: Duration,
}

impl SlowStore {
    fn memory(delay: Duration) -> Self {
        SlowStore {
            inner: std::sync::Arc::new(InMemoryStore::new()),
            delay,
        }
    }
}

#[async_trait::async_trait]
impl EventStore for SlowStore {
    async fn append_to_streams(
        &self,
        appends: Vec<mink::StreamAppend>,
    ) -> mink::Result<mink::AppendResult> {
        tokio::time::sleep(self.delay).await;
        self.inner.append_to_streams(appends).await
    }
    async fn append_with(
        &self,
        appends: Vec<mink::StreamAppend>,
        work: &dyn mink::UnitOfWork,
    ) -> mink::Result<mink::AppendResult> {
        tokio::time::sleep(self.delay).await;
        self.inner.append_with(appends, work).await
    }
    async fn read_stream_forward(
        &self,
        stream_id: &str,
        from_version: u64,
        limit: usize,
    ) -> mink::Result<Vec<mink::RecordedEvent>> {
        self.inner
            .read_stream_forward(stream_id, from_version, limit)
            .await
    }
    async fn read_all_forward(
        &self,
        request: mink::ReadAll,
    ) -> mink::Result<Vec<mink::RecordedEvent>> {
        self.inner.read_all_forward(request).await
    }
    async fn stream_info(&self, stream_id: &str) -> mink::Result<Option<mink::StreamInfo>> {
        self.inner.stream_info(stream_id).await
    }
    async fn head_position(&self) -> mink::Result<mink::Position> {
        self.inner.head_position().await
    }
}
