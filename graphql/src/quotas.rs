//! Quotas: count-and-insert is atomic. Every mutating transaction first takes the
//! tenant's row lock ([`lock_tenant`]), so concurrent creates in one tenant queue behind
//! each other and each sees the count the previous one committed; on SQLite the same
//! statement takes the database's write lock.

use chrono::Utc;
use policies::{Plans, QuotaOverrides, Quotas};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::auth::principal::TenantCtx;
use crate::error::{ApiError, ServiceResult};
use entities::{
    TenantTxn, api_keys, tenant_monitors, tenant_networks, tenant_triggers, tenant_usage,
    tenant_users, tenants,
};

/// What a quota limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    Monitors,
    Networks,
    Triggers,
    ApiKeys,
    Members,
}

impl Resource {
    fn name(self) -> &'static str {
        match self {
            Resource::Monitors => "monitors",
            Resource::Networks => "networks",
            Resource::Triggers => "triggers",
            Resource::ApiKeys => "API keys",
            Resource::Members => "members",
        }
    }
}

/// Serialises this tenant's writers for the rest of the transaction.
pub async fn lock_tenant(txn: &TenantTxn) -> ServiceResult<()> {
    // TENANCY: the bound tenant's own row; RLS allows no other.
    tenants::Entity::update_many()
        .col_expr(
            tenants::Column::UpdatedAt,
            Expr::col(tenants::Column::UpdatedAt).into(),
        )
        .filter(tenants::Column::Id.eq(txn.tenant_id()))
        .exec(txn.conn())
        .await?;
    Ok(())
}

/// The tenant's quotas: its plan's, with its overrides.
pub fn quotas_of(plans: &Plans, tenant: &TenantCtx) -> Quotas {
    let base = plans
        .get(&tenant.plan)
        .or_else(|| plans.get("free"))
        .expect("the free plan exists");
    let overrides: QuotaOverrides = tenant
        .quota_overrides
        .clone()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    base.with_overrides(&overrides)
}

/// How many of `resource` the tenant has.
pub async fn count(txn: &TenantTxn, resource: Resource) -> ServiceResult<u64> {
    let c = txn.conn();
    Ok(match resource {
        Resource::Monitors => txn.select::<tenant_monitors::Entity>().count(c).await?,
        Resource::Networks => txn.select::<tenant_networks::Entity>().count(c).await?,
        Resource::Triggers => txn.select::<tenant_triggers::Entity>().count(c).await?,
        Resource::ApiKeys => {
            txn.select::<api_keys::Entity>()
                .filter(api_keys::Column::RevokedAt.is_null())
                .count(c)
                .await?
        }
        Resource::Members => txn.select::<tenant_users::Entity>().count(c).await?,
    })
}

fn limit(q: &Quotas, resource: Resource) -> u64 {
    match resource {
        Resource::Monitors => q.monitors,
        Resource::Networks => q.networks,
        Resource::Triggers => q.triggers,
        Resource::ApiKeys => q.api_keys,
        Resource::Members => q.members,
    }
}

/// Locks the tenant and checks `adding` more of `resource` fit.
pub async fn ensure_room(
    txn: &TenantTxn,
    plans: &Plans,
    tenant: &TenantCtx,
    resource: Resource,
    adding: u64,
) -> ServiceResult<()> {
    lock_tenant(txn).await?;
    let have = count(txn, resource).await?;
    let max = limit(&quotas_of(plans, tenant), resource);
    if have + adding > max {
        return Err(ApiError::QuotaExceeded(format!(
            "{} {} would exceed the limit of {max} for plan {}",
            have + adding,
            resource.name(),
            tenant.plan
        )));
    }
    Ok(())
}

/// Today's usage counters (UTC day).
pub async fn today(txn: &TenantTxn) -> ServiceResult<(i64, i64)> {
    let day = Utc::now().format("%Y-%m-%d").to_string();
    let row = txn
        .select::<tenant_usage::Entity>()
        .filter(tenant_usage::Column::Day.eq(day))
        .one(txn.conn())
        .await?;
    Ok(row.map_or((0, 0), |r| (r.alerts, r.notifications)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_apply_on_the_plan() {
        let plans = Plans::builtin();
        let t = TenantCtx {
            id: uuid::Uuid::nil(),
            slug: "t".into(),
            role: "owner".into(),
            plan: "free".into(),
            quota_overrides: Some(serde_json::json!({"monitors": 3})),
        };
        assert_eq!(quotas_of(&plans, &t).monitors, 3);
        let unknown = TenantCtx {
            plan: "gold".into(),
            quota_overrides: None,
            ..t
        };
        assert_eq!(quotas_of(&plans, &unknown), plans.get("free").unwrap());
    }
}
