use mink::prelude::*;

#[event]
pub enum DoorEvent {
    Opened,
}

#[event]
pub enum WindowEvent {
    Tilted,
}

#[derive(Aggregate, Default)]
#[aggregate(events = DoorEvent, category = "door")]
pub struct Door {
    #[aggregate(id)]
    id: String,
}

#[derive(Aggregate, Default)]
#[aggregate(events = WindowEvent, category = "window")]
pub struct Window {
    #[aggregate(id)]
    id: String,
}

impl Window {
    fn apply(&mut self, _event: &WindowEvent) {}
}

#[command(aggregate = Window)]
pub struct TiltWindow {
    #[command(id)]
    window_id: String,
}

#[derive(Debug, thiserror::Error)]
#[error("locked")]
pub struct Locked;

#[command_handler]
impl Door {
    fn tilt(&self, _cmd: TiltWindow) -> Result<Vec<DoorEvent>, Locked> {
        Ok(vec![DoorEvent::Opened])
    }

    fn apply(&mut self, _event: &DoorEvent) {}
}

fn main() {}
