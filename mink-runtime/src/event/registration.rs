//! What `#[event]` registers through `inventory`, one entry per stable type
//! name.

/// One stable event type name and the Rust type that produces it.
#[derive(Debug, Clone, Copy)]
pub struct EventRegistration {
    /// The stable name stored with each event.
    pub event_type: &'static str,
    /// The payload's schema version.
    pub schema_version: u32,
    /// The full Rust path of the type (and variant) behind it.
    pub rust_type: &'static str,
    /// Where the type is declared, as `file:line`.
    pub declared_at: &'static str,
    /// The JSON Schema of the payload: `Some` when the payload's type
    /// implements `schemars::JsonSchema` (for an enum variant with fields,
    /// when every field's type does), `None` otherwise.
    pub schema: fn() -> Option<serde_json::Value>,
}
inventory::collect!(EventRegistration);

// By hand: function pointers do not compare meaningfully, and the schema
// is a function of the Rust type, which is compared.
impl PartialEq for EventRegistration {
    fn eq(&self, other: &Self) -> bool {
        self.event_type == other.event_type
            && self.schema_version == other.schema_version
            && self.rust_type == other.rust_type
            && self.declared_at == other.declared_at
    }
}
impl Eq for EventRegistration {}
