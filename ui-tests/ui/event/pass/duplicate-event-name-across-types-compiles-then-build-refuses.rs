// Two Rust types claiming one event type name compile (they may live in
// different crates), but building the application refuses them, naming both
// and where each is declared.
use mink::prelude::*;

mod orders {
    #[mink::event]
    pub enum OrderEvent {
        Created { customer_id: String },
    }
}

mod customers {
    #[mink::event]
    pub enum CustomerEvent {
        Created { email: String },
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let _ = (orders::OrderEvent::Created { customer_id: String::new() },);
    let _ = (customers::CustomerEvent::Created { email: String::new() },);
    let err = Mink::builder().store(InMemoryStore::new()).build().await.unwrap_err();
    match err {
        mink::Error::DuplicateEventType {
            event_type,
            first,
            first_declared_at,
            second,
            second_declared_at,
        } => {
            assert_eq!(event_type, "Created");
            assert!(first.ends_with("customers::CustomerEvent::Created"), "{first}");
            assert!(second.ends_with("orders::OrderEvent::Created"), "{second}");
            // Each names the line of its variant in this file.
            assert!(first_declared_at.ends_with(":16"), "{first_declared_at}");
            assert!(second_declared_at.ends_with(":9"), "{second_declared_at}");
        }
        other => panic!("expected DuplicateEventType, got {other:?}"),
    }
    let message = Mink::builder().store(InMemoryStore::new()).build().await.unwrap_err().to_string();
    assert!(message.contains("#[event(name = "), "{message}");
}
