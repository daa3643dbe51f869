//! Alerts, deliveries and the audit log, read side; redelivery.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::audit::{self, AuditEntry};
use crate::auth::principal::{Credentials, Principal, TenantCtx};
use crate::context::ApiState;
use crate::error::{ApiError, ServiceResult};
use crate::quotas;
use entities::{TenantTxn, alerts, audit_logs, deliveries};

#[derive(Clone, Debug, Default)]
pub struct AlertFilter {
    pub monitor_ids: Vec<Uuid>,
    pub networks: Vec<String>,
    /// Stored forms (`info`, `warning`, `critical`).
    pub severities: Vec<String>,
    pub since: Option<DateTime<Utc>>,
}

/// Newest first; `before`: an alert id (the cursor).
pub async fn alerts_page(
    st: &ApiState,
    tenant: &TenantCtx,
    filter: &AlertFilter,
    before: Option<i64>,
    limit: usize,
) -> ServiceResult<(Vec<alerts::Model>, bool)> {
    let txn = TenantTxn::begin(&st.db, tenant.id).await?;
    let mut q = txn
        .select::<alerts::Entity>()
        .order_by_desc(alerts::Column::Id);
    if let Some(b) = before {
        q = q.filter(alerts::Column::Id.lt(b));
    }
    q = filter.apply(q);
    let mut rows = q.limit(limit as u64 + 1).all(txn.conn()).await?;
    txn.commit().await?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    Ok((rows, more))
}

/// Oldest first: the tenant's alerts with ids in `(after, upto]` (a live feed's
/// backlog), at most `limit`.
pub async fn alerts_between(
    st: &ApiState,
    tenant: &TenantCtx,
    filter: &AlertFilter,
    after: i64,
    upto: i64,
    limit: usize,
) -> ServiceResult<Vec<alerts::Model>> {
    let txn = TenantTxn::begin(&st.db, tenant.id).await?;
    let mut q = txn
        .select::<alerts::Entity>()
        .filter(alerts::Column::Id.gt(after))
        .filter(alerts::Column::Id.lte(upto))
        .order_by_asc(alerts::Column::Id);
    q = filter.apply(q);
    let rows = q.limit(limit as u64).all(txn.conn()).await?;
    txn.commit().await?;
    Ok(rows)
}

impl AlertFilter {
    /// Narrows an alert query (the same test as [`AlertFilter::matches`]).
    fn apply(&self, mut q: sea_orm::Select<alerts::Entity>) -> sea_orm::Select<alerts::Entity> {
        if !self.monitor_ids.is_empty() {
            q = q.filter(alerts::Column::MonitorId.is_in(self.monitor_ids.clone()));
        }
        if !self.networks.is_empty() {
            q = q.filter(alerts::Column::NetworkSlug.is_in(self.networks.clone()));
        }
        if !self.severities.is_empty() {
            q = q.filter(alerts::Column::Severity.is_in(self.severities.clone()));
        }
        if let Some(since) = self.since {
            q = q.filter(alerts::Column::CreatedAt.gte(since));
        }
        q
    }

    /// Whether `alert` passes (the same test as the queries', for live alerts).
    pub fn matches(&self, alert: &alerts::Model) -> bool {
        (self.monitor_ids.is_empty() || self.monitor_ids.contains(&alert.monitor_id))
            && (self.networks.is_empty() || self.networks.contains(&alert.network_slug))
            && (self.severities.is_empty() || self.severities.contains(&alert.severity))
            && self.since.is_none_or(|s| alert.created_at >= s)
    }
}

pub async fn alert(st: &ApiState, tenant: &TenantCtx, id: i64) -> ServiceResult<alerts::Model> {
    let txn = TenantTxn::begin(&st.db, tenant.id).await?;
    let row = txn
        .select::<alerts::Entity>()
        .filter(alerts::Column::Id.eq(id))
        .one(txn.conn())
        .await?
        .ok_or(ApiError::NotFound)?;
    txn.commit().await?;
    Ok(row)
}

#[derive(Clone, Debug, Default)]
pub struct DeliveryFilter {
    pub statuses: Vec<String>,
    pub alert_id: Option<i64>,
    pub trigger_id: Option<Uuid>,
}

/// Newest first; `before`: a delivery id (UUIDv7, time-ordered).
pub async fn deliveries_page(
    st: &ApiState,
    tenant: &TenantCtx,
    filter: &DeliveryFilter,
    before: Option<Uuid>,
    limit: usize,
) -> ServiceResult<(Vec<deliveries::Model>, bool)> {
    let txn = TenantTxn::begin(&st.db, tenant.id).await?;
    let mut q = txn
        .select::<deliveries::Entity>()
        .order_by_desc(deliveries::Column::Id);
    if let Some(b) = before {
        q = q.filter(deliveries::Column::Id.lt(b));
    }
    if !filter.statuses.is_empty() {
        q = q.filter(deliveries::Column::Status.is_in(filter.statuses.clone()));
    }
    if let Some(a) = filter.alert_id {
        q = q.filter(deliveries::Column::AlertId.eq(a));
    }
    if let Some(t) = filter.trigger_id {
        q = q.filter(deliveries::Column::TriggerId.eq(t));
    }
    let mut rows = q.limit(limit as u64 + 1).all(txn.conn()).await?;
    txn.commit().await?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    Ok((rows, more))
}

