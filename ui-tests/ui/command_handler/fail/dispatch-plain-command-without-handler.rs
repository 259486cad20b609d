use mink::prelude::*;

// No `aggregate`: a plain command, which needs a handler function.
#[command]
pub struct SendReminder {
    to: String,
}

async fn run(app: Mink) {
    let _ = app.dispatch(SendReminder { to: "ada".into() }).await;
}

fn main() {
    let _ = run;
}
