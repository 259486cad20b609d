//! The saga scenarios, each run on every store (see `mod.rs`).

use mink::saga::{ManualClock, Saga};
use mink::store::{
    SagaCommandKind, SagaCommandStatus, SagaCommandUpdate, SagaQuery, SagaRecord, SagaStatus,
    SagaWrite,
};
use mink::{Error, Mink, Position};
use mink_tests::saga_domain::{
    Audit, Checkout, OrderPlaced, OrderShipped, PaymentLinked, PaymentReceived, allow,
};
use uuid::Uuid;

use super::{Target, eventually, sagas_of, wait_for_status};

fn placed(order: &str, steps: &[&str], timeout_secs: Option<u64>) -> OrderPlaced {
    OrderPlaced {
        order_id: order.to_owned(),
        steps: steps.iter().map(|s| (*s).to_owned()).collect(),
        timeout_secs,
    }
}

fn shipped(order: &str, cancel_timeout: bool) -> OrderShipped {
    OrderShipped {
        order_id: order.to_owned(),
        cancel_timeout,
    }
}

/// An id no other scenario (on any store) uses.
fn unique(prefix: &str) -> String {
    format!("{prefix}{}", Uuid::now_v7().simple())
}

/// The checkout of `order`, once it exists.
async fn checkout_of(app: &Mink, order: &str) -> SagaRecord {
    let started = std::time::Instant::now();
    loop {
        let found = sagas_of(app, Checkout::NAME).await.into_iter().find(|s| {
            serde_json::from_slice::<serde_json::Value>(&s.state)
                .is_ok_and(|v| v["order_id"] == order)
        });
        if let Some(found) = found {
            return found;
        }
        assert!(
            started.elapsed() < super::PATIENCE,
            "timed out waiting for the checkout of {order}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// Waits until the ledger of `account` reads `expected`.
async fn ledger_reads(t: &Target, account: &str, expected: &[&str]) {
    let started = std::time::Instant::now();
    loop {
        let last = t.ledger(account).await;
        if last == expected {
            return;
        }
        assert!(
            started.elapsed() < super::PATIENCE && last.len() <= expected.len(),
            "the ledger of {account} reads {last:?}, expected {expected:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// Waits until saga `id` has no pending command.
async fn drained(app: &Mink, id: Uuid) {
    eventually("the saga's commands to be sent", || {
        let app = app.clone();
        async move {
            let details = app.sagas().show(id).await.unwrap().unwrap();
            details.pending_commands().count() == 0
        }
    })
    .await;
}

pub(super) async fn exactly_once_across_restarts(t: Target) {
    let clock = ManualClock::default();
    let app = t.app(&clock).await;
    t.append(
        "order-o1",
        "sagas.OrderPlaced",
        &placed("o1", &["a", "b"], None),
    )
    .await;
    ledger_reads(&t, "o1", &["a", "b"]).await;
    ledger_reads(&t, "audit-o1", &["audited-o1"]).await;
    let saga = checkout_of(&app, "o1").await;
    drained(&app, saga.id).await;
    app.shutdown().await;

    // The cursor holds: a new application handles only what came after.
    let checkpoints = t.store.projection_store().unwrap();
    let cursor = checkpoints
        .record("saga:sagas.checkout")
        .await
        .unwrap()
        .expect("the checkout's cursor");
    assert!(cursor.checkpoint > Position::START);

    let app = t.app(&clock).await;
    t.append("order-o1", "sagas.OrderShipped", &shipped("o1", false))
        .await;
    let done = wait_for_status(&app, Checkout::NAME, SagaStatus::Completed).await;
    assert_eq!(done.id, saga.id);
    ledger_reads(&t, "o1", &["a", "b", "shipped-o1"]).await;
    drained(&app, saga.id).await;
    // Nothing was handled or sent twice across the restart.
    assert_eq!(t.ledger("o1").await, ["a", "b", "shipped-o1"]);
    assert_eq!(t.ledger("audit-o1").await, ["audited-o1"]);
    assert_eq!(sagas_of(&app, Checkout::NAME).await.len(), 1);
    assert_eq!(sagas_of(&app, Audit::NAME).await.len(), 1);
    let details = app.sagas().show(saga.id).await.unwrap().unwrap();
    let state: serde_json::Value = serde_json::from_slice(&details.record.state).unwrap();
    assert_eq!(state["handled"], 2, "each event handled once");
    app.shutdown().await;
}

pub(super) async fn a_resend_after_a_crash_runs_nothing_twice(t: Target) {
    let clock = ManualClock::default();
    let app = t.app(&clock).await;
    t.append("order-o2", "sagas.OrderPlaced", &placed("o2", &["x"], None))
        .await;
    ledger_reads(&t, "o2", &["x"]).await;
    let saga = checkout_of(&app, "o2").await;
    drained(&app, saga.id).await;
    app.sagas().stop().await;

    // A crash after the command ran but before it was marked sent: the
    // row is still pending, so the next manager sends it again.
    let store = t.store.saga_store().unwrap();
    let command = store.commands(saga.id).await.unwrap().remove(0);
    assert_eq!(command.status, SagaCommandStatus::Sent);
    store
        .write(&SagaWrite {
            command_updates: vec![SagaCommandUpdate {
                message_id: command.message_id,
                status: SagaCommandStatus::Pending,
                attempts: 0,
                next_attempt_at: command.created_at,
                last_error: None,
                result: None,
            }],
            ..SagaWrite::default()
        })
        .await
        .unwrap();
    app.sagas().start();
    drained(&app, saga.id).await;
    let again = store.commands(saga.id).await.unwrap().remove(0);
    assert_eq!(again.status, SagaCommandStatus::Sent);
    assert_eq!(again.result, command.result, "the stored result came back");
    assert_eq!(t.ledger("o2").await, ["x"], "the re-send ran nothing");
    app.shutdown().await;
}

pub(super) async fn associations_are_scoped_by_saga_type(t: Target) {
    let clock = ManualClock::default();
    let app = t.app(&clock).await;
    t.append("order-o3", "sagas.OrderPlaced", &placed("o3", &[], None))
        .await;
    ledger_reads(&t, "audit-o3", &["audited-o3"]).await;
    let first = checkout_of(&app, "o3").await;
    assert_eq!(sagas_of(&app, Audit::NAME).await.len(), 1);

    t.append("order-o3", "sagas.OrderShipped", &shipped("o3", false))
        .await;
    ledger_reads(&t, "o3", &["shipped-o3"]).await;
    wait_for_status(&app, Checkout::NAME, SagaStatus::Completed).await;

    // The same correlation again: the completed checkout freed it, so a
    // new checkout starts; the audit saga, still running, gets it.
    t.append(
        "order-o3",
        "sagas.OrderPlaced",
        &placed("o3", &["again"], None),
    )
    .await;
    ledger_reads(&t, "o3", &["shipped-o3", "again"]).await;
    ledger_reads(&t, "audit-o3", &["audited-o3", "audited-o3"]).await;
    let checkouts = sagas_of(&app, Checkout::NAME).await;
    assert_eq!(checkouts.len(), 2);
    let second = checkouts.iter().find(|s| s.id != first.id).unwrap();
    assert_eq!(second.status, SagaStatus::Running);
    assert_eq!(sagas_of(&app, Audit::NAME).await.len(), 1);
    let store = t.store.saga_store().unwrap();
    assert_eq!(
        store
            .find(Checkout::NAME, "order_id", "o3")
            .await
            .unwrap()
            .map(|s| s.id),
        Some(second.id)
    );
    let audit = store.find(Audit::NAME, "order_id", "o3").await.unwrap();
    assert!(audit.is_some_and(|a| a.id != second.id && a.saga_type == Audit::NAME));
    app.shutdown().await;
}

pub(super) async fn several_associations_find_one_saga(t: Target) {
    let clock = ManualClock::default();
    let app = t.app(&clock).await;
    t.append("order-o4", "sagas.OrderPlaced", &placed("o4", &[], None))
        .await;
    t.append(
        "order-o4",
        "sagas.PaymentLinked",
        &PaymentLinked {
            order_id: "o4".into(),
            payment_id: "p4".into(),
        },
    )
    .await;
    t.append(
        "payment-p4",
        "sagas.PaymentReceived",
        &PaymentReceived {
            payment_id: "p4".into(),
        },
    )
    .await;
    ledger_reads(&t, "o4", &["paid-p4"]).await;
    let saga = checkout_of(&app, "o4").await;
    assert_eq!(sagas_of(&app, Checkout::NAME).await.len(), 1);
    let details = app.sagas().show(saga.id).await.unwrap().unwrap();
    let mut keys: Vec<(String, String, bool)> = details
        .associations
        .iter()
        .map(|a| (a.key.clone(), a.value.clone(), a.active))
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            ("order_id".to_owned(), "o4".to_owned(), true),
            ("payment_id".to_owned(), "p4".to_owned(), true)
        ]
    );
    app.shutdown().await;
}

pub(super) async fn deadlines_fire_cancel_and_end(t: Target) {
    let clock = ManualClock::starting_at("2026-03-01T12:00:00Z".parse().unwrap());
    let app = t.app(&clock).await;
    for order in ["d1", "d2", "d3"] {
        t.append(
            &format!("order-{order}"),
            "sagas.OrderPlaced",
            &placed(order, &[], Some(60)),
        )
        .await;
    }
    // d2 cancels its deadline and completes; d3 completes with it pending.
    t.append("order-d2", "sagas.OrderShipped", &shipped("d2", true))
        .await;
    t.append("order-d3", "sagas.OrderShipped", &shipped("d3", false))
        .await;
    ledger_reads(&t, "d2", &["shipped-d2"]).await;
    ledger_reads(&t, "d3", &["shipped-d3"]).await;
    let d1 = checkout_of(&app, "d1").await;
    let details = app.sagas().show(d1.id).await.unwrap().unwrap();
    assert_eq!(details.deadlines.len(), 1);
    assert_eq!(details.deadlines[0].name, "timeout");
    assert_eq!(
        details.deadlines[0].due,
        "2026-03-01T12:01:00Z"
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
    );
    for order in ["d2", "d3"] {
        let saga = checkout_of(&app, order).await;
        let details = app.sagas().show(saga.id).await.unwrap().unwrap();
        assert!(
            details.deadlines.is_empty(),
            "{order}: {:?}",
            details.deadlines
        );
    }

    // Not due yet.
    clock.advance(std::time::Duration::from_secs(30));
    app.sagas().nudge();
    // Due: d1's fires; d2's was cancelled, d3's ended with its saga. All
    // due deadlines are read at once, so once d1's ran, the others would
    // have too.
    clock.advance(std::time::Duration::from_secs(31));
    app.sagas().nudge();
    ledger_reads(&t, "d1", &["timeout-d1"]).await;
    drained(&app, d1.id).await;
    assert_eq!(t.ledger("d2").await, ["shipped-d2"]);
    assert_eq!(t.ledger("d3").await, ["shipped-d3"]);
    let details = app.sagas().show(d1.id).await.unwrap().unwrap();
    assert!(details.deadlines.is_empty());
    assert!(
        details
            .history
            .iter()
            .any(|h| h.kind == "deadline" && h.detail.contains("CheckoutTimedOut")),
        "{:?}",
        details.history
    );
    app.shutdown().await;
}

pub(super) async fn compensation_runs_in_reverse_and_survives_a_failure(t: Target) {
    let clock = ManualClock::default();
    let app = t.app(&clock).await;
    t.append(
        "order-c1",
        "sagas.OrderPlaced",
        &placed("c1", &["s1", "s2", "reject-s3"], None),
    )
    .await;
    ledger_reads(&t, "c1", &["s1", "s2", "undone:undo-s2", "undone:undo-s1"]).await;
    let c1 = checkout_of(&app, "c1").await;
    eventually("c1 to be compensated", || {
        let app = app.clone();
        async move {
            app.sagas()
                .show(c1.id)
                .await
                .unwrap()
                .unwrap()
                .record
                .status
                == SagaStatus::Compensated
        }
    })
    .await;

    // One compensation fails; the one after it still runs.
    t.append(
        "order-c2",
        "sagas.OrderPlaced",
        &placed("c2", &["t1", "t2-badundo", "reject-t3"], None),
    )
    .await;
    ledger_reads(&t, "c2", &["t1", "t2-badundo", "undone:undo-t1"]).await;
    let c2 = checkout_of(&app, "c2").await;
    eventually("c2's compensation to fail", || {
        let app = app.clone();
        async move {
            app.sagas()
                .show(c2.id)
                .await
                .unwrap()
                .unwrap()
                .record
                .status
                == SagaStatus::CompensationFailed
        }
    })
    .await;
    let details = app.sagas().show(c2.id).await.unwrap().unwrap();
    let steps: Vec<(String, SagaCommandStatus)> = details
        .commands
        .iter()
        .map(|c| {
            let note: serde_json::Value = serde_json::from_slice(&c.payload).unwrap();
            (note["note"].as_str().unwrap().to_owned(), c.status)
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("t1".to_owned(), SagaCommandStatus::Sent),
            ("t2-badundo".to_owned(), SagaCommandStatus::Sent),
            ("reject-t3".to_owned(), SagaCommandStatus::Failed),
            ("undo-t2-badundo".to_owned(), SagaCommandStatus::Failed),
            ("undo-t1".to_owned(), SagaCommandStatus::Sent),
        ]
    );
    let compensations: Vec<Option<Uuid>> = details
        .commands
        .iter()
        .filter(|c| c.kind == SagaCommandKind::Compensation)
        .map(|c| c.compensates)
        .collect();
    assert_eq!(
        compensations,
        [
            Some(details.commands[1].message_id),
            Some(details.commands[0].message_id)
        ]
    );
    assert!(details.record.last_error.is_some());
    app.shutdown().await;
}

pub(super) async fn operators_list_show_and_retry(t: Target) {
    let clock = ManualClock::default();
    let app = t.app(&clock).await;
    let order = unique("r");
    let note = format!("reject-{order}");
    t.append(
        &format!("order-{order}"),
        "sagas.OrderPlaced",
        &placed(&order, &[note.as_str()], None),
    )
    .await;
    let failed = wait_for_status(&app, Checkout::NAME, SagaStatus::Failed).await;
    let listed = app
        .sagas()
        .list(&SagaQuery {
            saga_type: Some(Checkout::NAME.to_owned()),
            status: Some(SagaStatus::Failed),
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(listed.iter().map(|s| s.id).collect::<Vec<_>>(), [failed.id]);
    let running_checkouts = app
        .sagas()
        .list(&SagaQuery {
            saga_type: Some(Checkout::NAME.to_owned()),
            status: Some(SagaStatus::Running),
            limit: 0,
        })
        .await
        .unwrap();
    assert!(running_checkouts.is_empty());
    let details = app.sagas().show(failed.id).await.unwrap().unwrap();
    assert_eq!(details.commands.len(), 1);
    assert_eq!(details.commands[0].status, SagaCommandStatus::Failed);
    assert!(
        details
            .history
            .iter()
            .any(|h| h.kind == "status" && h.detail.starts_with("failed")),
        "{:?}",
        details.history
    );
    assert!(t.ledger(&order).await.is_empty());

    // The cause is fixed; an operator retries.
    allow(&note);
    let retried = app.sagas().retry(failed.id).await.unwrap();
    assert_eq!(retried.status, SagaStatus::Running);
    ledger_reads(&t, &order, &[note.as_str()]).await;
    drained(&app, failed.id).await;
    let details = app.sagas().show(failed.id).await.unwrap().unwrap();
    assert_eq!(details.record.status, SagaStatus::Running);
    assert!(details.associations.iter().all(|a| a.active));
    assert!(details.history.iter().any(|h| h.kind == "retry"));

    // It runs again: its association finds it.
    t.append(
        &format!("order-{order}"),
        "sagas.OrderShipped",
        &shipped(&order, false),
    )
    .await;
    let done = wait_for_status(&app, Checkout::NAME, SagaStatus::Completed).await;
    assert_eq!(done.id, failed.id);
    let error = app.sagas().retry(failed.id).await.unwrap_err();
    assert!(matches!(error, Error::InvalidInput { .. }), "{error}");
    let error = app.sagas().retry(Uuid::now_v7()).await.unwrap_err();
    assert!(matches!(error, Error::InvalidInput { .. }), "{error}");
    assert!(app.sagas().show(Uuid::now_v7()).await.unwrap().is_none());
    ledger_reads(&t, &order, &[note.as_str(), &format!("shipped-{order}")]).await;
    drained(&app, failed.id).await;
    assert_eq!(app.sagas().resume_stalled(None).await.unwrap(), 0);
    app.shutdown().await;
}
