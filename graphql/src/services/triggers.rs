//! Triggers: OZ trigger JSON, validated, secrets sealed before storage and hidden in
//! every answer (write-only).

use chrono::Utc;
use monitor::config::{Problems, Trigger, TriggerConfig, from_value};
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{ActiveValue::Set, ColumnTrait, QueryFilter, QueryOrder};
use serde_json::Value;
use uuid::Uuid;

use super::UserError;
use crate::audit::{self, AuditEntry};
use crate::auth::principal::{Credentials, Principal, TenantCtx};
use crate::context::ApiState;
use crate::error::{ApiError, ServiceResult};
use crate::quotas::{self, Resource};
use entities::{TenantTxn, tenant_triggers};

/// Parses and validates a trigger; problems as user errors under `prefix`.
pub fn validate(
    prefix: &[&str],
    slug: &str,
    json: Value,
    host_scripts: bool,
) -> Result<Trigger, Vec<UserError>> {
    let mut errors = Vec::new();
    if !monitor::config::valid_slug(slug) {
        errors.push(UserError::new(
            &["input", "slug"],
            "slug must match [a-z0-9_]+",
        ));
    }
    let trigger: Trigger = match from_value("", json) {
        Ok(t) => t,
        Err(p) => {
            errors.push(UserError::from_problem(prefix, &p));
            return Err(errors);
        }
    };
    let mut problems = Problems::new("");
    trigger.validate("$", None, &mut problems);
    if let TriggerConfig::Script(c) = &trigger.config {
        super::check_script(
            &mut problems,
            "$.config",
            c.language,
            c.script.as_deref(),
            host_scripts,
        );
    }
    errors.extend(
        problems
            .into_vec()
            .iter()
            .map(|p| UserError::from_problem(prefix, p)),
    );
    if errors.is_empty() {
        Ok(trigger)
    } else {
        Err(errors)
    }
}

fn stored(st: &ApiState, trigger: &Trigger) -> ServiceResult<Value> {
    let mut json = serde_json::to_value(trigger).map_err(ApiError::internal)?;
    st.sealer.seal_config(&mut json);
    Ok(json)
}

pub async fn list(st: &ApiState, tenant: &TenantCtx) -> ServiceResult<Vec<tenant_triggers::Model>> {
    let txn = TenantTxn::begin(&st.db, tenant.id).await?;
    let rows = txn
        .select::<tenant_triggers::Entity>()
        .order_by_asc(tenant_triggers::Column::Slug)
        .all(txn.conn())
        .await?;
    txn.commit().await?;
    Ok(rows)
}

pub async fn get(
    st: &ApiState,
    tenant: &TenantCtx,
    id: Uuid,
) -> ServiceResult<tenant_triggers::Model> {
    let txn = TenantTxn::begin(&st.db, tenant.id).await?;
    let row = find(&txn, id).await?;
    txn.commit().await?;
    Ok(row)
}

async fn find(txn: &TenantTxn, id: Uuid) -> ServiceResult<tenant_triggers::Model> {
    txn.select::<tenant_triggers::Entity>()
        .filter(tenant_triggers::Column::Id.eq(id))
        .one(txn.conn())
        .await?
        .ok_or(ApiError::NotFound)
}

async fn slug_taken(txn: &TenantTxn, slug: &str) -> ServiceResult<bool> {
    Ok(txn
        .select::<tenant_triggers::Entity>()
        .filter(
            Expr::expr(Func::lower(Expr::col(tenant_triggers::Column::Slug)))
                .eq(slug.to_lowercase()),
        )
        .one(txn.conn())
        .await?
        .is_some())
}

