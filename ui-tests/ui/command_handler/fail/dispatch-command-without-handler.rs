use mink::prelude::*;

#[event]
pub enum DoorEvent {
    Opened,
}

#[derive(Aggregate, Default)]
#[aggregate(events = DoorEvent, category = "door")]
pub struct Door {
    #[aggregate(id)]
    id: String,
}

impl Door {
    fn apply(&mut self, _event: &DoorEvent) {}
}

#[command(aggregate = Door)]
pub struct OpenDoor {
    #[command(id)]
    door_id: String,
}

async fn run(app: Mink) {
    // No #[command_handler] method takes `OpenDoor`.
    let _ = app.dispatch(OpenDoor { door_id: "d1".into() }).await;
}

fn main() {
    let _ = run;
}
