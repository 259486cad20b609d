use mink::prelude::*;

#[event]
pub trait Opened {}

fn main() {}
