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

#[derive(Debug, thiserror::Error)]
#[error("locked")]
pub struct Locked;

#[command_handler]
impl Door {
    fn open(&self, _cmd: OpenDoor) -> Result<Vec<DoorEvent>, Locked> {
        Ok(vec![DoorEvent::Opened])
    }

    fn apply(&mut self, _event: &DoorEvent) {}
}

#[command_handler]
impl Door {
    fn open_again(&self, _cmd: OpenDoor) -> Result<Vec<DoorEvent>, Locked> {
        Ok(vec![])
    }
}

fn main() {}
