//! The outbox's behaviour, written once and run on every store.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use mink::outbox::{Outbox, OutboxError, OutboxPayload, RelayOptions, Route};
use mink::store::OutboxStatus;
use mink::{Error, EventStore, ExpectedVersion, Mink, NewEvent};
use rand::{Rng, SeedableRng};
use serde_json::json;

use super::{
    Backend, Fail, PATIENCE, RECORDER, Recorder, all_id, append, drain, nothing_pending,
    quick_options, relay, run_until,
};

pub(super) async fn rows_commit_with_their_events_and_not_on_a_conflict(backend: Backend) {
    let store = backend.with_all_routed();
    let outbox = backend.outbox();
    let first = NewEvent::json("Numbered", &json!({ "n": 1 })).unwrap();
    let second = NewEvent::json("Numbered", &json!({ "n": 2 })).unwrap();
    let ids = [all_id(first.event_id), all_id(second.event_id)];
    store
        .append_to_stream("order-1", ExpectedVersion::NoStream, vec![first, second])
        .await
        .expect("append");
    for id in ids {
        assert_eq!(
            outbox.status(id).await.unwrap(),
            Some(OutboxStatus::Pending)
        );
    }

    // A conflicting append stores neither its events nor its messages.
    let late = NewEvent::json("Numbered", &json!({ "n": 3 })).unwrap();
    let late_id = all_id(late.event_id);
    let err = store
        .append_to_stream("order-1", ExpectedVersion::Exact(1), vec![late])
        .await
        .expect_err("a stale expected version");
    assert!(matches!(err, Error::ConcurrencyConflict { .. }), "{err}");
    assert_eq!(outbox.status(late_id).await.unwrap(), None);
    assert_eq!(outbox.counts().await.unwrap().pending, 2);
    assert_eq!(
        store
            .read_stream_forward("order-1", 1, 10)
            .await
            .unwrap()
            .len(),
        2
    );

    // The messages carry the event as stored, keyed by its stream.
    let claim = outbox.claim(10, Duration::from_secs(60)).await.unwrap();
    assert_eq!(claim.rows.len(), 1, "one message per key at a time");
    let row = &claim.rows[0];
    assert_eq!(row.id, ids[0]);
    assert_eq!(row.key, "order-1");
    assert_eq!(row.content_type, "application/json");
    let body: serde_json::Value = serde_json::from_slice(&row.payload).unwrap();
    assert_eq!(body["n"], 1);

    // Given back untried, it is claimable again at once.
    let again = outbox.claim(10, Duration::from_secs(60)).await.unwrap();
    assert!(again.rows.is_empty(), "claimed twice");
    outbox.release(claim.token, &[row.id]).await.unwrap();
    let again = outbox.claim(10, Duration::from_secs(60)).await.unwrap();
    assert_eq!(again.rows.len(), 1);
    assert_eq!(again.rows[0].id, ids[0]);
    assert_eq!(again.rows[0].attempts, 0);
}

