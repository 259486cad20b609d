//! Tenant checks: refuse commands without a tenant, or give them a default.

use std::sync::Arc;

use futures::future::FutureExt;
use tower::Layer;

use super::envelope::CommandEnvelope;
use super::middleware::{BusFuture, Middleware, MiddlewareService, Next};
use crate::command::DispatchError;

/// Reads the tenant id from the dispatch [`Context`](crate::Context). Every command
/// stamps it on the events it stores (`metadata.tenant_id`); this layer
/// decides what happens when it is missing.
#[derive(Debug, Clone)]
pub struct TenantLayer {
    policy: Arc<TenantPolicy>,
}

#[derive(Debug)]
enum TenantPolicy {
    Required,
    Default(String),
}

impl TenantLayer {
    /// Refuses commands without a tenant id with
    /// [`DispatchError::TenantRequired`].
    pub fn required() -> Self {
        TenantLayer {
            policy: Arc::new(TenantPolicy::Required),
        }
    }

    /// Uses `tenant` for commands without a tenant id.
    pub fn default_tenant(tenant: impl Into<String>) -> Self {
        TenantLayer {
            policy: Arc::new(TenantPolicy::Default(tenant.into())),
        }
    }
}

impl<S> Layer<S> for TenantLayer {
    type Service = TenantService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MiddlewareService::new(inner, self.clone())
    }
}

/// The service of [`TenantLayer`].
pub type TenantService<S> = MiddlewareService<S, TenantLayer>;

impl Middleware for TenantLayer {
    fn handle(&self, mut envelope: CommandEnvelope, next: Next<'_>) -> BusFuture {
        let has_tenant = envelope
            .context()
            .tenant_id
            .as_deref()
            .is_some_and(|t| !t.is_empty());
        if !has_tenant {
            match &*self.policy {
                TenantPolicy::Required => {
                    let err = DispatchError::TenantRequired {
                        command: envelope.command_name().to_owned(),
                    };
                    return futures::future::ready(Err(err)).boxed();
                }
                TenantPolicy::Default(t) => envelope.context_mut().tenant_id = Some(t.clone()),
            }
        }
        next.run(envelope)
    }
}
