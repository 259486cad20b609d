//! What operators do with sagas, from the application or any other
//! process on the same database: list them by type and status, show one
//! with its history, retry a failed one, resume stalled commands.

use std::sync::Arc;

use uuid::Uuid;

use super::clock::{Clock, SystemClock};
use super::handling::history;
use super::manager::SagaRunner;
use crate::error::{Error, Result};
use crate::store::{
    SagaAssociation, SagaCommandKind, SagaCommandRecord, SagaCommandStatus, SagaCommandUpdate,
    SagaDeadline, SagaHistoryEntry, SagaQuery, SagaRecord, SagaStatus, SagaStore, SagaUpsert,
    SagaWrite,
};

/// Everything stored about one saga.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SagaDetails {
    /// The saga.
    pub record: SagaRecord,
    /// Its associations, active or not.
    pub associations: Vec<SagaAssociation>,
    /// Its commands, by sequence (steps and compensations).
    pub commands: Vec<SagaCommandRecord>,
    /// Its deadlines.
    pub deadlines: Vec<SagaDeadline>,
    /// What happened to it, oldest first.
    pub history: Vec<SagaHistoryEntry>,
}

impl SagaDetails {
    /// Its commands still waiting to be sent.
    pub fn pending_commands(&self) -> impl Iterator<Item = &SagaCommandRecord> {
        self.commands
            .iter()
            .filter(|c| c.status == SagaCommandStatus::Pending)
    }
}

/// The operator's view of the sagas in one store, and the managers this
/// application runs. From `Mink::sagas()`, or [`Sagas::new`] on a store
/// opened elsewhere (the command line).
#[derive(Clone)]
pub struct Sagas {
    store: Option<Arc<dyn SagaStore>>,
    runners: Arc<Vec<Arc<dyn SagaRunner>>>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Sagas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sagas")
            .field("store", &self.store.is_some())
            .field("running", &self.saga_types().collect::<Vec<_>>())
            .finish()
    }
}

impl Sagas {
    /// The sagas kept in `store`, with no manager attached.
    pub fn new(store: Arc<dyn SagaStore>) -> Self {
        Sagas {
            store: Some(store),
            runners: Arc::new(Vec::new()),
            clock: Arc::new(SystemClock),
        }
    }

    /// The sagas of `store` (if it keeps any) and the managers `runners`,
    /// going by `clock`.
    pub fn with_runners(
        store: Option<Arc<dyn SagaStore>>,
        runners: Vec<Arc<dyn SagaRunner>>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Sagas {
            store,
            runners: Arc::new(runners),
            clock,
        }
    }

    fn store(&self) -> Result<&Arc<dyn SagaStore>> {
        self.store
            .as_ref()
            .ok_or_else(|| Error::Configuration("this store keeps no saga records".to_owned()))
    }

    /// The saga types whose managers this application runs.
    pub fn saga_types(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.runners.iter().map(|r| r.saga_type())
    }

    /// Starts every manager (a no-op for those running).
    pub fn start(&self) {
        for runner in self.runners.iter() {
            runner.start();
        }
    }

    /// Stops every manager, releasing their leases.
    pub async fn stop(&self) {
        for runner in self.runners.iter() {
            runner.stop().await;
        }
    }

    /// Wakes every manager to look for work now.
    pub fn nudge(&self) {
        for runner in self.runners.iter() {
            runner.nudge();
        }
    }

    /// Sagas by type and status, most recently changed first.
    pub async fn list(&self, query: &SagaQuery) -> Result<Vec<SagaRecord>> {
        self.store()?.list(query).await
    }

    /// One saga with its associations, commands, deadlines and history;
    /// `None` when there is no saga `id`.
    pub async fn show(&self, id: Uuid) -> Result<Option<SagaDetails>> {
        let store = self.store()?;
        let Some(record) = store.saga(id).await? else {
            return Ok(None);
        };
        Ok(Some(SagaDetails {
            record,
            associations: store.associations(id).await?,
            commands: store.commands(id).await?,
            deadlines: store.deadlines(id).await?,
            history: store.history(id).await?,
        }))
    }