pub(super) async fn a_failing_transform_fails_the_append_with_a_typed_error(backend: Backend) {
    let route = Route::for_type("Numbered")
        .named("picky")
        .to(RECORDER, "somewhere")
        .transform(|event| {
            let body: serde_json::Value = serde_json::from_slice(&event.payload)?;
            if body["n"] == 13 {
                return Err("thirteen is not sent".into());
            }
            let mut message = OutboxPayload::from_event(event);
            message.key = format!("n-{}", body["n"]);
            Ok(message)
        });
    let store = backend.with_routes(vec![route]);
    let outbox = backend.outbox();
    let good = NewEvent::json("Numbered", &json!({ "n": 12 })).unwrap();
    let bad = NewEvent::json("Numbered", &json!({ "n": 13 })).unwrap();
    let bad_id = bad.event_id;
    let err = store
        .append_to_stream("order-7", ExpectedVersion::Any, vec![good, bad])
        .await
        .expect_err("the transform fails");
    let Error::UnitOfWork(source) = &err else {
        panic!("expected a unit-of-work error, got {err}");
    };
    match source.downcast_ref::<OutboxError>() {
        Some(OutboxError::TransformFailed {
            route,
            event_id,
            stream,
            version,
            ..
        }) => {
            assert_eq!(route, "picky");
            assert_eq!(*event_id, bad_id);
            assert_eq!(stream, "order-7");
            assert_eq!(*version, 2);
        }
        other => panic!("expected TransformFailed, got {other:?}"),
    }
    assert!(
        store
            .read_stream_forward("order-7", 1, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(outbox.counts().await.unwrap().pending, 0);

    // The transform's key is used.
    append(&store, "order-8", 5).await;
    let claim = outbox.claim(10, Duration::from_secs(60)).await.unwrap();
    assert_eq!(claim.rows[0].key, "n-5");
}

pub(super) async fn per_key_order_holds_across_an_injected_failure(backend: Backend) {
    let store = backend.with_all_routed();
    let recorder = Recorder::new();
    let mut failing = None;
    for n in 1..=5 {
        for stream in ["a-1", "b-1", "c-1"] {
            let id = append(&store, stream, n).await;
            if stream == "a-1" && n == 2 {
                failing = Some(all_id(id));
            }
        }
    }
    let failing = failing.unwrap();
    recorder.fail_next(failing, Fail::Retry, 2);
    let relay = relay(&backend, &recorder, quick_options());
    let outbox = backend.outbox();
    run_until(&relay, "every message", async || {
        nothing_pending(&outbox).await
    })
    .await;

    let per = recorder.delivered_per_stream();
    for stream in ["a-1", "b-1", "c-1"] {
        assert_eq!(per[stream], vec![1, 2, 3, 4, 5], "order of {stream}");
    }
    assert_eq!(recorder.attempts_of(failing), vec![0, 1, 2]);
    let ids = recorder.delivered_ids();
    assert_eq!(ids.len(), 15, "each message delivered once");
}

pub(super) async fn two_relays_racing_keep_per_key_order(backend: Backend) {
    let store = backend.with_all_routed();
    const STREAMS: u64 = 6;
    const EVENTS: u64 = 12;
    let mut failing = Vec::new();
    for n in 1..=EVENTS {
        for s in 0..STREAMS {
            let id = append(&store, &format!("race-{s}"), n).await;
            if n % 5 == 0 {
                failing.push(all_id(id));
            }
        }
    }
    let recorder = Recorder::pausing(Duration::from_millis(2));
    for id in &failing {
        recorder.fail_next(*id, Fail::Retry, 1);
    }
    let options = RelayOptions {
        batch_size: 4,
        ..quick_options()
    };
    let outbox = backend.outbox();
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let relay = relay(&backend, &recorder, options.clone());
        let outbox = Arc::clone(&outbox);
        tasks.push(tokio::spawn(async move { drain(&relay, &outbox).await }));
    }
    for task in tasks {
        task.await.expect("a relay task");
    }
    let seen = recorder.seen.lock().unwrap();
    assert!(
        seen.overlaps.is_empty(),
        "keys sent twice at once: {:?}",
        seen.overlaps
    );
    drop(seen);
    let per = recorder.delivered_per_stream();
    for s in 0..STREAMS {
        assert_eq!(
            per[&format!("race-{s}")],
            (1..=EVENTS).collect::<Vec<_>>(),
            "order of race-{s}"
        );
    }
}

pub(super) async fn a_failed_message_waits_then_succeeds(backend: Backend) {
    let store = backend.with_all_routed();
    let recorder = Recorder::new();
    let id = all_id(append(&store, "wait-1", 1).await);
    recorder.fail_next(id, Fail::Retry, 2);
    let options = RelayOptions {
        backoff_min: Duration::from_millis(30),
        backoff_max: Duration::from_millis(30),
        ..quick_options()
    };
    let relay = relay(&backend, &recorder, options);
    let outbox = backend.outbox();

    let pass = relay.run_once().await.unwrap();
    assert_eq!((pass.claimed, pass.retried), (1, 1));
    // Waiting for its next attempt: not claimable at once.
    let claim = outbox.claim(10, Duration::from_secs(60)).await.unwrap();
    assert!(claim.rows.is_empty(), "claimed during its backoff");

    run_until(&relay, "the message", async || {
        outbox.status(id).await.unwrap() == Some(OutboxStatus::Delivered)
    })
    .await;
    assert_eq!(recorder.attempts_of(id), vec![0, 1, 2]);
    assert_eq!(recorder.delivered_ids(), vec![id]);
}

pub(super) async fn a_permanent_failure_is_dead_lettered_and_requeue_delivers_it(backend: Backend) {
    let store = backend.with_all_routed();
    let recorder = Recorder::new();
    let refused = all_id(append(&store, "dead-1", 1).await);
    let next = all_id(append(&store, "dead-1", 2).await);
    recorder.fail_always(refused, Fail::Permanent);
    let relay = relay(&backend, &recorder, quick_options());
    let outbox = backend.outbox();

    let pass = relay.run_once().await.unwrap();
    assert_eq!(pass.dead_lettered, 1);
    assert_eq!(
        outbox.status(refused).await.unwrap(),
        Some(OutboxStatus::DeadLettered)
    );
    let dead = outbox.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].id, refused);
    assert_eq!(dead[0].attempts, 1);
    assert!(
        dead[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("told to refuse")
    );

    // A dead letter no longer holds its key back.
    run_until(&relay, "the next message", async || {
        outbox.status(next).await.unwrap() == Some(OutboxStatus::Delivered)
    })
    .await;

    recorder.heal(refused);
    assert!(outbox.requeue(refused).await.unwrap());
    assert!(
        !outbox.requeue(refused).await.unwrap(),
        "no longer a dead letter"
    );
    run_until(&relay, "the requeued message", async || {
        outbox.status(refused).await.unwrap() == Some(OutboxStatus::Delivered)
    })
    .await;
    assert!(outbox.dead_letters(10).await.unwrap().is_empty());
    assert_eq!(recorder.delivered_ids(), vec![next, refused]);
}

