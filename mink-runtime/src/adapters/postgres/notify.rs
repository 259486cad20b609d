//! Wake-ups for readers of a [`PostgresStore`](super::PostgresStore)'s log,
//! in this process and in every other process using the same schema
//! (docs/adr/012-subscriptions.md).
//!
//! - After each append commits, the store wakes its own readers at once
//!   (a [`LogSignal`]) and tells the *notifier*, a background task that
//!   sends `SELECT pg_notify(channel, instance)` on a connection of its own.
//!   The notification is sent outside the append's transaction: a
//!   `NOTIFY` inside it would serialize every commit on PostgreSQL's
//!   notification queue lock. Commits that land while one notification is
//!   under way are announced by the next one, so a burst costs one or two.
//! - The first [`LogNotifications::listen`] starts the *listener*, a
//!   background task that `LISTEN`s on the channel on a connection of its
//!   own and forwards every other instance's notification into the same
//!   signal. When its connection drops, it connects again with a growing
//!   pause, and wakes the readers once it listens again, for what it may
//!   have missed.
//!
//! Neither task is on an append's path: an append never waits for them and
//! never fails because of them. Readers still poll, so a lost notification
//! only delays delivery. Both tasks stop when the last clone of the store
//! is dropped; one whose Tokio runtime shut down is started again, on the
//! runtime of the next commit or listen.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgListener, PgPoolOptions};
use tokio::runtime::Handle;
use tokio::sync::Notify;
use tokio::task::AbortHandle;
use uuid::Uuid;

use crate::store::{LogChanges, LogSignal};

/// The longest channel name PostgreSQL accepts (`NAMEDATALEN - 1`).
const MAX_CHANNEL_LEN: usize = 63;

/// How long a background task waits for a connection before it tries again.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The first pause before connecting again, doubled up to [`MAX_PAUSE`].
const MIN_PAUSE: Duration = Duration::from_millis(50);

/// The longest pause between attempts to connect.
const MAX_PAUSE: Duration = Duration::from_secs(5);

/// A listener connection that lived this long was healthy: the pause before
/// the next attempt starts small again.
const HEALTHY: Duration = Duration::from_secs(10);

/// The channel on which the stores of `schema` announce commits: the name
/// of its events table, `<schema>.events`, cut to the 63 bytes PostgreSQL
/// keeps. Two schemas whose names share their first 56 bytes share a
/// channel, which only costs spurious wake-ups.
pub(super) fn channel_name(schema: &str) -> String {
    let mut channel = format!("{schema}.events");
    // Schema names are ASCII (`builder::check_schema_name`): any byte is a
    // character boundary.
    channel.truncate(MAX_CHANNEL_LEN);
    channel
}

/// The wake-ups of one store and its clones.
pub(super) struct LogNotifications {
    /// Wakes this process's readers: after local commits, and on
    /// notifications from other instances.
    signal: LogSignal,
    /// Local commits the notifier has yet to announce (one stored permit
    /// stands for any number of them).
    commits: Arc<Notify>,
    channel: Arc<str>,
    /// Sent as the payload, so the listener can skip this store's own
    /// notifications (its readers were woken directly).
    instance: Arc<str>,
    connect: Arc<PgConnectOptions>,
    notifier: Background,
    listener: Background,
}

/// A background task, started on first use, started again when the runtime
/// it ran on has shut down, and stopped with the store.
#[derive(Default)]
struct Background(Mutex<Option<AbortHandle>>);

impl Background {
    fn task(&self) -> std::sync::MutexGuard<'_, Option<AbortHandle>> {
        // Nothing panics while the lock is held.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts the task with `start` unless it runs; does nothing outside a
    /// Tokio runtime.
    fn ensure(&self, start: impl FnOnce(&Handle) -> AbortHandle) {
        let mut task = self.task();
        if task.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        if let Ok(runtime) = Handle::try_current() {
            *task = Some(start(&runtime));
        }
    }

    fn is_running(&self) -> bool {
        self.task().as_ref().is_some_and(|t| !t.is_finished())
    }

    fn stop(&self) {
        if let Some(task) = self.task().take() {
            task.abort();
        }
    }
}

impl fmt::Debug for LogNotifications {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogNotifications")
            .field("channel", &self.channel)
            .field("notifier", &self.notifier.is_running())
            .field("listener", &self.listener.is_running())
            .finish_non_exhaustive()
    }
}

impl LogNotifications {
    /// Wake-ups for the store of `schema`, whose tasks connect with
    /// `connect`. No task runs until the first commit or listen.
    pub(super) fn new(schema: &str, connect: Arc<PgConnectOptions>) -> Self {
        LogNotifications {
            signal: LogSignal::new(),
            commits: Arc::new(Notify::new()),
            channel: channel_name(schema).into(),
            instance: Uuid::now_v7().simple().to_string().into(),
            connect,
            notifier: Background::default(),
            listener: Background::default(),
        }
    }

