//! Tenant checks: refuse commands without a tenant, or give them a default.

use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use futures::future::{BoxFuture, FutureExt};
use tower::{Layer, Service};

use super::envelope::CommandEnvelope;
use super::error::BusError;
use crate::command::CommandResult;
use crate::error::BoxError;

/// Reads the tenant id from the dispatch [`super::Context`]. Every command
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
    /// [`BusError::TenantRequired`].
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
        TenantService {
            inner,
            policy: Arc::clone(&self.policy),
        }
    }
}

/// The service of [`TenantLayer`].
#[derive(Debug, Clone)]
pub struct TenantService<S> {
    inner: S,
    policy: Arc<TenantPolicy>,
}

impl<S> Service<CommandEnvelope> for TenantService<S>
where
    S: Service<CommandEnvelope, Response = CommandResult, Error = BoxError>,
    S::Future: Send + 'static,
{
    type Response = CommandResult;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<CommandResult, BoxError>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut envelope: CommandEnvelope) -> Self::Future {
        let has_tenant = envelope
            .context()
            .tenant_id
            .as_deref()
            .is_some_and(|t| !t.is_empty());
        if !has_tenant {
            match &*self.policy {
                TenantPolicy::Required => {
                    let err = BusError::TenantRequired {
                        command: envelope.command_name().to_owned(),
                    };
                    return futures::future::ready(Err(err.into())).boxed();
                }
                TenantPolicy::Default(t) => envelope.context_mut().tenant_id = Some(t.clone()),
            }
        }
        self.inner.call(envelope).boxed()
    }
}
