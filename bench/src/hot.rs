//! W3: many writers on one hot stream, each dispatching a command (load,
//! decide, append) and retrying on a concurrency conflict.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use mink::bus::RetryOnConflictLayer;
use mink::prelude::*;

use crate::domain::AddItem;
use crate::measure::{Done, Op, Plan, Stats, measure};

/// The hot stream is replaced by a fresh one once it holds this many events,
/// so that the cost of loading it (there are no snapshots yet) stays
/// bounded and the figure measures contention, not stream length.
pub const HOT_STREAM_LENGTH: u64 = 500;

/// W3: `writers` writers dispatch [`AddItem`] to the same cart; a dispatch
/// refused with a concurrency conflict is retried until it succeeds. One
/// operation is one successful dispatch, retries included.
///
/// With `backoff`, a writer waits the conflict-retry layer's jittered,
/// growing delay before each retry (`RetryOnConflictLayer::backoff`);
/// without, it retries at once.
pub async fn hot_stream(
    app: &Mink,
    plan: &Plan,
    writers: usize,
    backoff: bool,
) -> Result<Stats, String> {
    let generation = Arc::new(AtomicU64::new(0));
    let app = app.clone();
    let retry = RetryOnConflictLayer::new();
    let op: Op = Arc::new(move |_, seq| {
        let (app, generation) = (app.clone(), Arc::clone(&generation));
        Box::pin(async move {
            let mut conflicts = 0;
            loop {
                let current = generation.load(Ordering::Relaxed);
                let command = AddItem {
                    cart_id: format!("hot{current}"),
                    n: seq,
                };
                match app.dispatch(command).await {
                    Ok(done) => {
                        if done.version >= Some(HOT_STREAM_LENGTH) {
                            // Only one writer moves the generation on.
                            let _ = generation.compare_exchange(
                                current,
                                current + 1,
                                Ordering::Relaxed,
                                Ordering::Relaxed,
                            );
                        }
                        return Ok(Done {
                            events: 1,
                            conflicts,
                        });
                    }
                    Err(e) if e.is_concurrency_conflict() => {
                        if backoff {
                            let failed = u32::try_from(conflicts).unwrap_or(u32::MAX);
                            tokio::time::sleep(retry.backoff(failed)).await;
                        }
                        conflicts += 1;
                    }
                    Err(e) => return Err(format!("W3 dispatch: {e}")),
                }
            }
        })
    });
    measure(plan, writers, op).await
}
