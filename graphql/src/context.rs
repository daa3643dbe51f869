//! Per-request context: the credentials and resolved principal, and the helpers every
//! resolver starts with.

use std::sync::Arc;

use async_graphql::{Context, Guard};
use policies::{Plans, Rbac};
use sea_orm::DatabaseConnection;

use crate::auth::principal::{Credentials, KeyUsage, Principal, TenantCtx};
use crate::auth::tokens::JwtKeys;
use crate::error::ApiError;
use crate::secrets::Sealer;

/// What every resolver can reach. Cloned per request (cheap: all handles).
#[derive(Clone)]
pub struct ApiState {
    /// The source of truth.
    pub db: DatabaseConnection,
    /// The transport to workers and other API replicas (config events, rate limits).
    pub bus: Arc<dyn bus::Bus>,
    /// casbin: which role may do what.
    pub rbac: Arc<Rbac>,
    /// Access-token keys and token lifetimes.
    pub jwt: Arc<JwtKeys>,
    /// Seals secrets before they are stored.
    pub sealer: Arc<Sealer>,
    /// Plan quotas.
    pub plans: Arc<Plans>,
    /// Debounces API keys' last-used writes.
    pub key_usage: Arc<KeyUsage>,
    /// Requests per minute allowed to a caller without credentials (per address), for
    /// register and login.
    pub anonymous_requests_per_minute: u64,
    /// Whether Python, JavaScript and Bash scripts may run as host processes (an
    /// operator switch for self-hosted single-tenant installs; Lua always runs, in the
    /// sandbox).
    pub host_scripts: bool,
    /// Live feeds: this process's fan-out of alerts, deliveries and progress.
    pub live: crate::live::Hub,
}

impl ApiState {
    /// Announces that a tenant's configuration changed (after the change committed), so
    /// the worker holding the tenant applies it before its next block. Best effort: a
    /// lost announcement is caught by the workers' counter check and reconcile.
    pub async fn config_changed(&self, tenant: Option<uuid::Uuid>) {
        if let Err(e) = bus::events::config_changed(&*self.bus, tenant).await {
            tracing::warn!(error = %e, "announcing a configuration change failed");
        }
    }
}

/// The request's caller.
#[derive(Clone, Debug, Default)]
pub struct RequestCtx {
    pub creds: Credentials,
    pub principal: Option<Principal>,
}

pub fn state<'a>(ctx: &Context<'a>) -> &'a ApiState {
    ctx.data_unchecked::<ApiState>()
}

pub fn request<'a>(ctx: &Context<'a>) -> &'a RequestCtx {
    ctx.data_unchecked::<RequestCtx>()
}

/// The authenticated caller, or `UNAUTHENTICATED`.
pub fn principal<'a>(ctx: &Context<'a>) -> Result<&'a Principal, ApiError> {
    request(ctx)
        .principal
        .as_ref()
        .ok_or(ApiError::Unauthenticated)
}

/// The caller and its tenant, after checking it may `action` `resource` there.
pub fn authorize<'a>(
    ctx: &Context<'a>,
    resource: &str,
    action: &str,
) -> Result<(&'a Principal, &'a TenantCtx), ApiError> {
    let p = principal(ctx)?;
    let t = p.authorize(&state(ctx).rbac, resource, action)?;
    Ok((p, t))
}

/// Field guard: the caller may `action` on `resource` in its tenant.
pub struct Perm {
    resource: &'static str,
    action: &'static str,
}

impl Perm {
    pub fn new(resource: &'static str, action: &'static str) -> Self {
        Self { resource, action }
    }
}

impl Guard for Perm {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        authorize(ctx, self.resource, self.action)
            .map(drop)
            .map_err(Into::into)
    }
}

/// Field guard: any authenticated caller.
pub struct Authenticated;

impl Guard for Authenticated {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        principal(ctx).map(drop).map_err(Into::into)
    }
}

/// Field guard: the platform administrator, for platform resources.
pub struct Platform {
    resource: &'static str,
    action: &'static str,
}

impl Platform {
    pub fn new(resource: &'static str, action: &'static str) -> Self {
        Self { resource, action }
    }
}

impl Guard for Platform {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        principal(ctx)?
            .authorize_platform(&state(ctx).rbac, self.resource, self.action)
            .map_err(Into::into)
    }
}
