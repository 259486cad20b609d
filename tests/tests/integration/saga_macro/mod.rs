//! What `#[saga]` generates, exercised through the `Saga` trait.

mod dispatch;
mod domain;
mod fixture;
mod generated;
mod hygiene;
mod manager;
