//! Recovery and rejections: a panicking handler becomes an error and the
//! bus keeps working; a rejection keeps the handler's error type through
//! the whole stack.

use mink::DispatchError;
use mink::bus::{RecoveryLayer, RetryOnConflictLayer, ValidationLayer};
use mink::prelude::*;

use super::{Credit, Explode, WalletError, credit};

#[tokio::test]
async fn recovery_turns_a_panic_into_an_error_and_the_bus_keeps_working() {
    let app = Mink::builder()
        .store(InMemoryStore::new())
        .layer(RecoveryLayer)
        .build()
        .await
        .unwrap();
    let err = app
        .dispatch(Explode {
            wallet: "p1".into(),
        })
        .await
        .unwrap_err();
    match err {
        DispatchError::Panicked { command, message } => {
            assert_eq!(command, "Explode");
            assert_eq!(message, "wallet p1 exploded");
        }
        other => panic!("expected Panicked, got {other:?}"),
    }
    let r = app.dispatch(credit("p1", 3)).await.unwrap();
    assert_eq!(r.version, Some(1));
}

#[tokio::test]
async fn rejections_keep_the_handlers_error_type_through_the_stack() {
    let app = Mink::builder()
        .store(InMemoryStore::new())
        .layer(RecoveryLayer)
        .layer(ValidationLayer)
        .layer(RetryOnConflictLayer::new())
        .build()
        .await
        .unwrap();
    let err = app
        .dispatch(Credit {
            wallet: "r1".into(),
            amount: 1,
            note: "refuse".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.rejected(), Some(&WalletError("told to".into())));
}
