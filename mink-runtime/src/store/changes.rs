//! Wake-ups for readers of the global log: a store tells its subscribers
//! that something may have been committed, so that they read again at once
//! instead of at their next poll.
//!
//! A wake-up is only a hint. Readers always learn what is new by reading
//! the log, so a lost or late wake-up delays delivery and never loses an
//! event (docs/adr/012-subscriptions.md).

use std::time::Duration;

use tokio::sync::watch;

/// The sending half, kept by a store: bumped after every commit.
#[derive(Debug, Clone)]
pub struct LogSignal {
    sender: watch::Sender<u64>,
}

impl Default for LogSignal {
    fn default() -> Self {
        LogSignal::new()
    }
}

impl LogSignal {
    /// A signal nobody listens to yet.
    pub fn new() -> Self {
        let (sender, _) = watch::channel(0);
        LogSignal { sender }
    }

    /// Tells every listener that the log may have grown. Cheap when nobody
    /// listens; never blocks.
    pub fn notify(&self) {
        // Nobody to wake: a listener created later starts from what it sees
        // then, so skipping the send loses nothing.
        if self.sender.receiver_count() == 0 {
            return;
        }
        self.sender.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A new listener, woken by every later [`notify`](Self::notify).
    pub fn listen(&self) -> LogChanges {
        LogChanges {
            receiver: Some(self.sender.subscribe()),
        }
    }

    /// How many listeners there are.
    pub fn listeners(&self) -> usize {
        self.sender.receiver_count()
    }
}

/// The receiving half, held by one reader of the log.
///
/// [`wait`](Self::wait) returns when the store signalled a commit since the
/// last wait, or when `at_most` has passed: a reader that polls on that
/// timeout stays correct even when a signal is lost.
#[derive(Debug)]
pub struct LogChanges {
    receiver: Option<watch::Receiver<u64>>,
}

impl LogChanges {
    /// A listener that is never woken: readers of such a store poll.
    pub fn polling_only() -> Self {
        LogChanges { receiver: None }
    }

    /// Whether this listener can be woken at all.
    pub fn is_live(&self) -> bool {
        self.receiver.is_some()
    }

    /// Waits for the next signal, for at most `at_most`. Returns `true` when
    /// woken by a signal, `false` on the timeout.
    pub async fn wait(&mut self, at_most: Duration) -> bool {
        let Some(receiver) = self.receiver.as_mut() else {
            tokio::time::sleep(at_most).await;
            return false;
        };
        match tokio::time::timeout(at_most, receiver.changed()).await {
            Ok(Ok(())) => true,
            Ok(Err(_)) => {
                // The store is gone: poll from now on.
                self.receiver = None;
                tokio::time::sleep(at_most).await;
                false
            }
            Err(_) => false,
        }
    }

    /// Forgets signals that came before now, so that the next
    /// [`wait`](Self::wait) waits for a new one. Call it before reading the
    /// log: a commit signalled after the read wakes the next wait.
    pub fn mark_seen(&mut self) {
        if let Some(receiver) = self.receiver.as_mut() {
            receiver.mark_unchanged();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_signal_wakes_and_a_missing_one_times_out() {
        let signal = LogSignal::new();
        let mut changes = signal.listen();
        assert!(!changes.wait(Duration::from_millis(5)).await);
        signal.notify();
        assert!(changes.wait(Duration::from_secs(5)).await);
        changes.mark_seen();
        assert!(!changes.wait(Duration::from_millis(5)).await);
        let mut polling = LogChanges::polling_only();
        assert!(!polling.is_live());
        assert!(!polling.wait(Duration::from_millis(1)).await);
    }
}