    /// The channel's name.
    pub(super) fn channel(&self) -> &str {
        &self.channel
    }

    /// Called after an append committed: wakes this process's readers now
    /// and has the notifier tell the other instances. Never blocks.
    pub(super) fn committed(&self) {
        self.signal.notify();
        self.commits.notify_one();
        self.notifier.ensure(|runtime| {
            runtime
                .spawn(send_notifications(
                    Arc::clone(&self.commits),
                    Arc::clone(&self.connect),
                    Arc::clone(&self.channel),
                    Arc::clone(&self.instance),
                ))
                .abort_handle()
        });
    }

    /// A new reader's wake-ups; starts the listener on the first call made
    /// inside a Tokio runtime.
    pub(super) fn listen(&self) -> LogChanges {
        self.listener.ensure(|runtime| {
            runtime
                .spawn(forward_notifications(
                    self.signal.clone(),
                    Arc::clone(&self.connect),
                    Arc::clone(&self.channel),
                    Arc::clone(&self.instance),
                ))
                .abort_handle()
        });
        self.signal.listen()
    }
}

impl Drop for LogNotifications {
    fn drop(&mut self) {
        self.notifier.stop();
        self.listener.stop();
    }
}

/// The notifier: one `pg_notify` per wake-up of `commits`, on a connection
/// of its own, kept open between bursts. A failure is logged and dropped:
/// the notification only hurried readers along.
async fn send_notifications(
    commits: Arc<Notify>,
    connect: Arc<PgConnectOptions>,
    channel: Arc<str>,
    instance: Arc<str>,
) {
    let mut conn: Option<PgConnection> = None;
    loop {
        commits.notified().await;
        // A connection kept from the last burst may have died since (a
        // restart, an idle timeout): one more try on a fresh one.
        let mut tries = if conn.is_some() { 2 } else { 1 };
        while tries > 0 {
            tries -= 1;
            match notify_once(&mut conn, &connect, &channel, &instance).await {
                Ok(()) => break,
                Err(e) => {
                    conn = None;
                    tracing::debug!(error = %e, %channel, "could not announce a commit");
                }
            }
        }
    }
}

/// Sends one notification on `conn`, connecting first when it is `None`.
async fn notify_once(
    conn: &mut Option<PgConnection>,
    connect: &PgConnectOptions,
    channel: &str,
    instance: &str,
) -> Result<(), sqlx::Error> {
    let open = match conn {
        Some(open) => open,
        None => conn.insert(
            tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(connect))
                .await
                .map_err(|_| sqlx::Error::PoolTimedOut)??,
        ),
    };
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(channel)
        .bind(instance)
        .execute(open)
        .await?;
    Ok(())
}

/// The listener: `LISTEN`s on `channel` and wakes `signal` for every
/// notification another instance sent, connecting again when the
/// connection drops.
async fn forward_notifications(
    signal: LogSignal,
    connect: Arc<PgConnectOptions>,
    channel: Arc<str>,
    instance: Arc<str>,
) {
    let mut pause = MIN_PAUSE;
    loop {
        match listen(&connect, &channel).await {
            Ok(mut listener) => {
                let since = Instant::now();
                // Commits made while nobody listened were not announced
                // to this process.
                signal.notify();
                loop {
                    match listener.try_recv().await {
                        Ok(Some(notification)) => {
                            if notification.payload() != &*instance {
                                signal.notify();
                            }
                        }
                        // The connection dropped.
                        Ok(None) => break,
                        Err(e) => {
                            tracing::debug!(error = %e, %channel, "lost the log listener");
                            break;
                        }
                    }
                }
                if since.elapsed() >= HEALTHY {
                    pause = MIN_PAUSE;
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, %channel, "could not listen for log changes");
            }
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// A listener on `channel`, on a connection of its own.
async fn listen(connect: &PgConnectOptions, channel: &str) -> Result<PgListener, sqlx::Error> {
    // PgListener reconnects through a pool; one of its own, of one
    // connection, so that it never takes one of the store's.
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(CONNECT_TIMEOUT)
        .idle_timeout(None)
        .max_lifetime(None)
        .test_before_acquire(false)
        .connect_lazy_with(connect.clone());
    let mut listener = PgListener::connect_with(&pool).await?;
    // Reconnecting is this task's: it pauses between attempts and wakes
    // the readers afterwards.
    listener.eager_reconnect(false);
    listener.listen(channel).await?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_are_named_after_the_schema_and_fit_postgres() {
        assert_eq!(channel_name("mink"), "mink.events");
        let long = "s".repeat(63);
        let channel = channel_name(&long);
        assert_eq!(channel.len(), MAX_CHANNEL_LEN);
        assert!(channel.starts_with(&long[..56]));
    }
}
