//! GraphQL object types.

use async_graphql::{ComplexObject, Context, Enum, ID, Json, SimpleObject};
use chrono::{DateTime, Utc};

use crate::services::networks::shown;
use entities::{
    alerts, api_keys, audit_logs, deliveries, invitations, networks, tenant_monitors,
    tenant_networks, tenant_triggers,
};

/// An access token (short-lived) and a refresh token (rotated on every use).
#[derive(SimpleObject)]
pub struct AuthPayload {
    pub access_token: String,
    /// Unix seconds.
    pub access_token_expires_at: i64,
    pub refresh_token: String,
}

impl From<crate::services::accounts::Session> for AuthPayload {
    fn from(s: crate::services::accounts::Session) -> Self {
        Self {
            access_token: s.access_token,
            access_token_expires_at: s.access_expires_at,
            refresh_token: s.refresh_token,
        }
    }
}

#[derive(SimpleObject)]
pub struct Tenant {
    pub id: ID,
    pub slug: String,
    pub plan: String,
    /// The caller's role here.
    pub role: String,
}

#[derive(SimpleObject)]
pub struct Member {
    pub user_id: ID,
    pub email: String,
    pub role: String,
    pub joined_at: DateTime<Utc>,
}

#[derive(SimpleObject)]
pub struct Invitation {
    pub id: ID,
    pub email: String,
    pub role: String,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
}

impl From<invitations::Model> for Invitation {
    fn from(i: invitations::Model) -> Self {
        Self {
            id: ID(i.id.to_string()),
            email: i.email,
            role: i.role,
            expires_at: i.expires_at,
            accepted_at: i.accepted_at,
        }
    }
}

/// How much an alert matters. Each monitor has one (`INFO` unless set); its alerts keep
/// the one it had when they fired.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Severity {
    #[default]
    Info,
    Warning,
    Critical,
}

