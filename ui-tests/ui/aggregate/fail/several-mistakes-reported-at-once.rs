// Every mistake in one input is reported in the same build.
use mink::prelude::*;

#[event]
pub enum DoorEvent {
    Opened,
}

#[derive(Aggregate, Default)]
#[aggregate(events = DoorEvent, categroy = "door", colour = "red")]
pub struct Door {
    #[aggregate(id)]
    id: String,
    #[aggregate(id)]
    serial: u64,
    #[aggregate(key)]
    lock: u8,
}

impl Door {
    fn apply(&mut self, _event: &DoorEvent) {}
}

fn main() {}
