//! What `#[projection]` registers through `inventory`: one entry per
//! projection, so that the application builder finds them and refuses two
//! with one name.

use std::sync::Arc;

use super::{Projection, ProjectionKind};

/// One projection declared with `#[projection]`.
#[derive(Debug, Clone, Copy)]
pub struct ProjectionRegistration {
    /// Its unique name.
    pub name: &'static str,
    /// How it runs.
    pub kind: ProjectionKind,
    /// The Rust type of the impl block.
    pub rust_type: &'static str,
    /// Where it is declared, as `file:line`.
    pub declared_at: &'static str,
    /// Builds it when its type is `Default`; otherwise the application
    /// passes an instance to the builder.
    pub make: fn() -> Option<Arc<dyn Projection>>,
}

inventory::collect!(ProjectionRegistration);

/// Every registered projection, in no particular order.
pub fn registered() -> impl Iterator<Item = &'static ProjectionRegistration> {
    inventory::iter::<ProjectionRegistration>.into_iter()
}
