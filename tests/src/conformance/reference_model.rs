//! The reference model: random sequences of appends against the simplest
//! correct store; every outcome, conflict and final state must match.

use std::collections::BTreeMap;

/// One stream's (id, first version, last version) after an append.
type Outcome = (String, u64, u64);

use mink::{Error, EventStore, ExpectedVersion, Limits, StreamAppend};

use super::harness::Harness;
use super::support::{assert_written_events, numbered, outcome_shape, whole_log, whole_stream};

/// A tiny deterministic generator (SplitMix64), so a failing seed replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The simplest correct store: streams of event ids and one global list.
#[derive(Default)]
struct Model {
    streams: BTreeMap<String, Vec<uuid::Uuid>>,
    log: Vec<uuid::Uuid>,
}

impl Model {
    fn version(&self, stream: &str) -> u64 {
        self.streams.get(stream).map_or(0, |s| s.len() as u64)
    }

    /// The conflicts `appends` would raise (stream, actual), or the result.
    fn append(&mut self, appends: &[StreamAppend]) -> Result<Vec<Outcome>, Vec<(String, u64)>> {
        let conflicts: Vec<_> = appends
            .iter()
            .filter(|a| !a.expected.accepts(self.version(&a.stream_id)))
            .map(|a| (a.stream_id.clone(), self.version(&a.stream_id)))
            .collect();
        if !conflicts.is_empty() {
            return Err(conflicts);
        }
        let mut result = Vec::new();
        for a in appends {
            let current = self.version(&a.stream_id);
            let ids: Vec<_> = a.events.iter().map(|e| e.event_id).collect();
            self.log.extend(&ids);
            if !ids.is_empty() {
                self.streams
                    .entry(a.stream_id.clone())
                    .or_default()
                    .extend(&ids);
            }
            let written = a.events.len() as u64;
            let first = if written > 0 { current + 1 } else { current };
            result.push((a.stream_id.clone(), first, current + written));
        }
        Ok(result)
    }
}

fn random_expected(rng: &mut Rng, version: u64) -> ExpectedVersion {
    match rng.below(6) {
        0 => ExpectedVersion::Any,
        1 => ExpectedVersion::NoStream,
        2 => ExpectedVersion::StreamExists,
        // One below, right, or one above.
        _ => ExpectedVersion::Exact((version + rng.below(3)).saturating_sub(1)),
    }
}

/// Random sequences of appends (random streams, expected versions, batch
/// sizes, single- and multi-stream calls) against a Vec-based model: every
/// outcome, conflict and final state must match.
pub async fn random_appends_match_reference_model(harness: Harness) {
    const STREAMS: [&str; 4] = ["model-a", "model-b", "other-c", "model"];
    for seed in 1..=6u64 {
        let store = if seed == 1 {
            harness.store()
        } else {
            harness.fresh_store(Limits::default()).await
        };
        let mut rng = Rng(seed);
        let mut model = Model::default();
        for step in 0..60 {
            let streams = 1 + usize::from(rng.below(4) == 0);
            let mut appends: Vec<StreamAppend> = Vec::new();
            while appends.len() < streams {
                let stream = STREAMS[rng.below(STREAMS.len() as u64) as usize];
                if appends.iter().any(|a| a.stream_id == stream) {
                    continue;
                }
                let expected = random_expected(&mut rng, model.version(stream));
                let events = numbered(&format!("Step{step}"), rng.below(4));
                appends.push(StreamAppend::new(stream, expected, events));
            }
            let context = format!("seed {seed}, step {step}: {appends:?}");
            let want = model.append(&appends);
            match (store.append_to_streams(appends.clone()).await, want) {
                (Ok(got), Ok(want)) => {
                    assert_eq!(outcome_shape(&got), want, "{context}");
                    assert_written_events(&got, &appends);
                }
                (Err(Error::ConcurrencyConflict { stream, actual, .. }), Err(conflicts)) => {
                    assert!(
                        conflicts.contains(&(stream.clone(), actual)),
                        "{context}: conflict on `{stream}` at {actual}, model expected one of {conflicts:?}"
                    )
                }
                (got, want) => panic!("{context}: store gave {got:?}, model {want:?}"),
            }
        }
        let log: Vec<_> = whole_log(&*store)
            .await
            .iter()
            .map(|e| e.event_id)
            .collect();
        assert_eq!(log, model.log, "seed {seed}: the global log");
        for stream in STREAMS {
            let stored: Vec<_> = whole_stream(&*store, stream)
                .await
                .iter()
                .map(|e| e.event_id)
                .collect();
            assert_eq!(
                stored,
                model.streams.get(stream).cloned().unwrap_or_default(),
                "seed {seed}: `{stream}`"
            );
            let info = store
                .stream_info(stream)
                .await
                .expect("info")
                .map(|i| i.version);
            assert_eq!(
                info.unwrap_or(0),
                model.version(stream),
                "seed {seed}: info of `{stream}`"
            );
        }
    }
}
