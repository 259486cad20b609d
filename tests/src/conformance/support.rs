//! Helpers the cases share: events to write, whole reads of a stream or the
//! log, and assertions on conflicts, refusals and an empty log.

use mink::{
    AppendResult, Error, EventStore, ExpectedVersion, NewEvent, Position, ReadAll, ReadFilter,
    RecordedEvent,
};
use serde_json::{Value, json};

/// An event of type `event_type` whose payload is `payload` as JSON.
pub(super) fn event(event_type: &str, payload: Value) -> NewEvent {
    NewEvent::new(event_type, payload.to_string().into_bytes())
}

/// `n` events of type `event_type` with payloads `{"n": 1}`, `{"n": 2}`, …
pub(super) fn numbered(event_type: &str, n: u64) -> Vec<NewEvent> {
    (1..=n)
        .map(|i| event(event_type, json!({ "n": i })))
        .collect()
}

pub(super) fn payload_json(e: &RecordedEvent) -> Value {
    match serde_json::from_slice(&e.payload) {
        Ok(value) => value,
        Err(err) => panic!(
            "event {} of `{}` holds no JSON: {err}",
            e.version, e.stream_id
        ),
    }
}

/// Every event of the log, read in pages of 7 to exercise paging.
pub(super) async fn whole_log(store: &dyn EventStore) -> Vec<RecordedEvent> {
    let mut all = Vec::new();
    let mut after = Position::START;
    loop {
        let page = store
            .read_all_forward(ReadAll::after(after, 7))
            .await
            .expect("read_all_forward");
        assert!(
            page.len() <= 7,
            "a page of limit 7 held {} events",
            page.len()
        );
        let Some(last) = page.last() else {
            return all;
        };
        after = last.position;
        all.extend(page);
    }
}

pub(super) async fn whole_stream(store: &dyn EventStore, stream_id: &str) -> Vec<RecordedEvent> {
    store
        .read_stream_forward(stream_id, 1, usize::MAX)
        .await
        .expect("read_stream_forward")
}

pub(super) async fn filtered(store: &dyn EventStore, filter: ReadFilter) -> Vec<(String, u64)> {
    let request = ReadAll::after(Position::START, usize::MAX).filter(filter);
    let events = store
        .read_all_forward(request)
        .await
        .expect("filtered read");
    events
        .into_iter()
        .map(|e| (e.stream_id, e.version))
        .collect()
}

pub(super) fn ids(events: &[(&str, u64)]) -> Vec<(String, u64)> {
    events.iter().map(|(s, v)| ((*s).to_owned(), *v)).collect()
}

/// Asserts `result` is a conflict on `stream` with these versions.
#[track_caller]
pub(super) fn assert_conflict<T: std::fmt::Debug>(
    result: mink::Result<T>,
    stream: &str,
    expected: ExpectedVersion,
    actual: u64,
) {
    match result {
        Err(Error::ConcurrencyConflict {
            stream: s,
            expected: e,
            actual: a,
        }) => assert_eq!(
            (s.as_str(), e, a),
            (stream, expected, actual),
            "conflict fields"
        ),
        other => {
            panic!("expected a conflict on `{stream}` ({expected}, actual {actual}), got {other:?}")
        }
    }
}

/// Asserts `result` refuses input `field`.
#[track_caller]
pub(super) fn assert_invalid<T: std::fmt::Debug>(result: mink::Result<T>, field: &str) {
    match result {
        Err(Error::InvalidInput { field: f, .. }) => assert_eq!(f, field, "refused field"),
        other => panic!("expected invalid `{field}`, got {other:?}"),
    }
}

/// Asserts the log holds nothing at all.
pub(super) async fn assert_empty_log(store: &dyn EventStore) {
    assert_eq!(
        whole_log(store).await,
        Vec::new(),
        "the log should be empty"
    );
    assert_eq!(
        store.head_position().await.expect("head_position"),
        Position::START
    );
}

pub(super) async fn append(
    store: &dyn EventStore,
    stream_id: &str,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
) -> AppendResult {
    match store.append_to_stream(stream_id, expected, events).await {
        Ok(result) => result,
        Err(e) => panic!("append to `{stream_id}` ({expected}) failed: {e}"),
    }
}

#[track_caller]
pub(super) fn assert_strictly_increasing(log: &[RecordedEvent]) {
    for pair in log.windows(2) {
        assert!(
            pair[0].position < pair[1].position,
            "positions not increasing: {} then {}",
            pair[0].position,
            pair[1].position
        );
    }
}

/// An append's outcome as (stream, first version, last version), per stream
/// in request order; the written events are checked by
/// [`assert_written_events`].
pub fn outcome_shape(result: &mink::AppendResult) -> Vec<(String, u64, u64)> {
    result
        .streams
        .iter()
        .map(|s| (s.stream_id.clone(), s.first_version, s.last_version))
        .collect()
}

/// Checks that each stream's written events are the ids that were sent,
/// numbered from its first version, at positions that grow.
pub fn assert_written_events(result: &mink::AppendResult, appends: &[mink::StreamAppend]) {
    for (stream, sent) in result.streams.iter().zip(appends) {
        let ids: Vec<_> = stream.events.iter().map(|e| e.event_id).collect();
        let sent_ids: Vec<_> = sent.events.iter().map(|e| e.event_id).collect();
        assert_eq!(ids, sent_ids, "written ids of `{}`", stream.stream_id);
        let versions: Vec<u64> = stream.events.iter().map(|e| e.version).collect();
        let want: Vec<u64> = (stream.first_version..=stream.last_version)
            .take(sent_ids.len())
            .collect();
        assert_eq!(versions, want, "written versions of `{}`", stream.stream_id);
    }
    let positions: Vec<_> = result.events().map(|e| e.position).collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "written positions grow: {positions:?}"
    );
}
