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

#[command_handler]
impl Door {
    #[command_handler(skipp)]
    fn helper(&self, _n: u32) -> bool {
        true
    }

    fn apply(&mut self, _event: &DoorEvent) {}
}

fn main() {}
