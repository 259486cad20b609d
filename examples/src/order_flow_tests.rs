//! Tests of the order flow, written with `mink::testing`: the order's
//! rules as given / when / then, both projections against in-memory read
//! models, and the whole flow on SQLite and (when configured) PostgreSQL.

use mink::adapters::memory::InMemoryReadModels;
use mink::testing::{
    AggregateFixture, EventLog, ProjectionFixture, TestDatabase, assert_recorded,
    then_error_matches,
};
use mink::{EventMetadata, Validate};

use super::*;

fn created() -> OrderEvent {
    OrderEvent::Created {
        customer_id: "customer-7".into(),
    }
}

fn added(sku: &str, qty: u32, price_cents: u64) -> OrderEvent {
    OrderEvent::ItemAdded {
        sku: sku.into(),
        qty,
        price_cents,
    }
}

fn add(sku: &str, qty: u32, price_cents: u64) -> AddItem {
    AddItem {
        order_id: "o1".into(),
        sku: sku.into(),
        qty,
        price_cents,
    }
}

fn ship() -> ShipOrder {
    ShipOrder {
        order_id: "o1".into(),
        tracking: "TRACK-1".into(),
    }
}

// ------------------------------------------------------------ the order

#[test]
fn a_new_order_is_created_for_its_customer() {
    AggregateFixture::<Order>::given_nothing()
        .when(CreateOrder {
            order_id: "o1".into(),
            customer_id: "customer-7".into(),
        })
        .then_events([created()])
        .then_state(|order| {
            assert_eq!(order.id, "o1");
            assert_eq!(order.customer_id, "customer-7");
        });
}

#[test]
fn an_order_is_created_once() {
    AggregateFixture::<Order>::given([created()])
        .when(CreateOrder {
            order_id: "o1".into(),
            customer_id: "customer-9".into(),
        })
        .then_error(|e| *e == OrderError::AlreadyCreated("o1".into()));
}

#[test]
fn items_add_up_to_the_total() {
    AggregateFixture::<Order>::given([created(), added("book", 2, 1_250)])
        .when(add("lamp", 1, 3_900))
        .then_events([added("lamp", 1, 3_900)])
        .then_state(|order| {
            assert_eq!(order.items.len(), 2);
            assert_eq!(order.total_cents(), 2 * 1_250 + 3_900);
        });
}

#[test]
fn nothing_is_added_to_an_order_that_does_not_exist() {
    then_error_matches!(
        AggregateFixture::<Order>::given_nothing().when(add("book", 1, 100)),
        OrderError::NotCreated(id) if id == "o1"
    );
}

#[test]
fn a_quantity_of_zero_is_refused_by_the_handler_and_by_validation() {
    AggregateFixture::<Order>::given([created()])
        .when(add("book", 0, 100))
        .then_error_message("quantity must be at least 1");
    let violations = add(" ", 0, 100).validate().unwrap_err();
    let fields: Vec<&str> = violations
        .violations
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    assert_eq!(fields, ["sku", "qty"], "{violations}");
}

#[test]
fn only_an_item_in_the_order_can_be_removed() {
    let order = [created(), added("book", 2, 1_250), added("mug", 4, 650)];
    AggregateFixture::<Order>::given(order.clone())
        .when(RemoveItem {
            order_id: "o1".into(),
            sku: "mug".into(),
        })
        .then_events([OrderEvent::ItemRemoved { sku: "mug".into() }])
        .then_state(|order| assert_eq!(order.total_cents(), 2_500));
    then_error_matches!(
        AggregateFixture::<Order>::given(order).when(RemoveItem {
            order_id: "o1".into(),
            sku: "piano".into(),
        }),
        OrderError::NoSuchItem(sku) if sku == "piano"
    );
}

#[test]
fn an_empty_order_does_not_ship() {
    then_error_matches!(
        AggregateFixture::<Order>::given([created()]).when(ship()),
        OrderError::Empty
    );
}

#[test]
fn a_shipped_order_is_final() {
    let shipped = [
        created(),
        added("book", 1, 1_250),
        OrderEvent::Shipped {
            tracking: "TRACK-1".into(),
        },
    ];
    AggregateFixture::<Order>::given(shipped[..2].to_vec())
        .when(ship())
        .then_event_types(["OrderShipped"])
        .then_state(|order| assert!(order.shipped));
    then_error_matches!(
        AggregateFixture::<Order>::given(shipped.clone()).when(add("late", 1, 1)),
        OrderError::AlreadyShipped(_)
    );
    then_error_matches!(
        AggregateFixture::<Order>::given(shipped).when(ship()),
        OrderError::AlreadyShipped(_)
    );
}

// ------------------------------------------------------- the projections

