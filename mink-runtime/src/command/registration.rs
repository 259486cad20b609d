//! What `#[command_handler]` registers through `inventory`.

/// One command handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandlerRegistration {
    /// The command's Rust type.
    pub command: &'static str,
    /// The aggregate that handles it.
    pub aggregate: &'static str,
    /// The handler method.
    pub method: &'static str,
}
inventory::collect!(HandlerRegistration);
