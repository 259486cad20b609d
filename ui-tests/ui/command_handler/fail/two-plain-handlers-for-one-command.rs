use mink::prelude::*;

#[command]
pub struct SendReminder {
    to: String,
}

#[derive(Debug, thiserror::Error)]
#[error("mail down")]
pub struct MailDown;

#[command_handler]
async fn send_reminder(_cmd: SendReminder) -> Result<(), MailDown> {
    Ok(())
}

#[command_handler]
async fn send_reminder_again(_cmd: SendReminder) -> Result<(), MailDown> {
    Ok(())
}

fn main() {}
