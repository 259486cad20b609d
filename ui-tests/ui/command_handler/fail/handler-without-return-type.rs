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

#[command(aggregate = Door)]
pub struct OpenDoor {
    #[command(id)]
    door_id: String,
}

#[command_handler]
impl Door {
    fn open(&self, _cmd: OpenDoor) {}

    fn apply(&mut self, _event: &DoorEvent) {}
}

fn main() {}
