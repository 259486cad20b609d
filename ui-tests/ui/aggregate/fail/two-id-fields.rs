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
    #[aggregate(id)]
    serial: u64,
}

impl Door {
    fn apply(&mut self, _event: &DoorEvent) {}
}

fn main() {}
