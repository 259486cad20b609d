// A method shaped like a handler is left alone with #[command_handler(skip)],
// and so are methods that do not take `&self` plus one command.
use mink::prelude::*;

#[event]
pub enum LampEvent {
    SwitchedOn,
}

#[derive(Aggregate, Default)]
#[aggregate(events = LampEvent, category = "lamp")]
pub struct Lamp {
    #[aggregate(id)]
    id: String,
    on: bool,
}

#[command(aggregate = Lamp)]
pub struct SwitchOn {
    #[command(id)]
    lamp_id: String,
}

#[derive(Debug, thiserror::Error)]
#[error("the lamp is already on")]
pub struct AlreadyOn;

#[command_handler]
impl Lamp {
    fn switch_on(&self, _cmd: SwitchOn) -> Result<Vec<LampEvent>, AlreadyOn> {
        self.refuse_if_on(0)?;
        Ok(vec![LampEvent::SwitchedOn])
    }

    #[command_handler(skip)]
    fn refuse_if_on(&self, _attempt: u32) -> Result<(), AlreadyOn> {
        if self.on { Err(AlreadyOn) } else { Ok(()) }
    }

    fn is_on(&self) -> bool {
        self.on
    }

    fn label(&self, prefix: &str) -> String {
        format!("{prefix}{}", self.id)
    }

    fn apply(&mut self, event: &LampEvent) {
        match event {
            LampEvent::SwitchedOn => self.on = true,
        }
    }
}

fn main() {
    let lamp = Lamp::default();
    assert!(!lamp.is_on());
    assert_eq!(lamp.label("lamp:"), "lamp:");
    assert!(lamp.refuse_if_on(1).is_ok());
}
