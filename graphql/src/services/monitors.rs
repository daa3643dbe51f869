//! Monitors: validated with the engine (the same compile the workers run), stored in OZ
//! JSON with a version that increases on every change, linked to the tenant's networks
//! and triggers so the database itself refuses cross-tenant references.

use std::collections::HashMap;

use chrono::Utc;
use monitor::config::{Monitor, NetworkType, Problems, from_value, validate_monitor};
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{ActiveValue::Set, ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::Value;
use uuid::Uuid;

use super::UserError;
use crate::audit::{self, AuditEntry};
use crate::auth::principal::{Credentials, Principal, TenantCtx};
use crate::context::ApiState;
use crate::error::{ApiError, ServiceResult};
use crate::quotas::{self, Resource};
use entities::{
    TenantTxn, monitor_networks, monitor_triggers, tenant_monitors, tenant_networks,
    tenant_triggers,
};

/// The tenant's networks and triggers, by lower-cased slug, for validation and links.
pub struct References {
    pub networks: HashMap<String, (Uuid, NetworkType)>,
    pub triggers: HashMap<String, Uuid>,
}

pub async fn references(txn: &TenantTxn) -> ServiceResult<References> {
    let networks = txn
        .select::<tenant_networks::Entity>()
        .all(txn.conn())
        .await?
        .into_iter()
        .filter_map(|n| {
            NetworkType::parse(&n.network_type).map(|t| (n.slug.to_lowercase(), (n.id, t)))
        })
        .collect();
    let triggers = txn
        .select::<tenant_triggers::Entity>()
        .all(txn.conn())
        .await?
        .into_iter()
        .map(|t| (t.slug.to_lowercase(), t.id))
        .collect();
    Ok(References { networks, triggers })
}

/// Parses and validates a monitor draft against the tenant's references.
pub fn validate(
    prefix: &[&str],
    json: Value,
    refs: &References,
    host_scripts: bool,
) -> Result<Monitor, Vec<UserError>> {
    let monitor: Monitor =
        from_value("", json).map_err(|p| vec![UserError::from_problem(prefix, &p)])?;
    let mut problems = Problems::new("");
    let network_type = |slug: &str| {
        refs.networks
            .get(&slug.to_lowercase())
            .map(|(_, t)| *t)
            .ok_or_else(|| format!("the tenant has no network {slug:?}"))
    };
    validate_monitor(&monitor, &network_type, None, &mut problems);
    for (i, key) in monitor.triggers.iter().enumerate() {
        if !refs.triggers.contains_key(&key.to_lowercase()) {
            problems.add(
                format!("$.triggers[{i}]"),
                format!("the tenant has no trigger {key:?}"),
            );
        }
    }
    for (i, c) in monitor.trigger_conditions.iter().enumerate() {
        super::check_script(
            &mut problems,
            &format!("$.trigger_conditions[{i}]"),
            c.language,
            c.script.as_deref(),
            host_scripts,
        );
    }
    let problems = problems.into_vec();
    if problems.is_empty() {
        Ok(monitor)
    } else {
        Err(problems
            .iter()
            .map(|p| UserError::from_problem(prefix, p))
            .collect())
    }
}

/// A page of the tenant's monitors, in creation order, after `after` (an id).
pub async fn page(
    st: &ApiState,
    tenant: &TenantCtx,
    after: Option<Uuid>,
    limit: usize,
) -> ServiceResult<(Vec<tenant_monitors::Model>, bool)> {
    let txn = TenantTxn::begin(&st.db, tenant.id).await?;
    let mut query = txn
        .select::<tenant_monitors::Entity>()
        .order_by_asc(tenant_monitors::Column::Id);
    if let Some(after) = after {
        query = query.filter(tenant_monitors::Column::Id.gt(after));
    }
    let mut rows = query.limit(limit as u64 + 1).all(txn.conn()).await?;
    txn.commit().await?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    Ok((rows, more))
}

pub async fn get(
    st: &ApiState,
    tenant: &TenantCtx,
    id: Uuid,
) -> ServiceResult<tenant_monitors::Model> {
    let txn = TenantTxn::begin(&st.db, tenant.id).await?;
    let row = find(&txn, id).await?;
    txn.commit().await?;
    Ok(row)
}

async fn find(txn: &TenantTxn, id: Uuid) -> ServiceResult<tenant_monitors::Model> {
    txn.select::<tenant_monitors::Entity>()
        .filter(tenant_monitors::Column::Id.eq(id))
        .one(txn.conn())
        .await?
        .ok_or(ApiError::NotFound)
}

async fn name_taken(txn: &TenantTxn, name: &str, except: Option<Uuid>) -> ServiceResult<bool> {
    let mut query = txn.select::<tenant_monitors::Entity>().filter(
        Expr::expr(Func::lower(Expr::col(tenant_monitors::Column::Name))).eq(name.to_lowercase()),
    );
    if let Some(except) = except {
        query = query.filter(tenant_monitors::Column::Id.ne(except));
    }
    Ok(query.one(txn.conn()).await?.is_some())
}

/// Replaces the monitor's network and trigger links.
async fn link(
    txn: &TenantTxn,
    id: Uuid,
    monitor: &Monitor,
    refs: &References,
) -> ServiceResult<()> {
    txn.delete_many::<monitor_networks::Entity>()
        .filter(monitor_networks::Column::MonitorId.eq(id))
        .exec(txn.conn())
        .await?;
    txn.delete_many::<monitor_triggers::Entity>()
        .filter(monitor_triggers::Column::MonitorId.eq(id))
        .exec(txn.conn())
        .await?;
    let mut networks: Vec<Uuid> = monitor
        .networks
        .iter()
        .filter_map(|s| refs.networks.get(&s.to_lowercase()).map(|(id, _)| *id))
        .collect();
    networks.sort();
    networks.dedup();
    for network_id in networks {
        txn.insert(monitor_networks::ActiveModel {
            tenant_id: Set(txn.tenant_id()),
            monitor_id: Set(id),
            network_id: Set(network_id),
        })
        .await?;
    }
    let mut triggers: Vec<Uuid> = monitor
        .triggers
        .iter()
        .filter_map(|k| refs.triggers.get(&k.to_lowercase()).copied())
        .collect();
    triggers.sort();
    triggers.dedup();
    for trigger_id in triggers {
        txn.insert(monitor_triggers::ActiveModel {
            tenant_id: Set(txn.tenant_id()),
            monitor_id: Set(id),
            trigger_id: Set(trigger_id),
        })
        .await?;
    }
    Ok(())
}

/// Inserts a validated monitor in an open transaction (API and import).
pub async fn insert(
    txn: &TenantTxn,
    monitor: &Monitor,
    refs: &References,
    severity: &str,
) -> ServiceResult<tenant_monitors::Model> {
    let now = Utc::now();
    let id = Uuid::now_v7();
    let row = txn
        .insert(tenant_monitors::ActiveModel {
            id: Set(id),
            tenant_id: Set(txn.tenant_id()),
            name: Set(monitor.name.clone()),
            paused: Set(monitor.paused),
            definition: Set(serde_json::to_value(monitor).map_err(ApiError::internal)?),
            version: Set(1),
            severity: Set(severity.to_owned()),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .await?;
    link(txn, id, monitor, refs).await?;
    Ok(row)
}

pub type Outcome = Result<tenant_monitors::Model, Vec<UserError>>;

/// A monitor as submitted: its OZ JSON (problems are reported under `prefix`) and its
/// severity (`None`: `info` on create, unchanged on update).
pub struct Draft<'a> {
    pub prefix: &'a [&'a str],
    pub json: Value,
    pub severity: Option<&'a str>,
}

pub async fn create(
    st: &ApiState,
    p: &Principal,
    tenant: &TenantCtx,
    creds: &Credentials,
    draft: Draft<'_>,
) -> ServiceResult<Outcome> {
    let Draft {
        prefix,
        json,
        severity,
    } = draft;
    let txn = TenantTxn::begin(&st.db, tenant.id).await?;
    quotas::ensure_room(&txn, &st.plans, tenant, Resource::Monitors, 1).await?;
    let refs = references(&txn).await?;
    let monitor = match validate(prefix, json, &refs, st.host_scripts) {
        Ok(m) => m,
        Err(e) => return Ok(Err(e)),
    };
    if name_taken(&txn, &monitor.name, None).await? {
        return Ok(Err(vec![UserError::new(
            &[prefix, &["name"]].concat(),
            format!("a monitor named {:?} exists", monitor.name),
        )]));
    }
    let row = insert(&txn, &monitor, &refs, severity.unwrap_or("info")).await?;
    audit::record(
        &txn,
        &p.actor,
        creds,
        AuditEntry::new(
            "monitor.create",
            "monitor",
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
    draft: Draft<'_>,
) -> ServiceResult<Outcome> {
    let Draft {
        prefix,
        json,
        severity,
    } = draft;
    let txn = TenantTxn::begin(&st.db, tenant.id).await?;
    quotas::lock_tenant(&txn).await?;
    let existing = find(&txn, id).await?;
    let refs = references(&txn).await?;
    let monitor = match validate(prefix, json, &refs, st.host_scripts) {
        Ok(m) => m,
        Err(e) => return Ok(Err(e)),
    };
    if name_taken(&txn, &monitor.name, Some(id)).await? {
        return Ok(Err(vec![UserError::new(
            &[prefix, &["name"]].concat(),
            format!("a monitor named {:?} exists", monitor.name),
        )]));
    }
    let version = existing.version + 1;
    let mut row: tenant_monitors::ActiveModel = existing.into();
    row.name = Set(monitor.name.clone());
    row.paused = Set(monitor.paused);
    row.definition = Set(serde_json::to_value(&monitor).map_err(ApiError::internal)?);
    if let Some(severity) = severity {
        row.severity = Set(severity.to_owned());
    }
    row.version = Set(version);
    row.updated_at = Set(Utc::now());
    let row = txn.update(row).await?;
    link(&txn, id, &monitor, &refs).await?;
    audit::record(
        &txn,
        &p.actor,
        creds,
        AuditEntry::new(
            "monitor.update",
            "monitor",
            Some(id.to_string()),
            serde_json::json!({"version": version, "severity": row.severity, "definition": row.definition}),
        ),
    )
    .await?;
    txn.commit().await?;
    st.config_changed(Some(tenant.id)).await;
    Ok(Ok(row))
}

pub async fn set_paused(
    st: &ApiState,
    p: &Principal,
    tenant: &TenantCtx,
    creds: &Credentials,
    id: Uuid,
    paused: bool,
) -> ServiceResult<tenant_monitors::Model> {
    let txn = TenantTxn::begin(&st.db, tenant.id).await?;
    quotas::lock_tenant(&txn).await?;
    let existing = find(&txn, id).await?;
    let mut definition = existing.definition.clone();
    definition["paused"] = Value::Bool(paused);
    let version = existing.version + 1;
    let mut row: tenant_monitors::ActiveModel = existing.into();
    row.paused = Set(paused);
    row.definition = Set(definition);
    row.version = Set(version);
    row.updated_at = Set(Utc::now());
    let row = txn.update(row).await?;
    let action = if paused {
        "monitor.pause"
    } else {
        "monitor.resume"
    };
    audit::record(
        &txn,
        &p.actor,
        creds,
        AuditEntry::new(
            action,
            "monitor",
            Some(id.to_string()),
            serde_json::json!({"version": version}),
        ),
    )
    .await?;
    txn.commit().await?;
    st.config_changed(Some(tenant.id)).await;
    Ok(row)
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
    txn.delete_many::<tenant_monitors::Entity>()
        .filter(tenant_monitors::Column::Id.eq(id))
        .exec(txn.conn())
        .await?;
    audit::record(
        &txn,
        &p.actor,
        creds,
        AuditEntry::new(
            "monitor.delete",
            "monitor",
            Some(id.to_string()),
            serde_json::json!({"name": existing.name}),
        ),
    )
    .await?;
    txn.commit().await?;
    st.config_changed(Some(tenant.id)).await;
    Ok(())
}
