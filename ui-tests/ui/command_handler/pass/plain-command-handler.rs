use mink::prelude::*;

/// A command no aggregate owns.
#[command]
pub struct SendReminder {
    to: String,
}

#[derive(Debug, thiserror::Error)]
#[error("no address for {0}")]
pub struct NoAddress(String);

#[command_handler]
async fn send_reminder(cmd: SendReminder, ctx: HandlerContext) -> Result<(), NoAddress> {
    if cmd.to.is_empty() {
        return Err(NoAddress(cmd.to));
    }
    let event = mink::NewEvent::new("ReminderSent", br#"{}"#.to_vec())
        .with_metadata(ctx.event_metadata());
    ctx.store
        .append_to_stream("reminders-1", ExpectedVersion::Any, vec![event])
        .await
        .map_err(|_| NoAddress(cmd.to))?;
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let app = Mink::builder().store(InMemoryStore::new()).build().await.unwrap();
    app.dispatch(SendReminder { to: "ada".into() }).await.unwrap();
    let err = app.dispatch(SendReminder { to: String::new() }).await.unwrap_err();
    assert!(matches!(err, mink::DispatchError::Rejected(NoAddress(_))));
    let stored = app.store().read_stream_forward("reminders-1", 1, 10).await.unwrap();
    assert_eq!(stored.len(), 1);
}
