use mink::prelude::*;

#[event]
pub enum DoorEvent {
    Opened {
        #[serde(skip_serializing_if = "Option::is_none")]
        by: Option<String>,
    },
}

fn main() {}
