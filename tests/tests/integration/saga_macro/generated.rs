//! The generated `Saga` impl, called directly: routing, handling and
//! compensation on events read back from given logs.

use mink::saga::{Association, OutgoingCommand, Saga, SagaContext, registered};
use mink::testing::EventLog;
use mink::{Error, RecordedEvent};
use uuid::Uuid;

use super::domain::*;

fn recorded(log: EventLog) -> RecordedEvent {
    log.into_events().pop().expect("one event")
}

fn placed(order_id: &str, amount_cents: u64) -> RecordedEvent {
    recorded(EventLog::new().append(
        format!("saga_macro_order-{order_id}"),
        OrderPlaced {
            order_id: order_id.into(),
            sku: "book".into(),
            qty: 2,
            amount_cents,
        },
    ))
}

fn context() -> SagaContext {
    SagaContext::new(Uuid::nil(), EventLog::default_timestamp())
}

/// Routes and handles `event` on `state`, as the saga manager does.
fn step(
    state: &mut Checkout,
    event: &RecordedEvent,
    cx: &mut SagaContext,
) -> Result<Vec<OutgoingCommand>, mink::BoxError> {
    let routed = Checkout::route(event, &mink::JsonSerializer)
        .expect("decodes")
        .expect("the saga takes this event");
    state.handle(routed.event, event, cx)
}

fn payload(command: &OutgoingCommand) -> serde_json::Value {
    serde_json::from_slice(&command.payload).expect("JSON")
}

#[test]
fn the_name_and_event_types_come_from_the_attribute_and_the_handlers() {
    assert_eq!(Checkout::NAME, "saga-macro-checkout");
    assert_eq!(OrderAuditTrail::NAME, "order-audit-trail");
    assert_eq!(
        Checkout::event_types(),
        [
            "saga_macro.OrderPlaced",
            "saga_macro.StockReserved",
            "saga_macro.PaymentAccepted",
            "saga_macro.PaymentDeclined",
            "saga_macro.OrderCancelled",
        ]
    );
    assert_eq!(OrderAuditTrail::event_types(), ["saga_macro.OrderPlaced"]);
}

#[test]
fn routing_takes_the_association_from_a_field_and_marks_starting_events() {
    let routed = Checkout::route(&placed("o1", 500), &mink::JsonSerializer)
        .unwrap()
        .expect("routed");
    assert_eq!(
        routed.association,
        Association {
            key: "order_id",
            value: "o1".into()
        }
    );
    assert!(routed.starts);
    assert_eq!(format!("{:?}", routed.event), "placed(OrderPlaced)");

    let reserved = recorded(EventLog::new().append(
        "saga_macro_warehouse-book",
        StockReserved {
            order_id: "o1".into(),
        },
    ));
    let routed = Checkout::route(&reserved, &mink::JsonSerializer)
        .unwrap()
        .expect("routed");
    assert_eq!(routed.association.key, "order_id");
    assert_eq!(routed.association.value, "o1");
    assert!(!routed.starts, "only `start` handlers start a saga");
}

#[test]
fn routing_takes_the_association_from_a_function_or_a_tuple_field() {
    for event in [
        PaymentEvent::Accepted {
            payment_id: "p7".into(),
        },
        PaymentEvent::Declined {
            payment_id: "p7".into(),
            reason: "card expired".into(),
        },
    ] {
        let event = recorded(EventLog::new().append("saga_macro_psp-p7", event));
        let routed = Checkout::route(&event, &mink::JsonSerializer)
            .unwrap()
            .expect("both variants are routed");
        assert_eq!(
            routed.association,
            Association {
                key: "payment",
                value: "p7".into()
            }
        );
        assert!(!routed.starts);
    }
    let cancelled =
        recorded(EventLog::new().append("saga_macro_order-o3", OrderCancelled("o3".into())));
    let routed = Checkout::route(&cancelled, &mink::JsonSerializer)
        .unwrap()
        .expect("routed");
    assert_eq!(routed.association.key, "order_id");
    assert_eq!(routed.association.value, "o3");
}

