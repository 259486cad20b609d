//! Work inside the append transaction, and the input every adapter refuses
//! alike: repeated event ids and NUL characters. Reading one's own write in
//! the global log by waiting for its position.

use std::sync::Mutex;
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt};
use mink::{
    AppendResult, BoxError, Error, EventMetadata, EventStore, ExpectedVersion, NewEvent, Position,
    ReadAll, StoreTransaction, StreamAppend, UnitOfWork,
};

use super::harness::Harness;
use super::support::{append, assert_empty_log, numbered, whole_log, whole_stream};

/// Records what it saw; fails when told to.
struct Probe {
    fail: bool,
    seen: Mutex<Vec<(String, u64, Position)>>,
    backend: Mutex<Option<&'static str>>,
}

impl Probe {
    fn new(fail: bool) -> Self {
        Probe {
            fail,
            seen: Mutex::new(Vec::new()),
            backend: Mutex::new(None),
        }
    }
}

impl UnitOfWork for Probe {
    fn run<'a>(
        &'a self,
        tx: &'a mut dyn StoreTransaction,
        written: &'a AppendResult,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        async move {
            *self.backend.lock().unwrap() = Some(tx.backend());
            let mut seen = self.seen.lock().unwrap();
            for s in &written.streams {
                for e in &s.events {
                    seen.push((s.stream_id.clone(), e.version, e.position));
                }
            }
            if self.fail {
                return Err("the read model refused the events".into());
            }
            Ok(())
        }
        .boxed()
    }
}

/// A unit of work runs inside the append: it sees every written event's
/// version and position, and what it saw is what the store then shows.
pub async fn unit_of_work_sees_what_the_append_wrote(harness: Harness) {
    let store = harness.store();
    append(
        &*store,
        "uow-a",
        ExpectedVersion::NoStream,
        numbered("Seed", 1),
    )
    .await;
    let probe = Probe::new(false);
    let result = store
        .append_with(
            vec![
                StreamAppend::new("uow-a", ExpectedVersion::Exact(1), numbered("A", 2)),
                StreamAppend::new("uow-b", ExpectedVersion::NoStream, numbered("B", 1)),
            ],
            &probe,
        )
        .await
        .expect("append with work");
    assert!(probe.backend.lock().unwrap().is_some(), "the work ran");
    let seen = probe.seen.lock().unwrap().clone();
    let stored: Vec<(String, u64, Position)> = whole_log(&*store)
        .await
        .into_iter()
        .skip(1)
        .map(|e| (e.stream_id, e.version, e.position))
        .collect();
    assert_eq!(seen, stored, "the work saw what the log now holds");
    assert_eq!(result.events().count(), 3);
}

/// A failing unit of work rolls the whole append back: no event of any
/// stream is stored, and the versions stay free.
pub async fn failed_unit_of_work_rolls_back_the_events(harness: Harness) {
    let store = harness.store();
    let probe = Probe::new(true);
    let refused = store
        .append_with(
            vec![
                StreamAppend::new("doom-a", ExpectedVersion::NoStream, numbered("A", 2)),
                StreamAppend::new("doom-b", ExpectedVersion::Any, numbered("B", 1)),
            ],
            &probe,
        )
        .await;
    assert!(matches!(refused, Err(Error::UnitOfWork(_))), "{refused:?}");
    assert_eq!(
        probe.seen.lock().unwrap().len(),
        3,
        "the work saw the events"
    );
    assert_empty_log(&*store).await;
    assert!(store.stream_info("doom-a").await.unwrap().is_none());
    let again = append(
        &*store,
        "doom-a",
        ExpectedVersion::NoStream,
        numbered("A", 1),
    )
    .await;
    assert_eq!(again.last_version_of("doom-a"), Some(1));
}

