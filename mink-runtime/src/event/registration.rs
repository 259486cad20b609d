//! What `#[event]` registers through `inventory`, one entry per stable type
//! name.

/// One stable event type name and the Rust type that produces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRegistration {
    /// The stable name stored with each event.
    pub event_type: &'static str,
    /// The payload's schema version.
    pub schema_version: u32,
    /// The full Rust path of the type (and variant) behind it.
    pub rust_type: &'static str,
    /// Where the type is declared, as `file:line`.
    pub declared_at: &'static str,
}
inventory::collect!(EventRegistration);