#[test]
fn an_event_no_handler_takes_is_not_routed() {
    let other = recorded(EventLog::new().append(
        "saga_macro_order-o1",
        Unrelated {
            order_id: "o1".into(),
        },
    ));
    assert!(
        Checkout::route(&other, &mink::JsonSerializer)
            .unwrap()
            .is_none()
    );
    // A type this saga does not take, though another saga does.
    let reserved = recorded(EventLog::new().append(
        "saga_macro_warehouse-book",
        StockReserved {
            order_id: "o1".into(),
        },
    ));
    assert!(
        OrderAuditTrail::route(&reserved, &mink::JsonSerializer)
            .unwrap()
            .is_none()
    );
}

#[test]
fn an_undecodable_payload_is_a_typed_deserialization_error() {
    let bad = recorded(EventLog::new().append_json(
        "saga_macro_order-o9",
        "saga_macro.OrderPlaced",
        serde_json::json!({ "order_id": 9 }),
    ));
    match Checkout::route(&bad, &mink::JsonSerializer) {
        Err(Error::Deserialization {
            event_type, stream, ..
        }) => {
            assert_eq!(event_type, "saga_macro.OrderPlaced");
            assert_eq!(stream, "saga_macro_order-o9");
        }
        other => panic!("expected a deserialization error, got {other:?}"),
    }
}

#[test]
fn handlers_change_the_state_and_return_their_commands_serialized_with_names() {
    let mut state = Checkout::default();
    let mut cx = context();
    let sent = step(&mut state, &placed("o1", 500), &mut cx).unwrap();
    assert_eq!(state.sku, "book");
    assert_eq!(state.amount_cents, 500);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].name, "saga_macro.ReserveStock");
    assert_eq!(sent[0].aggregate_id.as_deref(), Some("book"));
    assert_eq!(
        payload(&sent[0]),
        serde_json::json!({ "sku": "book", "order_id": "o1", "qty": 2 })
    );
    assert!(!cx.is_completed());

    // `Option<C>`, with the context: an association added.
    let mut cx = context();
    let reserved = recorded(EventLog::new().append(
        "saga_macro_warehouse-book",
        StockReserved {
            order_id: "o1".into(),
        },
    ));
    let sent = step(&mut state, &reserved, &mut cx).unwrap();
    assert!(state.reserved);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].name, "saga_macro.RequestPayment");
    assert_eq!(
        payload(&sent[0]),
        serde_json::json!({ "payment_id": "pay-o1", "amount_cents": 500 })
    );
    assert_eq!(
        cx.associations(),
        [("payment".to_owned(), "pay-o1".to_owned())]
    );

    // `Result<Vec<C>, E>`, with the envelope; `cx.complete()`.
    let mut cx = context();
    let accepted = recorded(EventLog::new().append(
        "saga_macro_psp-pay-o1",
        PaymentEvent::Accepted {
            payment_id: "pay-o1".into(),
        },
    ));
    let sent = step(&mut state, &accepted, &mut cx).unwrap();
    assert!(state.paid);
    assert_eq!(state.last_stream.as_deref(), Some("saga_macro_psp-pay-o1"));
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].name, "saga_macro.ShipOrder");
    assert_eq!(sent[0].aggregate_id.as_deref(), Some("o1"));
    assert!(cx.is_completed());
}

#[test]
fn an_option_of_nothing_and_a_unit_handler_send_nothing() {
    let mut state = Checkout::default();
    step(&mut state, &placed("free", 0), &mut context()).unwrap();
    let mut cx = context();
    let reserved = recorded(EventLog::new().append(
        "saga_macro_warehouse-book",
        StockReserved {
            order_id: "free".into(),
        },
    ));
    assert_eq!(step(&mut state, &reserved, &mut cx).unwrap(), []);
    assert!(cx.is_completed());

    let mut trail = OrderAuditTrail::default();
    let event = placed("o2", 1);
    let routed = OrderAuditTrail::route(&event, &mink::JsonSerializer)
        .unwrap()
        .unwrap();
    let sent = trail.handle(routed.event, &event, &mut context()).unwrap();
    assert!(sent.is_empty());
    assert_eq!(trail.seen, 1);
}