/// An event id already stored, or given twice in one call, is refused with
/// the same typed error on every adapter, and nothing of the call is stored.
pub async fn duplicate_event_ids_are_refused(harness: Harness) {
    let store = harness.store();
    let first = NewEvent::new("Once", b"{}".to_vec());
    append(
        &*store,
        "dup-1",
        ExpectedVersion::NoStream,
        vec![first.clone()],
    )
    .await;
    let before = whole_log(&*store).await;

    let again = store
        .append_to_streams(vec![
            StreamAppend::new("dup-2", ExpectedVersion::Any, numbered("Fine", 1)),
            StreamAppend::new("dup-3", ExpectedVersion::Any, vec![first.clone()]),
        ])
        .await;
    match again {
        Err(Error::DuplicateEventId { event_id }) => assert_eq!(event_id, first.event_id),
        other => panic!("a stored id must be refused, got {other:?}"),
    }
    let twice = NewEvent::new("Twice", b"{}".to_vec());
    let refused = store
        .append_to_stream(
            "dup-4",
            ExpectedVersion::Any,
            vec![twice.clone(), twice.clone()],
        )
        .await;
    match refused {
        Err(Error::DuplicateEventId { event_id }) => assert_eq!(event_id, twice.event_id),
        other => panic!("an id given twice must be refused, got {other:?}"),
    }
    assert_eq!(
        whole_log(&*store).await,
        before,
        "nothing of either call was stored"
    );
}

/// NUL characters in stream ids, event types and metadata are refused with
/// the same typed error on every adapter, naming the field.
pub async fn nul_characters_are_refused_alike(harness: Harness) {
    let store = harness.store();
    let meta = EventMetadata::default().with_custom("note", "a\0b");
    let cases = [
        (
            "nul\0stream",
            NewEvent::new("Fine", b"{}".to_vec()),
            "stream_id",
        ),
        (
            "nul-1",
            NewEvent::new("Bad\0Type", b"{}".to_vec()),
            "event_type",
        ),
        (
            "nul-2",
            NewEvent::new("Fine", b"{}".to_vec()).with_metadata(meta),
            "metadata",
        ),
    ];
    for (stream, event, field) in cases {
        match store
            .append_to_stream(stream, ExpectedVersion::Any, vec![event])
            .await
        {
            Err(Error::InvalidInput { field: f, .. }) => assert_eq!(f, field, "{stream:?}"),
            other => panic!("{stream:?}: expected invalid {field}, got {other:?}"),
        }
    }
    assert_empty_log(&*store).await;
}

/// After an append, waiting for its last position makes it readable in the
/// global log; a position nobody wrote is reported as not visible.
pub async fn own_write_becomes_visible(harness: Harness) {
    let store = harness.store();
    let result = append(
        &*store,
        "mine-1",
        ExpectedVersion::NoStream,
        numbered("E", 2),
    )
    .await;
    let last = result.last_position().expect("events were written");
    store
        .wait_until_visible(last, Duration::from_secs(30))
        .await
        .expect("visible");
    let log = store
        .read_all_forward(ReadAll::after(Position::START, 10))
        .await
        .unwrap();
    assert!(log.iter().any(|e| e.position == last), "{log:?}");
    assert_eq!(whole_stream(&*store, "mine-1").await.len(), 2);
    let never = Position {
        commit: u64::MAX / 2,
        event: u64::MAX / 2,
    };
    match store
        .wait_until_visible(never, Duration::from_millis(30))
        .await
    {
        Err(Error::NotVisible { position, .. }) => assert_eq!(position, never),
        other => panic!("expected NotVisible, got {other:?}"),
    }
}

/// Appends with units of work race plain appends on one stream: every call
/// lands once, versions stay gap-free, and what each call's result reports
/// (versions and positions) is what the log holds.
pub async fn racing_units_of_work_land_once(harness: Harness) {
    const TASKS: usize = 8;
    let store = harness.store();
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let store = std::sync::Arc::clone(&store);
            tokio::spawn(async move {
                let appends = vec![StreamAppend::new(
                    "race-uow",
                    ExpectedVersion::Any,
                    numbered(&format!("T{task}"), 2),
                )];
                if task % 2 == 0 {
                    store.append_with(appends, &Probe::new(false)).await
                } else {
                    store.append_to_streams(appends).await
                }
            })
        })
        .collect();
    let mut reported = Vec::new();
    for t in tasks {
        let result = t.await.expect("task").expect("every append lands");
        reported.extend(result.events().map(|e| (e.event_id, e.version, e.position)));
    }
    let stored: Vec<_> = whole_stream(&*store, "race-uow").await;
    let versions: Vec<u64> = stored.iter().map(|e| e.version).collect();
    assert_eq!(versions, (1..=2 * TASKS as u64).collect::<Vec<_>>());
    reported.sort_by_key(|r| r.1);
    let held: Vec<_> = stored
        .iter()
        .map(|e| (e.event_id, e.version, e.position))
        .collect();
    assert_eq!(reported, held, "results report what the log holds");
}