/// A delivery's attempts, oldest first (at most the last 100).
pub async fn attempts(
    st: &ApiState,
    tenant: &TenantCtx,
    delivery: Uuid,
) -> ServiceResult<Vec<entities::delivery_attempts::Model>> {
    use entities::delivery_attempts;
    let txn = TenantTxn::begin(&st.db, tenant.id).await?;
    let mut rows = txn
        .select::<delivery_attempts::Entity>()
        .filter(delivery_attempts::Column::DeliveryId.eq(delivery))
        .order_by_desc(delivery_attempts::Column::Id)
        .limit(100)
        .all(txn.conn())
        .await?;
    txn.commit().await?;
    rows.reverse();
    Ok(rows)
}

/// Queues a delivery again (dead or delivered): pending now, same alert id, so the
/// receiver can still deduplicate.
pub async fn redeliver(
    st: &ApiState,
    p: &Principal,
    tenant: &TenantCtx,
    creds: &Credentials,
    id: Uuid,
) -> ServiceResult<deliveries::Model> {
    let txn = TenantTxn::begin(&st.db, tenant.id).await?;
    quotas::lock_tenant(&txn).await?;
    let delivery = txn
        .select::<deliveries::Entity>()
        .filter(deliveries::Column::Id.eq(id))
        .one(txn.conn())
        .await?
        .ok_or(ApiError::NotFound)?;
    if delivery.status == "pending" || delivery.status == "in_progress" {
        return Err(ApiError::Conflict("the delivery is already queued".into()));
    }
    let from = delivery.status.clone();
    let mut row: deliveries::ActiveModel = delivery.into();
    let now = Utc::now();
    row.status = Set("pending".to_owned());
    // A new round: the retry schedule starts over.
    row.attempts = Set(0);
    row.next_attempt_at = Set(now);
    row.locked_until = Set(None);
    row.updated_at = Set(now);
    let row = txn.update(row).await?;
    audit::record(
        &txn,
        &p.actor,
        creds,
        AuditEntry::new(
            "delivery.redeliver",
            "delivery",
            Some(id.to_string()),
            serde_json::json!({"from": from}),
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(row)
}

#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub actions: Vec<String>,
    pub resource_type: Option<String>,
    pub since: Option<DateTime<Utc>>,
}

/// Newest first; `before`: a chain position.
pub async fn audit_page(
    st: &ApiState,
    tenant: &TenantCtx,
    filter: &AuditFilter,
    before: Option<i64>,
    limit: usize,
) -> ServiceResult<(Vec<audit_logs::Model>, bool)> {
    let txn = TenantTxn::begin(&st.db, tenant.id).await?;
    let mut q = txn
        .select::<audit_logs::Entity>()
        .order_by_desc(audit_logs::Column::Seq);
    if let Some(b) = before {
        q = q.filter(audit_logs::Column::Seq.lt(b));
    }
    if !filter.actions.is_empty() {
        q = q.filter(audit_logs::Column::Action.is_in(filter.actions.clone()));
    }
    if let Some(r) = &filter.resource_type {
        q = q.filter(audit_logs::Column::ResourceType.eq(r.clone()));
    }
    if let Some(since) = filter.since {
        q = q.filter(audit_logs::Column::CreatedAt.gte(since));
    }
    let mut rows = q.limit(limit as u64 + 1).all(txn.conn()).await?;
    txn.commit().await?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    Ok((rows, more))
}

pub async fn verify_chain(st: &ApiState, tenant: &TenantCtx) -> ServiceResult<audit::Verdict> {
    let txn = TenantTxn::begin(&st.db, tenant.id).await?;
    let verdict = audit::verify(&txn).await?;
    txn.commit().await?;
    Ok(verdict)
}

/// The tenant's counts against its quotas.
pub struct Usage {
    pub monitors: u64,
    pub networks: u64,
    pub triggers: u64,
    pub api_keys: u64,
    pub members: u64,
    pub alerts_today: i64,
    pub notifications_today: i64,
    pub quotas: policies::Quotas,
}

pub async fn usage(st: &ApiState, tenant: &TenantCtx) -> ServiceResult<Usage> {
    use quotas::Resource::*;
    let txn = TenantTxn::begin(&st.db, tenant.id).await?;
    let (alerts_today, notifications_today) = quotas::today(&txn).await?;
    let usage = Usage {
        monitors: quotas::count(&txn, Monitors).await?,
        networks: quotas::count(&txn, Networks).await?,
        triggers: quotas::count(&txn, Triggers).await?,
        api_keys: quotas::count(&txn, ApiKeys).await?,
        members: quotas::count(&txn, Members).await?,
        alerts_today,
        notifications_today,
        quotas: quotas::quotas_of(&st.plans, tenant),
    };
    txn.commit().await?;
    Ok(usage)
}
