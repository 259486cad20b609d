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

#[command(aggregate = Door, aggregat = Door)]
pub struct OpenDoor {
    #[command(id)]
    door_id: String,
}

fn main() {}
