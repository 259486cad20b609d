//! What travels with a command besides the command itself.

use std::collections::BTreeMap;

use uuid::Uuid;

use crate::event::{EventMetadata, RecordedEvent};

/// The context of one dispatch: who asks, for which tenant, and what caused
/// it. Its ids end up in the metadata of every event the command produces.
///
/// # Examples
///
/// ```
/// use mink_runtime::Context;
///
/// let ctx = Context::new()
///     .with_correlation_id("req-17")
///     .with_user_id("ada")
///     .with_tenant_id("acme");
/// assert_eq!(ctx.correlation_id.as_deref(), Some("req-17"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// This command's own id; each produced event's causation id.
    pub command_id: Uuid,
    /// Ties together everything caused by one original request; created
    /// when absent.
    pub correlation_id: Option<String>,
    /// What caused this command (an event id when dispatched from an event
    /// handler or saga).
    pub causation_id: Option<String>,
    /// Who acts.
    pub user_id: Option<String>,
    /// The tenant the command runs for.
    pub tenant_id: Option<String>,
    /// An idempotency key given by the caller; overrides the command's own.
    pub idempotency_key: Option<String>,
    /// Anything else; copied into each event's custom metadata.
    pub custom: BTreeMap<String, String>,
}

impl Default for Context {
    fn default() -> Self {
        Context::new()
    }
}

impl Context {
    /// An empty context with a fresh command id.
    pub fn new() -> Self {
        Context {
            command_id: Uuid::now_v7(),
            correlation_id: None,
            causation_id: None,
            user_id: None,
            tenant_id: None,
            idempotency_key: None,
            custom: BTreeMap::new(),
        }
    }

    /// The context of a command dispatched in reaction to `event`: same
    /// correlation id (or the event's id when it had none), caused by the
    /// event, same user and tenant.
    pub fn caused_by(event: &RecordedEvent) -> Self {
        let m = &event.metadata;
        Context {
            correlation_id: Some(
                m.correlation_id
                    .clone()
                    .unwrap_or_else(|| event.event_id.to_string()),
            ),
            causation_id: Some(event.event_id.to_string()),
            user_id: m.user_id.clone(),
            tenant_id: m.tenant_id.clone(),
            ..Context::new()
        }
    }

    /// Sets the correlation id.
    pub fn with_correlation_id(mut self, id: impl Into<String>) -> Self {
        self.correlation_id = Some(id.into());
        self
    }

    /// Sets the causation id.
    pub fn with_causation_id(mut self, id: impl Into<String>) -> Self {
        self.causation_id = Some(id.into());
        self
    }

    /// Sets the user id.
    pub fn with_user_id(mut self, id: impl Into<String>) -> Self {
        self.user_id = Some(id.into());
        self
    }

    /// Sets the tenant id.
    pub fn with_tenant_id(mut self, id: impl Into<String>) -> Self {
        self.tenant_id = Some(id.into());
        self
    }

    /// Sets the idempotency key.
    pub fn with_idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// Adds a custom entry.
    pub fn with_custom(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.custom.insert(key.into(), value.into());
        self
    }

    /// The correlation id, created from the command id when absent.
    pub(crate) fn ensure_correlation_id(&mut self) -> &str {
        self.correlation_id
            .get_or_insert_with(|| self.command_id.to_string())
    }

    /// The metadata stamped on each event the command produces: this
    /// command as causation, the rest copied. With the `otel` feature, the
    /// current span's W3C trace context is added as the custom entries
    /// `traceparent` and `tracestate` (see [`crate::observability`]).
    pub fn event_metadata(&self) -> EventMetadata {
        let mut custom = self.custom.clone();
        crate::observability::inject_current_trace(&mut custom);
        if let Some(cause) = &self.causation_id {
            custom.insert(
                EventMetadata::COMMAND_CAUSATION_ID.to_owned(),
                cause.clone(),
            );
        }
        EventMetadata {
            correlation_id: Some(
                self.correlation_id
                    .clone()
                    .unwrap_or_else(|| self.command_id.to_string()),
            ),
            causation_id: Some(self.command_id.to_string()),
            user_id: self.user_id.clone(),
            tenant_id: self.tenant_id.clone(),
            custom,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Position;

    #[test]
    fn events_are_caused_by_the_command_and_share_its_correlation() {
        let ctx = Context::new().with_correlation_id("c-1").with_user_id("u");
        let m = ctx.event_metadata();
        assert_eq!(m.correlation_id.as_deref(), Some("c-1"));
        assert_eq!(m.causation_id, Some(ctx.command_id.to_string()));
        assert_eq!(m.user_id.as_deref(), Some("u"));
    }

    #[test]
    fn a_command_caused_by_an_event_inherits_its_correlation() {
        let event = RecordedEvent {
            event_id: Uuid::now_v7(),
            stream_id: "order-1".into(),
            version: 1,
            position: Position::sequential(1),
            event_type: "Created".into(),
            schema_version: 1,
            payload: vec![],
            content_type: Default::default(),
            metadata: EventMetadata::default()
                .with_correlation_id("root")
                .with_tenant_id("t"),
            timestamp: chrono::Utc::now(),
        };
        let ctx = Context::caused_by(&event);
        assert_eq!(ctx.correlation_id.as_deref(), Some("root"));
        assert_eq!(ctx.causation_id, Some(event.event_id.to_string()));
        assert_eq!(ctx.tenant_id.as_deref(), Some("t"));
        let m = ctx.event_metadata();
        assert_eq!(
            m.custom.get(EventMetadata::COMMAND_CAUSATION_ID),
            Some(&event.event_id.to_string())
        );
    }
}