/// Inserts a validated trigger in an open transaction (API and import).
pub async fn insert(
    st: &ApiState,
    txn: &TenantTxn,
    slug: &str,
    trigger: &Trigger,
) -> ServiceResult<tenant_triggers::Model> {
    let now = Utc::now();
    Ok(txn
        .insert(tenant_triggers::ActiveModel {
            id: Set(Uuid::now_v7()),
            tenant_id: Set(txn.tenant_id()),
            slug: Set(slug.to_owned()),
            name: Set(trigger.name.clone()),
            trigger_type: Set(trigger.trigger_type().as_str().to_owned()),
            definition: Set(stored(st, trigger)?),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .await?)
}

pub type Outcome = Result<tenant_triggers::Model, Vec<UserError>>;

pub async fn create(
    st: &ApiState,
    p: &Principal,
    tenant: &TenantCtx,
    creds: &Credentials,
    slug: &str,
    json: Value,
) -> ServiceResult<Outcome> {
    let trigger = match validate(&["input", "ozJson"], slug, json, st.host_scripts) {
        Ok(t) => t,
        Err(e) => return Ok(Err(e)),
    };
    let txn = TenantTxn::begin(&st.db, tenant.id).await?;
    quotas::ensure_room(&txn, &st.plans, tenant, Resource::Triggers, 1).await?;
    if slug_taken(&txn, slug).await? {
        return Ok(Err(vec![UserError::new(
            &["input", "slug"],
            format!("a trigger {slug:?} exists"),
        )]));
    }
    let row = insert(st, &txn, slug, &trigger).await?;
    audit::record(
        &txn,
        &p.actor,
        creds,
        AuditEntry::new(
            "trigger.create",
            "trigger",
            Some(row.id.to_string()),
            row.definition.clone(),
        ),
    )
    .await?;
    txn.commit().await?;
    st.config_changed(Some(tenant.id)).await;
    Ok(Ok(row))
}

pub async fn update(
    st: &ApiState,
    p: &Principal,
    tenant: &TenantCtx,
    creds: &Credentials,
    id: Uuid,
    json: Value,
) -> ServiceResult<Outcome> {
    let txn = TenantTxn::begin(&st.db, tenant.id).await?;
    quotas::lock_tenant(&txn).await?;
    let existing = find(&txn, id).await?;
    let trigger = match validate(&["input", "ozJson"], &existing.slug, json, st.host_scripts) {
        Ok(t) => t,
        Err(e) => return Ok(Err(e)),
    };
    let version = existing.version + 1;
    let mut row: tenant_triggers::ActiveModel = existing.into();
    row.name = Set(trigger.name.clone());
    row.trigger_type = Set(trigger.trigger_type().as_str().to_owned());
    row.definition = Set(stored(st, &trigger)?);
    row.version = Set(version);
    row.updated_at = Set(Utc::now());
    let row = txn.update(row).await?;
    audit::record(
        &txn,
        &p.actor,
        creds,
        AuditEntry::new(
            "trigger.update",
            "trigger",
            Some(id.to_string()),
            row.definition.clone(),
        ),
    )
    .await?;
    txn.commit().await?;
    st.config_changed(Some(tenant.id)).await;
    Ok(Ok(row))
}

pub async fn delete(
    st: &ApiState,
    p: &Principal,
    tenant: &TenantCtx,
    creds: &Credentials,
    id: Uuid,
) -> ServiceResult<()> {
    let txn = TenantTxn::begin(&st.db, tenant.id).await?;
    quotas::lock_tenant(&txn).await?;
    let existing = find(&txn, id).await?;
    let used = txn
        .select::<entities::monitor_triggers::Entity>()
        .filter(entities::monitor_triggers::Column::TriggerId.eq(id))
        .one(txn.conn())
        .await?
        .is_some();
    if used {
        return Err(ApiError::Conflict(format!(
            "monitors still use trigger {}",
            existing.slug
        )));
    }
    txn.delete_many::<tenant_triggers::Entity>()
        .filter(tenant_triggers::Column::Id.eq(id))
        .exec(txn.conn())
        .await?;
    audit::record(
        &txn,
        &p.actor,
        creds,
        AuditEntry::new(
            "trigger.delete",
            "trigger",
            Some(id.to_string()),
            serde_json::json!({"slug": existing.slug}),
        ),
    )
    .await?;
    txn.commit().await?;
    st.config_changed(Some(tenant.id)).await;
    Ok(())
}
