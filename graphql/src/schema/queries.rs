//! Queries. Every field that reads tenant data is guarded by its permission.

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, ID, Object};

use super::inputs::{AlertFilterInput, AuditFilterInput, DeliveryFilterInput};
use super::types::*;
use super::{int_id, uuid};
use crate::connection::{decode, encode, page_size};
use crate::context::{Authenticated, Perm, authorize, principal, state};
use crate::error::{ApiError, ApiResult};
use crate::services::{self, alerts as activity};

#[derive(Default)]
pub struct Query;

fn connection<T, N>(
    rows: Vec<T>,
    more: bool,
    cursor: impl Fn(&T) -> String,
    node: impl Fn(T) -> N,
) -> Connection<String, N>
where
    N: async_graphql::OutputType,
{
    let mut c = Connection::new(false, more);
    c.edges.extend(
        rows.into_iter()
            .map(|r| Edge::new(encode(&cursor(&r)), node(r))),
    );
    c
}

#[Object]
impl Query {
    /// The server's version.
    async fn api_version(&self) -> &'static str {
        env!("CARGO_PKG_VERSION")
    }

    /// The tenant the request acts in, with the caller's role.
    #[graphql(guard = "Perm::new(\"tenant\", \"read\")")]
    async fn tenant(&self, ctx: &Context<'_>) -> ApiResult<Tenant> {
        let (_, t) = authorize(ctx, "tenant", "read")?;
        Ok(Tenant {
            id: ID(t.id.to_string()),
            slug: t.slug.clone(),
            plan: t.plan.clone(),
            role: t.role.clone(),
        })
    }

    #[graphql(guard = "Perm::new(\"members\", \"read\")")]
    async fn members(&self, ctx: &Context<'_>) -> ApiResult<Vec<Member>> {
        let (_, t) = authorize(ctx, "members", "read")?;
        Ok(services::members::list(state(ctx), t)
            .await?
            .into_iter()
            .map(|m| Member {
                user_id: ID(m.user_id.to_string()),
                email: m.email,
                role: m.role,
                joined_at: m.joined_at,
            })
            .collect())
    }

    /// The platform's shared networks a tenant can enable.
    #[graphql(guard = "Authenticated")]
    async fn network_catalog(&self, ctx: &Context<'_>) -> ApiResult<Vec<CatalogNetwork>> {
        principal(ctx)?;
        Ok(services::networks::catalog(state(ctx))
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    #[graphql(guard = "Perm::new(\"networks\", \"read\")")]
    async fn networks(&self, ctx: &Context<'_>) -> ApiResult<Vec<Network>> {
        let (_, t) = authorize(ctx, "networks", "read")?;
        Ok(services::networks::list(state(ctx), t)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    #[graphql(
        guard = "Perm::new(\"monitors\", \"read\")",
        complexity = "first.unwrap_or(20).max(0) as usize * child_complexity"
    )]
    async fn monitors(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, Monitor>> {
        let (_, t) = authorize(ctx, "monitors", "read")?;
        let limit = page_size(first)?;
        let after = after
            .map(|c| {
                decode(&c).and_then(|k| {
                    uuid::Uuid::try_parse(&k).map_err(|_| ApiError::bad_input("invalid cursor"))
                })
            })
            .transpose()?;
        let (rows, more) = services::monitors::page(state(ctx), t, after, limit).await?;
        Ok(connection(rows, more, |m| m.id.to_string(), Monitor::from))
    }

    #[graphql(guard = "Perm::new(\"monitors\", \"read\")")]
    async fn monitor(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Monitor> {
        let (_, t) = authorize(ctx, "monitors", "read")?;
        Ok(services::monitors::get(state(ctx), t, uuid(&id)?)
            .await?
            .into())
    }

    #[graphql(guard = "Perm::new(\"triggers\", \"read\")")]
    async fn triggers(&self, ctx: &Context<'_>) -> ApiResult<Vec<Trigger>> {
        let (_, t) = authorize(ctx, "triggers", "read")?;
        Ok(services::triggers::list(state(ctx), t)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    #[graphql(guard = "Perm::new(\"triggers\", \"read\")")]
    async fn trigger(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Trigger> {
        let (_, t) = authorize(ctx, "triggers", "read")?;
        Ok(services::triggers::get(state(ctx), t, uuid(&id)?)
            .await?
            .into())
    }

    #[graphql(guard = "Perm::new(\"api_keys\", \"read\")")]
    async fn api_keys(&self, ctx: &Context<'_>) -> ApiResult<Vec<ApiKey>> {
        let (_, t) = authorize(ctx, "api_keys", "read")?;
        Ok(services::api_keys::list(state(ctx), t)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Newest first.
    #[graphql(
        guard = "Perm::new(\"alerts\", \"read\")",
        complexity = "first.unwrap_or(20).max(0) as usize * child_complexity"
    )]
    async fn alerts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<AlertFilterInput>,
    ) -> ApiResult<Connection<String, Alert, EmptyFields, EmptyFields>> {
        let (_, t) = authorize(ctx, "alerts", "read")?;
        let limit = page_size(first)?;
        let before = after
            .map(|c| {
                decode(&c).and_then(|k| {
                    k.parse::<i64>()
                        .map_err(|_| ApiError::bad_input("invalid cursor"))
                })
            })
            .transpose()?;
        let f = filter.unwrap_or_default();
        let filter = activity::AlertFilter {
            monitor_ids: f.monitor_ids.iter().map(uuid).collect::<Result<_, _>>()?,
            networks: f.networks,
            severities: f.severities.iter().map(|s| s.as_str().to_owned()).collect(),
            since: f.since,
        };
        let (rows, more) = activity::alerts_page(state(ctx), t, &filter, before, limit).await?;
        Ok(connection(rows, more, |a| a.id.to_string(), Alert::from))
    }

    #[graphql(guard = "Perm::new(\"alerts\", \"read\")")]
    async fn alert(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Alert> {
        let (_, t) = authorize(ctx, "alerts", "read")?;
        Ok(activity::alert(state(ctx), t, int_id(&id)?).await?.into())
    }

    /// Newest first.
    #[graphql(
        guard = "Perm::new(\"deliveries\", \"read\")",
        complexity = "first.unwrap_or(20).max(0) as usize * child_complexity"
    )]
    async fn deliveries(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<DeliveryFilterInput>,
    ) -> ApiResult<Connection<String, Delivery>> {
        let (_, t) = authorize(ctx, "deliveries", "read")?;
        let limit = page_size(first)?;
        let before = after
            .map(|c| {
                decode(&c).and_then(|k| {
                    uuid::Uuid::try_parse(&k).map_err(|_| ApiError::bad_input("invalid cursor"))
                })
            })
            .transpose()?;
        let f = filter.unwrap_or_default();
        let filter = activity::DeliveryFilter {
            statuses: f.statuses,
            alert_id: f.alert_id.as_ref().map(int_id).transpose()?,
            trigger_id: f.trigger_id.as_ref().map(uuid).transpose()?,
        };
        let (rows, more) = activity::deliveries_page(state(ctx), t, &filter, before, limit).await?;
        Ok(connection(rows, more, |d| d.id.to_string(), Delivery::from))
    }

    /// Newest first.
    #[graphql(
        guard = "Perm::new(\"audit\", \"read\")",
        complexity = "first.unwrap_or(20).max(0) as usize * child_complexity"
    )]
    async fn audit_logs(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<AuditFilterInput>,
    ) -> ApiResult<Connection<String, AuditLog>> {
        let (_, t) = authorize(ctx, "audit", "read")?;
        let limit = page_size(first)?;
        let before = after
            .map(|c| {
                decode(&c).and_then(|k| {
                    k.parse::<i64>()
                        .map_err(|_| ApiError::bad_input("invalid cursor"))
                })
            })
            .transpose()?;
        let f = filter.unwrap_or_default();
        let filter = activity::AuditFilter {
            actions: f.actions,
            resource_type: f.resource_type,
            since: f.since,
        };
        let (rows, more) = activity::audit_page(state(ctx), t, &filter, before, limit).await?;
        Ok(connection(
            rows,
            more,
            |a| a.seq.to_string(),
            AuditLog::from,
        ))
    }

    /// Recomputes the tenant's audit hash chain.
    #[graphql(guard = "Perm::new(\"audit\", \"read\")")]
    async fn verify_audit_chain(&self, ctx: &Context<'_>) -> ApiResult<AuditChainVerdict> {
        let (_, t) = authorize(ctx, "audit", "read")?;
        let v = activity::verify_chain(state(ctx), t).await?;
        Ok(AuditChainVerdict {
            ok: v.ok,
            checked: v.checked.to_string(),
            broken_at: v.broken_at.map(|s| s.to_string()),
        })
    }

    #[graphql(guard = "Perm::new(\"usage\", \"read\")")]
    async fn usage(&self, ctx: &Context<'_>) -> ApiResult<Usage> {
        let (_, t) = authorize(ctx, "usage", "read")?;
        Ok(activity::usage(state(ctx), t).await?.into())
    }
}
