//! `Saga::dispatch`: stored commands decoded by name and sent through a
//! real application (`Mink` is the saga layer's `SagaExecutor`), which
//! classifies failures as the saga manager expects.

use mink::command::Context;
use mink::prelude::*;
use mink::saga::{OutgoingCommand, Saga, SagaCommandError, StoredCommandError};

use super::domain::*;

async fn app() -> Mink {
    Mink::builder()
        .store(InMemoryStore::new())
        .build()
        .await
        .expect("app")
}

#[tokio::test]
async fn every_command_a_saga_returns_reaches_its_handler_through_the_executor() {
    let executor = app().await;
    let commands = [
        OutgoingCommand::new(&ReserveStock {
            sku: "dispatch-lamp".into(),
            order_id: "d1".into(),
            qty: 3,
        })
        .unwrap(),
        OutgoingCommand::new(&RequestPayment {
            payment_id: "dispatch-p1".into(),
            amount_cents: 700,
        })
        .unwrap(),
        OutgoingCommand::new(&ShipOrder {
            order_id: "dispatch-d1".into(),
        })
        .unwrap(),
        // A compensation's command.
        OutgoingCommand::new(&ReleaseStock {
            sku: "dispatch-lamp".into(),
            order_id: "d1".into(),
        })
        .unwrap(),
        OutgoingCommand::new(&RefundPayment {
            payment_id: "dispatch-p1".into(),
        })
        .unwrap(),
    ];
    for command in &commands {
        let done = Checkout::dispatch(&executor, command, Context::new())
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", command.name));
        assert_eq!(done.command, command.name);
    }
    let stock = executor
        .load_aggregate::<Stock>("dispatch-lamp")
        .await
        .unwrap();
    assert_eq!(stock.state().reserved, 3);
    assert_eq!(stock.state().releases, 1);
    let payment = executor
        .load_aggregate::<Payment>("dispatch-p1")
        .await
        .unwrap();
    assert_eq!(payment.state().charged_cents, 700);
    assert!(payment.state().refunded);
    assert!(
        SHIPPED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&"dispatch-d1".to_owned())
    );
}

#[tokio::test]
async fn the_context_travels_with_the_command() {
    let executor = app().await;
    let command = OutgoingCommand::new(&ReserveStock {
        sku: "dispatch-desk".into(),
        order_id: "d2".into(),
        qty: 1,
    })
    .unwrap();
    let context = Context::new().with_correlation_id("checkout-d2");
    Checkout::dispatch(&executor, &command, context)
        .await
        .unwrap();
    let events = executor
        .store()
        .read_stream_forward("saga_macro_stock-dispatch-desk", 1, 10)
        .await
        .unwrap();
    assert_eq!(
        events[0].metadata.correlation_id.as_deref(),
        Some("checkout-d2")
    );
}

#[tokio::test]
async fn an_unknown_name_or_an_undecodable_payload_fails_permanently_with_a_typed_source() {
    let executor = app().await;
    let unknown = OutgoingCommand {
        name: "saga_macro.Teleport".into(),
        payload: b"{}".to_vec(),
        aggregate_id: None,
    };
    match Checkout::dispatch(&executor, &unknown, Context::new()).await {
        Err(SagaCommandError::Permanent { command, source }) => {
            assert_eq!(command, "saga_macro.Teleport");
            match source.downcast_ref::<StoredCommandError>() {
                Some(StoredCommandError::Unknown { saga, command }) => {
                    assert_eq!(*saga, "saga-macro-checkout");
                    assert_eq!(command, "saga_macro.Teleport");
                }
                other => panic!("expected an unknown command, got {other:?}"),
            }
        }
        other => panic!("expected a permanent failure, got {other:?}"),
    }
    // A saga that sends nothing knows no command at all.
    assert!(matches!(
        OrderAuditTrail::dispatch(&executor, &unknown, Context::new()).await,
        Err(SagaCommandError::Permanent { .. })
    ));

    let broken = OutgoingCommand {
        name: "saga_macro.ReserveStock".into(),
        payload: b"not json".to_vec(),
        aggregate_id: Some("dispatch-x".into()),
    };
    match Checkout::dispatch(&executor, &broken, Context::new()).await {
        Err(SagaCommandError::Permanent { source, .. }) => assert!(
            matches!(
                source.downcast_ref::<StoredCommandError>(),
                Some(StoredCommandError::Undecodable { .. })
            ),
            "{source}"
        ),
        other => panic!("expected a permanent failure, got {other:?}"),
    }
}

#[tokio::test]
async fn a_rejected_command_fails_permanently() {
    let executor = app().await;
    let nothing = OutgoingCommand::new(&ReserveStock {
        sku: "dispatch-chair".into(),
        order_id: "d3".into(),
        qty: 0,
    })
    .unwrap();
    match Checkout::dispatch(&executor, &nothing, Context::new()).await {
        Err(SagaCommandError::Permanent { command, source }) => {
            assert_eq!(command, "saga_macro.ReserveStock");
            assert!(
                source.to_string().contains("cannot reserve nothing"),
                "{source}"
            );
        }
        other => panic!("expected the rejection, got {other:?}"),
    }
}
