//! What `#[saga]` generates, exercised through the `Saga` trait.
