//! Correlation and causation: the ids are carried from the context to the
//! events, and a reaction keeps the correlation and is caused by its event.

use mink::prelude::*;

use super::credit;

#[tokio::test]
async fn correlation_and_causation_ids_are_carried_to_the_events() {
    let app = Mink::builder()
        .store(InMemoryStore::new())
        .build()
        .await
        .unwrap();

    // No correlation given: one is created and shared by all events.
    let ctx = Context::new().with_user_id("ada");
    let command_id = ctx.command_id;
    app.dispatch_with(credit("c1", 1), ctx).await.unwrap();
    let first = &app
        .store()
        .read_stream_forward("wallet-c1", 1, 1)
        .await
        .unwrap()[0];
    let correlation = first.metadata.correlation_id.clone().expect("created");
    assert_eq!(correlation, command_id.to_string());
    assert_eq!(first.metadata.causation_id, Some(command_id.to_string()));
    assert_eq!(first.metadata.user_id.as_deref(), Some("ada"));

    // A command reacting to that event keeps its correlation and is caused
    // by it; its own events are caused by the new command.
    let reaction = Context::caused_by(first);
    let reaction_id = reaction.command_id;
    app.dispatch_with(credit("c2", 2), reaction).await.unwrap();
    let second = &app
        .store()
        .read_stream_forward("wallet-c2", 1, 1)
        .await
        .unwrap()[0];
    assert_eq!(second.metadata.correlation_id, Some(correlation));
    assert_eq!(second.metadata.causation_id, Some(reaction_id.to_string()));
    assert_eq!(
        second.metadata.custom.get("command_causation_id"),
        Some(&first.event_id.to_string())
    );
    assert_eq!(second.metadata.user_id.as_deref(), Some("ada"));

    // An explicit correlation id wins.
    app.dispatch_with(credit("c3", 1), Context::new().with_correlation_id("req-9"))
        .await
        .unwrap();
    let third = &app
        .store()
        .read_stream_forward("wallet-c3", 1, 1)
        .await
        .unwrap()[0];
    assert_eq!(third.metadata.correlation_id.as_deref(), Some("req-9"));
}