#[test]
fn a_tuple_sends_each_of_its_commands_in_order() {
    let mut state = Checkout {
        sku: "book".into(),
        order_id: "o4".into(),
        payment_id: Some("pay-o4".into()),
        ..Checkout::default()
    };
    let cancelled =
        recorded(EventLog::new().append("saga_macro_order-o4", OrderCancelled("o4".into())));
    let sent = step(&mut state, &cancelled, &mut context()).unwrap();
    let names: Vec<&str> = sent.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        ["saga_macro.ReleaseStock", "saga_macro.RefundPayment"]
    );

    state.payment_id = None;
    let sent = step(&mut state, &cancelled, &mut context()).unwrap();
    let names: Vec<&str> = sent.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["saga_macro.ReleaseStock"]);
}

#[test]
fn a_handler_error_becomes_the_box_error_of_handle() {
    let mut state = Checkout::for_order("o5");
    let declined = recorded(EventLog::new().append(
        "saga_macro_psp-pay-o5",
        PaymentEvent::Declined {
            payment_id: "pay-o5".into(),
            reason: "card expired".into(),
        },
    ));
    let err = step(&mut state, &declined, &mut context()).unwrap_err();
    assert_eq!(
        err.downcast_ref::<CheckoutError>(),
        Some(&CheckoutError::Declined {
            payment_id: "pay-o5".into(),
            reason: "card expired".into()
        })
    );
}

#[test]
fn compensation_undoes_a_completed_command_by_its_name() {
    let state = Checkout::for_order("o6");
    let reserve = OutgoingCommand::new(&ReserveStock {
        sku: "book".into(),
        order_id: "o6".into(),
        qty: 2,
    })
    .unwrap();
    let undo = state.compensate(&reserve).unwrap().expect("a compensation");
    assert_eq!(undo.name, "saga_macro.ReleaseStock");
    assert_eq!(
        payload(&undo),
        serde_json::json!({ "sku": "book", "order_id": "o6" })
    );

    // By value, in `Result<Option<_>>`: something, or nothing.
    let paid = OutgoingCommand::new(&RequestPayment {
        payment_id: "pay-o6".into(),
        amount_cents: 500,
    })
    .unwrap();
    let undo = state.compensate(&paid).unwrap().expect("a refund");
    assert_eq!(undo.name, "saga_macro.RefundPayment");
    let free = OutgoingCommand::new(&RequestPayment {
        payment_id: "pay-o6".into(),
        amount_cents: 0,
    })
    .unwrap();
    assert_eq!(state.compensate(&free).unwrap(), None);

    // A command without a compensation.
    let ship = OutgoingCommand::new(&ShipOrder {
        order_id: "o6".into(),
    })
    .unwrap();
    assert_eq!(state.compensate(&ship).unwrap(), None);
}

#[test]
fn a_compensation_of_an_undecodable_command_is_a_typed_error() {
    let state = Checkout::for_order("o7");
    let broken = OutgoingCommand {
        name: "saga_macro.ReserveStock".into(),
        payload: b"{\"sku\": 1}".to_vec(),
        aggregate_id: None,
    };
    let err = state.compensate(&broken).unwrap_err();
    match err.downcast_ref::<mink::saga::StoredCommandError>() {
        Some(mink::saga::StoredCommandError::Undecodable { command, .. }) => {
            assert_eq!(command, "saga_macro.ReserveStock");
        }
        other => panic!("expected an undecodable command, got {other:?} ({err})"),
    }
}

#[test]
fn sagas_are_registered_with_their_name_type_and_events() {
    let checkout = registered()
        .find(|r| r.name == "saga-macro-checkout")
        .expect("registered");
    assert!(
        checkout.rust_type.ends_with("saga_macro::domain::Checkout"),
        "{}",
        checkout.rust_type
    );
    assert!(
        checkout.declared_at.contains("domain.rs:"),
        "{}",
        checkout.declared_at
    );
    assert_eq!((checkout.event_types)(), Checkout::event_types());
    assert!(registered().any(|r| r.name == "order-audit-trail"));
    mink::saga::check_unique_saga_names(registered()).expect("no two sagas share a name");
}