fn summary(id: &str, status: &str, lines: &[(&str, u32, u64)], total_cents: i64) -> OrderSummary {
    OrderSummary {
        id: id.into(),
        customer_id: "customer-7".into(),
        status: status.into(),
        lines: lines
            .iter()
            .map(|&(sku, qty, price_cents)| SummaryLine {
                sku: sku.into(),
                qty,
                price_cents,
            })
            .collect(),
        total_cents,
        created_at: EventLog::default_timestamp(),
    }
}

#[tokio::test]
async fn order_summaries_follow_each_order() {
    let repo = ReadModelRepository::<OrderSummary>::open(InMemoryReadModels::new())
        .await
        .unwrap();
    let log = EventLog::new()
        .aggregate::<Order>(
            "o1",
            [
                created(),
                added("book", 2, 1_250),
                added("lamp", 1, 3_900),
                OrderEvent::ItemRemoved { sku: "lamp".into() },
                OrderEvent::Shipped {
                    tracking: "TRACK-1".into(),
                },
            ],
        )
        .aggregate::<Order>("o2", [created(), added("mug", 4, 650)]);
    let outcome = ProjectionFixture::new(OrderSummaries { repo: repo.clone() })
        .given(log)
        .then_read_model(
            &repo,
            [
                summary("o1", "shipped", &[("book", 2, 1_250)], 2_500),
                summary("o2", "open", &[("mug", 4, 650)], 2_600),
            ],
        )
        .await;
    assert_eq!(outcome.checkpoint(), Position::sequential(7));
}

#[tokio::test]
async fn an_item_for_an_order_without_a_summary_fails_and_writes_nothing() {
    let repo = ReadModelRepository::<OrderSummary>::open(InMemoryReadModels::new())
        .await
        .unwrap();
    let log = EventLog::new()
        .aggregate::<Order>("o1", [created()])
        .aggregate::<Order>("o9", [added("book", 1, 100)]);
    let outcome = ProjectionFixture::new(OrderSummaries { repo: repo.clone() })
        .given(log)
        .run()
        .await;
    outcome
        .then_failed_at(Position::sequential(2), |_| true)
        .then_read_model(&repo, [summary("o1", "open", &[], 0)])
        .await;
}

#[tokio::test]
async fn sales_per_sku_count_units_and_lines() {
    let repo = ReadModelRepository::<SkuSales>::open(InMemoryReadModels::new())
        .await
        .unwrap();
    let log = EventLog::new()
        .aggregate::<Order>("o1", [created(), added("book", 2, 1_250)])
        .append_json("customer-7", "CustomerRegistered", serde_json::json!({}))
        .aggregate::<Order>(
            "o2",
            [
                created(),
                added("book", 1, 1_250),
                added("lamp", 1, 3_900),
                OrderEvent::ItemRemoved { sku: "lamp".into() },
            ],
        );
    let sales = |sku: &str, units, lines_added, lines_removed| SkuSales {
        sku: sku.into(),
        units,
        lines_added,
        lines_removed,
    };
    let outcome = ProjectionFixture::new(SalesPerSku { repo: repo.clone() })
        .given(log)
        .then_read_model(&repo, [sales("book", 3, 2, 0), sales("lamp", 1, 1, 1)])
        .await;
    // The customer's event is not one the projection reads.
    assert_eq!(outcome.passed_over(), [Position::sequential(3)]);
}

// ------------------------------------------------------- the whole flow

/// Dispatches an order's life through the application `main` builds, and
/// checks the stored events and the inline read model.
async fn order_flow_on(db: &TestDatabase) {
    let store = db.store().await.unwrap();
    let summaries = ReadModelRepository::<OrderSummary>::open_shared(store.read_models())
        .await
        .unwrap();
    let app = Mink::builder()
        .store(store)
        .projection(OrderSummaries {
            repo: summaries.clone(),
        })
        .layer(ValidationLayer)
        .build()
        .await
        .unwrap();
    let ctx = || Context::new().with_correlation_id("checkout-o1");
    let create = CreateOrder {
        order_id: "o1".into(),
        customer_id: "customer-7".into(),
    };
    app.dispatch_with(create, ctx()).await.unwrap();
    app.dispatch_with(add("book", 2, 1_250), ctx())
        .await
        .unwrap();
    let refused = app.dispatch_with(add("", 0, 1), ctx()).await.unwrap_err();
    assert!(matches!(refused, DispatchError::Invalid(_)), "{refused:?}");
    app.dispatch_with(ship(), ctx()).await.unwrap();

    let stored = app
        .store()
        .read_stream_forward("order-o1", 1, usize::MAX)
        .await
        .unwrap();
    assert_recorded(&stored)
        .types(["OrderCreated", "OrderItemAdded", "OrderShipped"])
        .events([
            created(),
            added("book", 2, 1_250),
            OrderEvent::Shipped {
                tracking: "TRACK-1".into(),
            },
        ])
        .each_metadata(|m: &EventMetadata| m.correlation_id.as_deref() == Some("checkout-o1"));
    let row = summaries.get("o1").await.unwrap();
    assert_eq!((row.status.as_str(), row.total_cents), ("shipped", 2_500));
    app.shutdown().await;
}

