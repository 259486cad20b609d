//! What the macros register through `inventory`, and the checks run on it
//! when a [`crate::Mink`] is built.

use std::collections::BTreeMap;

use crate::command::HandlerRegistration;
use crate::error::{Error, Result};
use crate::event::EventRegistration;

/// Everything registered in this binary, checked for clashes.
#[derive(Debug, Clone)]
pub struct Registry {
    events: BTreeMap<&'static str, EventRegistration>,
    handlers: Vec<HandlerRegistration>,
}

impl Registry {
    /// Collects the registrations of the whole binary.
    ///
    /// Fails with [`Error::DuplicateEventType`] when two Rust types claim
    /// the same event type name.
    pub fn discover() -> Result<Self> {
        Self::from_parts(
            inventory::iter::<EventRegistration>.into_iter().copied(),
            inventory::iter::<HandlerRegistration>.into_iter().copied(),
        )
    }

    /// Builds a registry from explicit registrations, with the same checks.
    pub fn from_parts(
        events: impl IntoIterator<Item = EventRegistration>,
        handlers: impl IntoIterator<Item = HandlerRegistration>,
    ) -> Result<Self> {
        let mut by_name: BTreeMap<&'static str, EventRegistration> = BTreeMap::new();
        let mut clashes = Vec::new();
        for reg in events {
            match by_name.get(reg.event_type) {
                Some(first) if first.rust_type != reg.rust_type => {
                    // Report in a stable order whatever the link order was.
                    let (a, b) = if first.rust_type <= reg.rust_type {
                        (first, &reg)
                    } else {
                        (&reg, first)
                    };
                    clashes.push(Error::DuplicateEventType {
                        event_type: reg.event_type.to_owned(),
                        first: a.rust_type,
                        first_declared_at: a.declared_at,
                        second: b.rust_type,
                        second_declared_at: b.declared_at,
                    });
                }
                Some(_) => {}
                None => {
                    by_name.insert(reg.event_type, reg);
                }
            }
        }
        if let Some(first) = clashes
            .into_iter()
            .min_by(|a, b| a.to_string().cmp(&b.to_string()))
        {
            return Err(first);
        }
        let mut handlers: Vec<_> = handlers.into_iter().collect();
        handlers.sort_by_key(|h| (h.aggregate, h.command));
        Ok(Registry {
            events: by_name,
            handlers,
        })
    }

    /// The registered event types, by name.
    pub fn events(&self) -> impl Iterator<Item = &EventRegistration> {
        self.events.values()
    }

    /// Looks up one event type name.
    pub fn event(&self, event_type: &str) -> Option<&EventRegistration> {
        self.events.get(event_type)
    }

    /// The registered command handlers.
    pub fn handlers(&self) -> &[HandlerRegistration] {
        &self.handlers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(name: &'static str, ty: &'static str) -> EventRegistration {
        EventRegistration {
            event_type: name,
            schema_version: 1,
            rust_type: ty,
            declared_at: if ty.starts_with('a') {
                "src/a.rs:3"
            } else {
                "src/b.rs:7"
            },
            schema: || None,
        }
    }

    #[test]
    fn duplicate_names_are_refused_naming_both_types() {
        let err = Registry::from_parts(
            [
                ev("Created", "b::CustomerEvent::Created"),
                ev("Created", "a::OrderEvent::Created"),
            ],
            [],
        )
        .unwrap_err();
        match err {
            ref e @ Error::DuplicateEventType {
                ref event_type,
                first,
                first_declared_at,
                second,
                second_declared_at,
            } => {
                assert_eq!(event_type, "Created");
                assert_eq!(first, "a::OrderEvent::Created");
                assert_eq!(first_declared_at, "src/a.rs:3");
                assert_eq!(second, "b::CustomerEvent::Created");
                assert_eq!(second_declared_at, "src/b.rs:7");
                let message = e.to_string();
                assert!(
                    message.contains("src/a.rs:3") && message.contains("src/b.rs:7"),
                    "{message}"
                );
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn distinct_names_are_kept() {
        let reg = Registry::from_parts(
            [
                ev("Created", "a::E::Created"),
                ev("Shipped", "a::E::Shipped"),
            ],
            [],
        )
        .unwrap();
        assert_eq!(reg.events().count(), 2);
        assert_eq!(reg.event("Shipped").unwrap().rust_type, "a::E::Shipped");
        assert!(reg.event("Nope").is_none());
    }
}
