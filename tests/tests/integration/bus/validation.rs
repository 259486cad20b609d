//! Validation: the validation layer refuses a command with every violation
//! before the handler runs; without it, commands are not validated.

use mink::DispatchError;
use mink::bus::ValidationLayer;
use mink::prelude::*;

use super::{Credit, credit, runs};

#[tokio::test]
async fn validation_refuses_with_every_violation_before_the_handler() {
    let app = Mink::builder()
        .store(InMemoryStore::new())
        .layer(ValidationLayer)
        .build()
        .await
        .unwrap();
    let err = app
        .dispatch(Credit {
            wallet: "v1".into(),
            amount: 0,
            note: "  ".into(),
        })
        .await
        .unwrap_err();
    let DispatchError::Invalid(v) = err else {
        panic!("expected Invalid, got {err:?}")
    };
    let fields: Vec<_> = v.violations.iter().map(|x| x.field.as_str()).collect();
    assert_eq!(fields, ["amount", "note"]);
    assert_eq!(
        v.to_string(),
        "invalid command: amount: must be positive; note: must not be blank"
    );
    assert_eq!(runs("v1"), 0, "the handler must not run");
    assert!(
        app.store()
            .stream_info("wallet-v1")
            .await
            .unwrap()
            .is_none()
    );

    app.dispatch(credit("v1", 5)).await.unwrap();
    assert_eq!(runs("v1"), 1);
}

#[tokio::test]
async fn without_the_validation_layer_commands_are_not_validated() {
    let app = Mink::builder()
        .store(InMemoryStore::new())
        .build()
        .await
        .unwrap();
    app.dispatch(credit("v2", 0)).await.unwrap();
    assert_eq!(runs("v2"), 1);
}
