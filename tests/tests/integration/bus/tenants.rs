//! Tenants: the tenant layer refuses commands without a tenant, or gives
//! them a default one, and stamps the tenant on the events.

use mink::DispatchError;
use mink::bus::TenantLayer;
use mink::prelude::*;

use super::{credit, runs};

#[tokio::test]
async fn tenant_layer_refuses_commands_without_a_tenant_and_stamps_events() {
    let app = Mink::builder()
        .store(InMemoryStore::new())
        .layer(TenantLayer::required())
        .build()
        .await
        .unwrap();
    let err = app.dispatch(credit("tn1", 1)).await.unwrap_err();
    assert!(
        matches!(&err, DispatchError::TenantRequired { command } if command == "Credit"),
        "{err:?}"
    );
    assert_eq!(runs("tn1"), 0);

    app.dispatch_with(credit("tn1", 1), Context::new().with_tenant_id("acme"))
        .await
        .unwrap();
    let events = app
        .store()
        .read_stream_forward("wallet-tn1", 1, 10)
        .await
        .unwrap();
    assert_eq!(events[0].metadata.tenant_id.as_deref(), Some("acme"));

    let app = Mink::builder()
        .store(InMemoryStore::new())
        .layer(TenantLayer::default_tenant("shared"))
        .build()
        .await
        .unwrap();
    app.dispatch(credit("tn2", 1)).await.unwrap();
    let events = app
        .store()
        .read_stream_forward("wallet-tn2", 1, 10)
        .await
        .unwrap();
    assert_eq!(events[0].metadata.tenant_id.as_deref(), Some("shared"));
}
