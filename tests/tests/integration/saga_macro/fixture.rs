//! `mink::testing::SagaFixture` on the checkout saga: given events, one
//! more, then the commands, state and completion; and the messages by
//! which it fails.

use mink::testing::{EventLog, SagaFixture};

use super::domain::*;

fn placed(order_id: &str, amount_cents: u64) -> EventLog {
    EventLog::new().append(
        format!("saga_macro_order-{order_id}"),
        OrderPlaced {
            order_id: order_id.into(),
            sku: "book".into(),
            qty: 2,
            amount_cents,
        },
    )
}

fn reserved(order_id: &str) -> StockReserved {
    StockReserved {
        order_id: order_id.into(),
    }
}

fn accepted(order_id: &str) -> PaymentEvent {
    PaymentEvent::Accepted {
        payment_id: format!("pay-{order_id}"),
    }
}

/// The panic message of `f`.
fn panic_message(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let payload = std::panic::catch_unwind(f).expect_err("the fixture was expected to fail");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

#[test]
fn a_starting_event_sends_its_command() {
    SagaFixture::<Checkout>::given_nothing()
        .when(OrderPlaced {
            order_id: "f1".into(),
            sku: "book".into(),
            qty: 2,
            amount_cents: 500,
        })
        .then_commands(ReserveStock {
            sku: "book".into(),
            order_id: "f1".into(),
            qty: 2,
        })
        .then_state(|s| assert_eq!(s.amount_cents, 500))
        .then_not_completed();
}

#[test]
fn given_events_build_the_state_and_associations() {
    SagaFixture::<Checkout>::given(placed("f2", 500))
        .when(reserved("f2"))
        .then_commands([RequestPayment {
            payment_id: "pay-f2".into(),
            amount_cents: 500,
        }])
        .then_associated("payment", "pay-f2")
        .then_state(|s| assert!(s.reserved))
        .then_not_completed();

    // The association added by `reserved` finds the saga for the payment.
    SagaFixture::<Checkout>::given(placed("f2", 500))
        .and(EventLog::new().append("saga_macro_warehouse-book", reserved("f2")))
        .when(accepted("f2"))
        .then_command_names(["saga_macro.ShipOrder"])
        .then_state(|s| assert!(s.is_settled()))
        .then_completed();
}

#[test]
fn tuples_compare_commands_of_different_types_in_order() {
    let fixture = SagaFixture::<Checkout>::given(placed("f3", 500))
        .and(EventLog::new().append("saga_macro_warehouse-book", reserved("f3")));
    assert_eq!(fixture.state().payment_id.as_deref(), Some("pay-f3"));
    fixture.when(OrderCancelled("f3".into())).then_commands((
        ReleaseStock {
            sku: "book".into(),
            order_id: "f3".into(),
        },
        RefundPayment {
            payment_id: "pay-f3".into(),
        },
    ));
}

#[test]
fn a_free_order_completes_without_a_command() {
    SagaFixture::<Checkout>::given(placed("f4", 0))
        .when(reserved("f4"))
        .then_no_commands()
        .then_commands(())
        .then_completed();
}

#[test]
fn a_failing_handler_is_asserted_on_its_error() {
    SagaFixture::<Checkout>::given(placed("f5", 500))
        .and(EventLog::new().append("saga_macro_warehouse-book", reserved("f5")))
        .when(PaymentEvent::Declined {
            payment_id: "pay-f5".into(),
            reason: "card expired".into(),
        })
        .then_error(|e| {
            matches!(
                e.downcast_ref::<CheckoutError>(),
                Some(CheckoutError::Declined { reason, .. }) if reason == "card expired"
            )
        })
        .then_error_message("payment pay-f5 declined: card expired");
}

#[test]
fn compensations_are_asserted_on_the_command_they_send() {
    let fixture = SagaFixture::<Checkout>::given(placed("f6", 500));
    fixture
        .compensate(ReserveStock {
            sku: "book".into(),
            order_id: "f6".into(),
            qty: 2,
        })
        .then_command(ReleaseStock {
            sku: "book".into(),
            order_id: "f6".into(),
        });
    SagaFixture::<Checkout>::given(placed("f6", 500))
        .compensate(ShipOrder {
            order_id: "f6".into(),
        })
        .then_nothing();
}

#[test]
fn a_wrong_command_fails_with_the_field_that_differs() {
    let message = panic_message(|| {
        SagaFixture::<Checkout>::given(placed("f7", 500))
            .when(reserved("f7"))
            .then_commands(RequestPayment {
                payment_id: "pay-f7".into(),
                amount_cents: 400,
            });
    });
    assert!(
        message.contains(
            "the commands saga `saga-macro-checkout` sent on `saga_macro.StockReserved` differ"
        ),
        "{message}"
    );
    assert!(
        message.contains(
            "command #0 `saga_macro.RequestPayment`: field `amount_cents`: expected 400, got 500"
        ),
        "{message}"
    );

    let message = panic_message(|| {
        SagaFixture::<Checkout>::given(placed("f7", 500))
            .when(reserved("f7"))
            .then_commands(ShipOrder {
                order_id: "f7".into(),
            });
    });
    assert!(
        message.contains(
            "command #0: expected `saga_macro.ShipOrder`, got `saga_macro.RequestPayment`"
        ),
        "{message}"
    );
}

#[test]
fn completion_is_checked_both_ways() {
    let message = panic_message(|| {
        SagaFixture::<Checkout>::given(placed("f8", 500))
            .when(reserved("f8"))
            .then_completed();
    });
    assert!(message.contains("was expected to complete"), "{message}");
    let message = panic_message(|| {
        SagaFixture::<Checkout>::given(placed("f8", 0))
            .when(reserved("f8"))
            .then_not_completed();
    });
    assert!(
        message.contains("completed on `saga_macro.StockReserved`"),
        "{message}"
    );
}

#[test]
fn an_event_that_would_not_reach_the_saga_is_refused() {
    // Not a starting event.
    let message = panic_message(|| {
        SagaFixture::<Checkout>::given_nothing().when(reserved("f9"));
    });
    assert!(
        message.contains("does not start saga `saga-macro-checkout`"),
        "{message}"
    );
    // Another order's event.
    let message = panic_message(|| {
        SagaFixture::<Checkout>::given(placed("f9", 500)).when(reserved("other"));
    });
    assert!(
        message.contains(
            "finds its saga by order_id = \"other\", and this saga is associated with order_id = \"f9\""
        ),
        "{message}"
    );
    // A type the saga does not take.
    let message = panic_message(|| {
        SagaFixture::<Checkout>::given(placed("f9", 500)).when(Unrelated {
            order_id: "f9".into(),
        });
    });
    assert!(message.contains("has no handler for"), "{message}");
    // After completion.
    let message = panic_message(|| {
        SagaFixture::<Checkout>::given(placed("f9", 0))
            .and(EventLog::new().append("saga_macro_warehouse-book", reserved("f9")))
            .when(OrderCancelled("f9".into()));
    });
    assert!(
        message.contains("completed (on `saga_macro.StockReserved`)"),
        "{message}"
    );
    // A given event that fails.
    let message = panic_message(|| {
        SagaFixture::<Checkout>::given(placed("f9", 500).append(
            "saga_macro_psp-pay-f9",
            PaymentEvent::Declined {
                payment_id: "pay-f9".into(),
                reason: "no".into(),
            },
        ));
    });
    assert!(
        message.contains("finds its saga by payment = \"pay-f9\""),
        "{message}"
    );
}