impl Severity {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    /// From the stored form (the database only holds the three values).
    pub fn parse(stored: &str) -> Self {
        match stored {
            "warning" => Severity::Warning,
            "critical" => Severity::Critical,
            _ => Severity::Info,
        }
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum NetworkSource {
    /// A platform network the tenant enabled.
    Catalog,
    /// The tenant's own, with its own RPC URLs.
    Private,
}

#[derive(SimpleObject)]
pub struct Network {
    pub id: ID,
    pub slug: String,
    pub name: String,
    pub network_type: String,
    pub source: NetworkSource,
    /// The OZ definition, secrets hidden (private networks only).
    pub definition: Option<Json<serde_json::Value>>,
    pub version: i64,
}

impl From<tenant_networks::Model> for Network {
    fn from(n: tenant_networks::Model) -> Self {
        Self {
            id: ID(n.id.to_string()),
            slug: n.slug,
            name: n.name,
            network_type: n.network_type,
            source: if n.catalog_network_id.is_some() {
                NetworkSource::Catalog
            } else {
                NetworkSource::Private
            },
            definition: n.definition.as_ref().map(|d| Json(shown(d))),
            version: n.version,
        }
    }
}

#[derive(SimpleObject)]
pub struct CatalogNetwork {
    pub slug: String,
    pub name: String,
    pub network_type: String,
    pub chain_id: Option<String>,
    pub network_passphrase: Option<String>,
    pub block_time_ms: Option<String>,
}

impl From<networks::Model> for CatalogNetwork {
    fn from(n: networks::Model) -> Self {
        let d = &n.definition;
        Self {
            slug: n.slug,
            name: n.name,
            network_type: n.network_type,
            chain_id: d.get("chain_id").map(ToString::to_string),
            network_passphrase: d
                .get("network_passphrase")
                .and_then(|v| v.as_str())
                .map(str::to_owned),
            block_time_ms: d.get("block_time_ms").map(ToString::to_string),
        }
    }
}

#[derive(SimpleObject)]
pub struct Monitor {
    pub id: ID,
    pub name: String,
    pub paused: bool,
    /// Copied into each alert the monitor raises.
    pub severity: Severity,
    /// Increases on every change.
    pub version: i64,
    /// The monitor in OZ Monitor's JSON shape.
    pub definition: Json<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<tenant_monitors::Model> for Monitor {
    fn from(m: tenant_monitors::Model) -> Self {
        Self {
            id: ID(m.id.to_string()),
            name: m.name,
            paused: m.paused,
            severity: Severity::parse(&m.severity),
            version: m.version,
            definition: Json(m.definition),
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(SimpleObject)]
pub struct Trigger {
    pub id: ID,
    /// The key monitors reference.
    pub slug: String,
    pub name: String,
    pub trigger_type: String,
    /// The OZ definition with every secret hidden: secrets are write-only.
    pub definition: Json<serde_json::Value>,
    pub version: i64,
}

impl From<tenant_triggers::Model> for Trigger {
    fn from(t: tenant_triggers::Model) -> Self {
        Self {
            id: ID(t.id.to_string()),
            slug: t.slug,
            name: t.name,
            trigger_type: t.trigger_type,
            definition: Json(shown(&t.definition)),
            version: t.version,
        }
    }
}

#[derive(SimpleObject)]
pub struct ApiKey {
    pub id: ID,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<api_keys::Model> for ApiKey {
    fn from(k: api_keys::Model) -> Self {
        Self {
            id: ID(k.id.to_string()),
            name: k.name,
            scopes: serde_json::from_value(k.scopes).unwrap_or_default(),
            created_at: k.created_at,
            expires_at: k.expires_at,
            revoked_at: k.revoked_at,
            last_used_at: k.last_used_at,
        }
    }
}

#[derive(SimpleObject)]
pub struct Alert {
    pub id: ID,
    pub monitor_id: ID,
    pub monitor_version: i64,
    pub network: String,
    /// Decimal string (block numbers exceed GraphQL's 32-bit Int).
    pub block_number: String,
    pub block_hash: String,
    pub transaction_hash: Option<String>,
    pub event_index: Option<String>,
    /// The monitor's severity when it fired.
    pub severity: Severity,
    /// The match in OZ Monitor's JSON shape.
    pub payload: Json<serde_json::Value>,
    pub created_at: DateTime<Utc>,
}

impl From<alerts::Model> for Alert {
    fn from(a: alerts::Model) -> Self {
        Self {
            id: ID(a.id.to_string()),
            monitor_id: ID(a.monitor_id.to_string()),
            monitor_version: a.monitor_version,
            network: a.network_slug,
            block_number: a.block_number.to_string(),
            block_hash: a.block_hash,
            transaction_hash: a.transaction_hash,
            event_index: a.event_index.map(|i| i.to_string()),
            severity: Severity::parse(&a.severity),
            payload: Json(a.payload),
            created_at: a.created_at,
        }
    }
}

#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Delivery {
    #[graphql(skip)]
    pub uuid: uuid::Uuid,
    pub id: ID,
    pub alert_id: ID,
    pub trigger_id: ID,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub last_status_code: Option<i32>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<deliveries::Model> for Delivery {
    fn from(d: deliveries::Model) -> Self {
        Self {
            uuid: d.id,
            id: ID(d.id.to_string()),
            alert_id: ID(d.alert_id.to_string()),
            trigger_id: ID(d.trigger_id.to_string()),
            status: d.status,
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            last_error: d.last_error,
            last_status_code: d.last_status_code,
            delivered_at: d.delivered_at,
            created_at: d.created_at,
        }
    }
}

#[ComplexObject]
impl Delivery {
    /// Every attempt of this delivery, oldest first (attempt numbers restart when it is
    /// redelivered).
    async fn attempt_log(
        &self,
        ctx: &Context<'_>,
    ) -> crate::error::ApiResult<Vec<DeliveryAttempt>> {
        let (_, t) = crate::context::authorize(ctx, "deliveries", "read")?;
        let rows =
            crate::services::alerts::attempts(crate::context::state(ctx), t, self.uuid).await?;
        Ok(rows.into_iter().map(DeliveryAttempt::from).collect())
    }
}

/// One attempt at a delivery.
#[derive(SimpleObject)]
pub struct DeliveryAttempt {
    pub attempt: i32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i64,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    /// `success`, `retryable` or `permanent`.
    pub outcome: String,
}

impl From<entities::delivery_attempts::Model> for DeliveryAttempt {
    fn from(a: entities::delivery_attempts::Model) -> Self {
        Self {
            attempt: a.attempt,
            started_at: a.started_at,
            duration_ms: a.duration_ms,
            status_code: a.status_code,
            error: a.error,
            outcome: a.outcome,
        }
    }
}

#[derive(SimpleObject)]
pub struct AuditLog {
    pub seq: String,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub actor_user_id: Option<ID>,
    pub actor_api_key_id: Option<ID>,
    /// What changed, secrets redacted.
    pub details: Json<serde_json::Value>,
    pub request_id: Option<String>,
    pub hash: String,
    pub created_at: DateTime<Utc>,
}

impl From<audit_logs::Model> for AuditLog {
    fn from(a: audit_logs::Model) -> Self {
        Self {
            seq: a.seq.to_string(),
            action: a.action,
            resource_type: a.resource_type,
            resource_id: a.resource_id,
            actor_user_id: a.actor_user_id.map(|u| ID(u.to_string())),
            actor_api_key_id: a.actor_api_key_id.map(|u| ID(u.to_string())),
            details: Json(a.details),
            request_id: a.request_id,
            hash: a.hash,
            created_at: a.created_at,
        }
    }
}

#[derive(SimpleObject)]
pub struct AuditChainVerdict {
    pub ok: bool,
    /// Rows verified before the first broken one (or all).
    pub checked: String,
    /// Chain position of the first row that does not verify.
    pub broken_at: Option<String>,
}

#[derive(SimpleObject)]
pub struct Quotas {
    pub monitors: String,
    pub networks: String,
    pub triggers: String,
    pub api_keys: String,
    pub members: String,
    pub alerts_per_day: String,
    pub notifications_per_day: String,
    pub api_requests_per_minute: String,
}

#[derive(SimpleObject)]
pub struct Usage {
    pub monitors: String,
    pub networks: String,
    pub triggers: String,
    pub api_keys: String,
    pub members: String,
    pub alerts_today: String,
    pub notifications_today: String,
    pub quotas: Quotas,
}

impl From<crate::services::alerts::Usage> for Usage {
    fn from(u: crate::services::alerts::Usage) -> Self {
        let q = u.quotas;
        Self {
            monitors: u.monitors.to_string(),
            networks: u.networks.to_string(),
            triggers: u.triggers.to_string(),
            api_keys: u.api_keys.to_string(),
            members: u.members.to_string(),
            alerts_today: u.alerts_today.to_string(),
            notifications_today: u.notifications_today.to_string(),
            quotas: Quotas {
                monitors: q.monitors.to_string(),
                networks: q.networks.to_string(),
                triggers: q.triggers.to_string(),
                api_keys: q.api_keys.to_string(),
                members: q.members.to_string(),
                alerts_per_day: q.alerts_per_day.to_string(),
                notifications_per_day: q.notifications_per_day.to_string(),
                api_requests_per_minute: q.api_requests_per_minute.to_string(),
            },
        }
    }
}