    /// Retries a saga that failed:
    /// - `failed`: its failed and cancelled steps are sent again and it
    ///   runs again (its associations find it again; when another running
    ///   saga took one meanwhile, the retry fails with
    ///   [`Error::InvalidInput`] and changes nothing);
    /// - `compensation_failed`: its failed compensations are sent again;
    /// - `running` or `compensating`: its pending commands are sent now,
    ///   whatever their backoff.
    ///
    /// Fails with [`Error::InvalidInput`] for an unknown saga and for one
    /// that completed or was compensated.
    pub async fn retry(&self, id: Uuid) -> Result<SagaRecord> {
        let store = self.store()?;
        let Some(mut record) = store.saga(id).await? else {
            return Err(Error::invalid("saga", format!("no saga has id {id}")));
        };
        let now = self.clock.now();
        let commands = store.commands(id).await?;
        let mut write = SagaWrite::default();
        let again = |c: &SagaCommandRecord| SagaCommandUpdate {
            message_id: c.message_id,
            status: SagaCommandStatus::Pending,
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            result: None,
        };
        let expected = record.version;
        match record.status {
            SagaStatus::Failed => {
                for c in commands.iter().filter(|c| {
                    c.kind == SagaCommandKind::Step
                        && matches!(
                            c.status,
                            SagaCommandStatus::Failed | SagaCommandStatus::Cancelled
                        )
                }) {
                    write.command_updates.push(again(c));
                }
                record.status = SagaStatus::Running;
                record.last_error = None;
                write.reactivate.push(id);
            }
            SagaStatus::CompensationFailed => {
                for c in commands.iter().filter(|c| {
                    c.kind == SagaCommandKind::Compensation
                        && c.status == SagaCommandStatus::Failed
                        && !c.payload.is_empty()
                }) {
                    write.command_updates.push(again(c));
                }
                if write.command_updates.is_empty() {
                    return Err(Error::invalid(
                        "saga",
                        format!(
                            "saga {id} has no failed compensation that can be sent again \
                             (its compensations could not be built)"
                        ),
                    ));
                }
                record.status = SagaStatus::Compensating;
            }
            SagaStatus::Running | SagaStatus::Compensating => {
                for c in commands
                    .iter()
                    .filter(|c| c.status == SagaCommandStatus::Pending)
                {
                    let mut update = again(c);
                    update.attempts = c.attempts;
                    update.last_error.clone_from(&c.last_error);
                    write.command_updates.push(update);
                }
            }
            SagaStatus::Completed | SagaStatus::Compensated => {
                return Err(Error::invalid(
                    "saga",
                    format!("saga {id} is {}: there is nothing to retry", record.status),
                ));
            }
        }
        write.history.push(history(
            id,
            now,
            "retry",
            format!(
                "an operator retried it: {} command(s) to send",
                write.command_updates.len()
            ),
        ));
        record.version = expected + 1;
        record.updated_at = now;
        write.sagas.push(SagaUpsert {
            record: record.clone(),
            expected: Some(expected),
        });
        store.write(&write).await?;
        self.nudge();
        Ok(record)
    }

    /// Makes every pending command of `saga_type` (or of every type) due
    /// now, whatever its backoff, and wakes the managers. Returns how many
    /// commands were pending.
    pub async fn resume_stalled(&self, saga_type: Option<&str>) -> Result<usize> {
        let store = self.store()?;
        let types: Vec<String> = match saga_type {
            Some(t) => vec![t.to_owned()],
            None => {
                let mut types: Vec<String> = store
                    .list(&SagaQuery::default())
                    .await?
                    .into_iter()
                    .map(|r| r.saga_type)
                    .collect();
                types.sort();
                types.dedup();
                types
            }
        };
        let now = self.clock.now();
        let mut write = SagaWrite::default();
        for t in &types {
            for c in store.pending_commands(t, usize::MAX / 2).await? {
                write.command_updates.push(SagaCommandUpdate {
                    message_id: c.message_id,
                    status: SagaCommandStatus::Pending,
                    attempts: c.attempts,
                    next_attempt_at: now.min(c.next_attempt_at),
                    last_error: c.last_error.clone(),
                    result: None,
                });
            }
        }
        let count = write.command_updates.len();
        if count > 0 {
            store.write(&write).await?;
        }
        self.nudge();
        Ok(count)
    }
}