pub(super) async fn running_out_of_attempts_dead_letters(backend: Backend) {
    let store = backend.with_all_routed();
    let recorder = Recorder::new();
    let id = all_id(append(&store, "tired-1", 1).await);
    recorder.fail_always(id, Fail::Retry);
    let options = RelayOptions {
        max_attempts: 3,
        ..quick_options()
    };
    let relay = relay(&backend, &recorder, options);
    let outbox = backend.outbox();
    run_until(&relay, "the dead letter", async || {
        outbox.status(id).await.unwrap() == Some(OutboxStatus::DeadLettered)
    })
    .await;
    assert_eq!(recorder.attempts_of(id), vec![0, 1, 2]);
    let dead = outbox.dead_letters(10).await.unwrap();
    assert_eq!(dead[0].attempts, 3);
    assert!(
        dead[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("gave up after 3 attempts")
    );
    assert!(recorder.delivered_ids().is_empty());
}

pub(super) async fn an_expired_claim_is_reclaimed(backend: Backend) {
    let store = backend.with_all_routed();
    let recorder = Recorder::new();
    let id = all_id(append(&store, "dying-1", 1).await);
    let outbox = backend.outbox();
    // A relay claims the message, then dies before recording anything.
    let dead_claim = outbox.claim(10, Duration::from_millis(200)).await.unwrap();
    assert_eq!(dead_claim.rows.len(), 1);

    let relay = relay(&backend, &recorder, quick_options());
    let pass = relay.run_once().await.unwrap();
    assert_eq!(pass.claimed, 0, "claimed while another claim lasts");
    run_until(&relay, "the reclaimed message", async || {
        outbox.status(id).await.unwrap() == Some(OutboxStatus::Delivered)
    })
    .await;
    assert_eq!(recorder.delivered_ids(), vec![id]);
    // The dead relay's token records nothing any more.
    assert_eq!(
        outbox
            .mark_delivered(dead_claim.token, &[id])
            .await
            .unwrap(),
        0
    );
    assert!(
        !outbox
            .dead_letter(dead_claim.token, id, "late")
            .await
            .unwrap()
    );
    assert_eq!(
        outbox.status(id).await.unwrap(),
        Some(OutboxStatus::Delivered)
    );
}

pub(super) async fn delivered_messages_are_purged(backend: Backend) {
    let store = backend.with_all_routed();
    let recorder = Recorder::new();
    let delivered = all_id(append(&store, "purge-1", 1).await);
    let relay = relay(&backend, &recorder, quick_options());
    let outbox = backend.outbox();
    run_until(&relay, "the message", async || {
        nothing_pending(&outbox).await
    })
    .await;
    let waiting = all_id(append(&store, "purge-2", 1).await);

    assert_eq!(
        outbox
            .purge_delivered(Duration::from_secs(3600))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        outbox.status(delivered).await.unwrap(),
        Some(OutboxStatus::Delivered)
    );
    assert_eq!(outbox.purge_delivered(Duration::ZERO).await.unwrap(), 1);
    assert_eq!(outbox.status(delivered).await.unwrap(), None);
    assert_eq!(
        outbox.status(waiting).await.unwrap(),
        Some(OutboxStatus::Pending)
    );
}

pub(super) async fn a_failure_in_a_batch_does_not_resend_its_neighbours(backend: Backend) {
    let store = backend.with_all_routed();
    let recorder = Recorder::new();
    let mut ids = Vec::new();
    for s in 0..8 {
        ids.push(all_id(append(&store, &format!("batch-{s}"), 1).await));
    }
    recorder.fail_next(ids[3], Fail::Retry, 1);
    let relay = relay(&backend, &recorder, quick_options());
    let pass = relay.run_once().await.unwrap();
    assert_eq!((pass.claimed, pass.delivered, pass.retried), (8, 7, 1));
    let outbox = backend.outbox();
    run_until(&relay, "the failed message", async || {
        nothing_pending(&outbox).await
    })
    .await;
    let delivered = recorder.delivered_ids();
    assert_eq!(delivered.len(), 8, "no neighbour sent twice: {delivered:?}");
    for id in &ids {
        assert_eq!(
            recorder.attempts_of(*id).len(),
            if *id == ids[3] { 2 } else { 1 }
        );
    }
}

pub(super) async fn per_key_order_matches_a_model_under_random_failures(backend: Backend) {
    let store = backend.with_all_routed();
    let recorder = Recorder::new();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x6f75_7462_6f78);
    // The model: what each key must receive, in order.
    let mut model: HashMap<String, Vec<u64>> = HashMap::new();
    for n in 0..60u64 {
        let stream = format!("model-{}", rng.random_range(0..4));
        let id = all_id(append(&store, &stream, n).await);
        model.entry(stream).or_default().push(n);
        if rng.random_bool(0.25) {
            recorder.fail_next(id, Fail::Retry, rng.random_range(1..3));
        }
    }
    let options = RelayOptions {
        batch_size: 3,
        max_attempts: 10,
        ..quick_options()
    };
    let outbox = backend.outbox();
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let relay = relay(&backend, &recorder, options.clone());
        let outbox = Arc::clone(&outbox);
        tasks.push(tokio::spawn(async move { drain(&relay, &outbox).await }));
    }
    for task in tasks {
        task.await.expect("a relay task");
    }
    assert_eq!(recorder.delivered_per_stream(), model);
    assert_eq!(outbox.counts().await.unwrap().dead_lettered, 0);
}

pub(super) async fn the_application_relay_wakes_on_commit(backend: Backend) {
    let recorder = Recorder::new();
    // Polling once an hour: only the commit's wake-up delivers in time.
    let options = RelayOptions {
        poll_interval: Duration::from_secs(3600),
        ..quick_options()
    };
    let app = Mink::builder()
        .shared_store(Arc::clone(&backend.store))
        .outbox(
            Outbox::new()
                .route(
                    Route::for_type("Numbered")
                        .named("numbered")
                        .to(RECORDER, "x"),
                )
                .shared_publisher(Arc::clone(&recorder) as Arc<dyn mink::outbox::Publisher>)
                .options(options),
        )
        .build()
        .await
        .expect("an application");
    assert!(app.outbox_relay().expect("a relay").is_running());
    // Let the relay go idle first.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let store: Arc<dyn EventStore> = Arc::clone(app.store());
    let id = mink::outbox::message_id(append(&store, "wake-1", 1).await, "numbered");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while recorder.delivered_ids() != vec![id] {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the relay was not woken"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    app.shutdown().await;
    assert!(!app.outbox_relay().unwrap().is_running());
}