#[tokio::test]
async fn the_order_flow_runs_on_sqlite() {
    order_flow_on(&TestDatabase::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_order_flow_runs_on_postgres() {
    let Some(db) = TestDatabase::postgres("the order flow on PostgreSQL").await else {
        return;
    };
    order_flow_on(&db).await;
}

// ------------------------------------------------------------ the checkout

mod checkout_saga {
    use mink::testing::{EventLog, SagaFixture};

    use crate::checkout::*;
    use crate::{ShipOrder, SummaryLine};

    fn line(sku: &str, qty: u32, price_cents: u64) -> SummaryLine {
        SummaryLine {
            sku: sku.into(),
            qty,
            price_cents,
        }
    }

    fn started(total_cents: u64) -> CheckoutStarted {
        CheckoutStarted {
            order_id: "o1".into(),
            lines: vec![line("book", 2, 1_250), line("mug", 1, 650)],
            total_cents,
        }
    }

    fn reserved(qty: u32) -> StockEvent {
        StockEvent::Reserved {
            order_id: "o1".into(),
            qty,
        }
    }

    #[test]
    fn a_checkout_reserves_every_line() {
        SagaFixture::<Checkout>::given_nothing()
            .when(started(3_150))
            .then_commands([
                ReserveStock {
                    sku: "book".into(),
                    order_id: "o1".into(),
                    qty: 2,
                },
                ReserveStock {
                    sku: "mug".into(),
                    order_id: "o1".into(),
                    qty: 1,
                },
            ])
            .then_not_completed();
    }

    #[test]
    fn payment_is_requested_once_every_line_is_reserved() {
        let log = EventLog::new().append("checkout-o1", started(3_150));
        SagaFixture::<Checkout>::given(log.clone())
            .when(reserved(2))
            .then_no_commands();
        let log = log.append("stock-book", reserved(2));
        SagaFixture::<Checkout>::given(log)
            .when(reserved(1))
            .then_commands(RequestPayment {
                payment_id: "pay-o1".into(),
                order_id: "o1".into(),
                amount_cents: 3_150,
            })
            .then_state(|s| assert_eq!(s.reserved, 2));
    }

    #[test]
    fn a_captured_payment_ships_the_order_and_ends_the_checkout() {
        let log = EventLog::new()
            .append("checkout-o1", started(3_150))
            .append("stock-book", reserved(2))
            .append("stock-mug", reserved(1));
        SagaFixture::<Checkout>::given(log)
            .when(PaymentEvent::Captured {
                order_id: "o1".into(),
                amount_cents: 3_150,
            })
            .then_commands(ShipOrder {
                order_id: "o1".into(),
                tracking: "TRACK-o1".into(),
            })
            .then_completed();
    }

    #[test]
    fn a_reservation_is_undone_by_releasing_it() {
        SagaFixture::<Checkout>::given(EventLog::new().append("checkout-o1", started(3_150)))
            .compensate(ReserveStock {
                sku: "book".into(),
                order_id: "o1".into(),
                qty: 2,
            })
            .then_command(ReleaseStock {
                sku: "book".into(),
                order_id: "o1".into(),
                qty: 2,
            });
    }
}

/// The checkout end to end on SQLite: the saga manager and the outbox
/// relay run in the background; a paid order ships, a declined one gets
/// its stock back, and the webhook receives the order's events in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkouts_end_shipped_or_compensated_and_the_outbox_delivers() {
    let db = TestDatabase::sqlite();
    let (delivery, outbox) = delivery::Delivery::start().await.unwrap();
    assert!(
        matches!(delivery, delivery::Delivery::Webhook { .. }) || std::env::var("NATS_URL").is_ok()
    );
    let app = Mink::builder()
        .store(db.store().await.unwrap())
        .saga::<checkout::Checkout>()
        .outbox(outbox)
        .build()
        .await
        .unwrap();
    check_out(&app, &delivery).await.unwrap();
    let done = app
        .sagas()
        .list(&mink::store::SagaQuery::default())
        .await
        .unwrap();
    let mut statuses: Vec<String> = done.iter().map(|r| r.status.to_string()).collect();
    statuses.sort();
    assert_eq!(statuses, ["compensated", "completed"]);
    assert_eq!(
        checkout::reserved_units(app.store().as_ref(), "sofa")
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        checkout::reserved_units(app.store().as_ref(), "kettle")
            .await
            .unwrap(),
        1
    );
    if let Some(received) = delivery.received_for(&Order::stream_id("o1")) {
        assert!(received.is_empty(), "no order o1 here");
    }
    app.shutdown().await;
}
