//! Networks: the platform catalog (shared networks, one watcher each across the fleet),
//! a tenant enabling one, and a tenant's private networks with their own RPC URLs.

use chrono::Utc;
use monitor::config::{Network, Problems, from_value};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::Value;
use uuid::Uuid;

use super::UserError;
use crate::audit::{self, AuditEntry};
use crate::auth::principal::{Credentials, Principal, TenantCtx};
use crate::context::ApiState;
use crate::error::{ApiError, ServiceResult};
use crate::quotas::{self, Resource};
use crate::secrets;
use entities::{SystemTxn, TenantTxn, networks, tenant_networks};

/// Parses and validates an OZ network JSON; problems as user errors under `prefix`.
pub fn parse_network(prefix: &[&str], json: Value) -> Result<Network, Vec<UserError>> {
    let network: Network =
        from_value("", json).map_err(|p| vec![UserError::from_problem(prefix, &p)])?;
    let mut problems = Problems::new("");
    network.validate(&mut problems);
    if problems.is_empty() {
        Ok(network)
    } else {
        Err(problems
            .into_vec()
            .iter()
            .map(|p| UserError::from_problem(prefix, p))
            .collect())
    }
}

/// The stored form: OZ JSON with RPC URL secrets sealed.
fn sealed(st: &ApiState, network: &Network) -> ServiceResult<Value> {
    let mut json = serde_json::to_value(network).map_err(ApiError::internal)?;
    st.sealer.seal_config(&mut json);
    Ok(json)
}

/// What the API shows of a definition: secrets hidden.
pub fn shown(definition: &Value) -> Value {
    let mut json = definition.clone();
    secrets::hide(&mut json);
    json
}

pub async fn catalog(st: &ApiState) -> ServiceResult<Vec<networks::Model>> {
    let txn = SystemTxn::begin(&st.db).await?;
    let rows = networks::Entity::find()
        .filter(networks::Column::Enabled.eq(true))
        .order_by_asc(networks::Column::Slug)
        .all(txn.conn())
        .await?;
    txn.commit().await?;
    Ok(rows)
}

/// Adds a network to the platform catalog (platform administrators).
pub async fn create_catalog(
    st: &ApiState,
    json: Value,
) -> ServiceResult<Result<networks::Model, Vec<UserError>>> {
    let network = match parse_network(&["input", "ozJson"], json) {
        Ok(n) => n,
        Err(e) => return Ok(Err(e)),
    };
    let definition = sealed(st, &network)?;
    let txn = SystemTxn::begin(&st.db).await?;
    let now = Utc::now();
    let row = networks::Entity::insert(networks::ActiveModel {
        id: Set(Uuid::now_v7()),
        slug: Set(network.slug.clone()),
        name: Set(network.name.clone()),
        network_type: Set(network.network_type.clone()),
        definition: Set(definition),
        version: Set(1),
        enabled: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_with_returning(txn.conn())
    .await?;
    txn.commit().await?;
    Ok(Ok(row))
}

pub async fn list(st: &ApiState, tenant: &TenantCtx) -> ServiceResult<Vec<tenant_networks::Model>> {
    let txn = TenantTxn::begin(&st.db, tenant.id).await?;
    let rows = txn
        .select::<tenant_networks::Entity>()
        .order_by_asc(tenant_networks::Column::Slug)
        .all(txn.conn())
        .await?;
    txn.commit().await?;
    Ok(rows)
}

/// Enables a catalog network for the tenant, under `slug` (default: the catalog's).
pub async fn enable(
    st: &ApiState,
    p: &Principal,
    tenant: &TenantCtx,
    creds: &Credentials,
    catalog_slug: &str,
    slug: Option<&str>,
) -> ServiceResult<tenant_networks::Model> {
    let txn = TenantTxn::begin(&st.db, tenant.id).await?;
    let source = networks::Entity::find()
        .filter(networks::Column::Slug.eq(catalog_slug))
        .filter(networks::Column::Enabled.eq(true))
        .one(txn.conn())
        .await?
        .ok_or_else(|| {
            ApiError::bad_input(format!("the catalog has no network {catalog_slug:?}"))
        })?;
    let slug = slug.unwrap_or(&source.slug).to_owned();
    if !monitor::config::valid_slug(&slug) {
        return Err(ApiError::bad_input("slug must match [a-z0-9_]+"));
    }
    quotas::ensure_room(&txn, &st.plans, tenant, Resource::Networks, 1).await?;
    let now = Utc::now();
    let row = txn
        .insert(tenant_networks::ActiveModel {
            id: Set(Uuid::now_v7()),
            tenant_id: Set(tenant.id),
            slug: Set(slug.clone()),
            name: Set(source.name.clone()),
            network_type: Set(source.network_type.clone()),
            catalog_network_id: Set(Some(source.id)),
            definition: Set(None),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .await?;
    audit::record(
        &txn,
        &p.actor,
        creds,
        AuditEntry::new(
            "network.enable",
            "network",
            Some(row.id.to_string()),
            serde_json::json!({"catalog": catalog_slug, "slug": slug}),
        ),
    )
    .await?;
    txn.commit().await?;
    st.config_changed(Some(tenant.id)).await;
    Ok(row)
}

/// Inserts a private network in an open transaction (API and import).
pub async fn insert_private(
    st: &ApiState,
    txn: &TenantTxn,
    network: &Network,
) -> ServiceResult<tenant_networks::Model> {
    let now = Utc::now();
    Ok(txn
        .insert(tenant_networks::ActiveModel {
            id: Set(Uuid::now_v7()),
            tenant_id: Set(txn.tenant_id()),
            slug: Set(network.slug.clone()),
            name: Set(network.name.clone()),
            network_type: Set(network.network_type.clone()),
            catalog_network_id: Set(None),
            definition: Set(Some(sealed(st, network)?)),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .await?)
}

/// A private network of the tenant, with its own RPC URLs.
pub async fn create_private(
    st: &ApiState,
    p: &Principal,
    tenant: &TenantCtx,
    creds: &Credentials,
    json: Value,
) -> ServiceResult<Result<tenant_networks::Model, Vec<UserError>>> {
    let network = match parse_network(&["input", "ozJson"], json) {
        Ok(n) => n,
        Err(e) => return Ok(Err(e)),
    };
    let txn = TenantTxn::begin(&st.db, tenant.id).await?;
    quotas::ensure_room(&txn, &st.plans, tenant, Resource::Networks, 1).await?;
    let taken = txn
        .select::<tenant_networks::Entity>()
        .filter(tenant_networks::Column::Slug.eq(network.slug.to_lowercase()))
        .one(txn.conn())
        .await?
        .is_some();
    if taken {
        return Ok(Err(vec![UserError::new(
            &["input", "ozJson", "slug"],
            format!("a network {:?} exists", network.slug),
        )]));
    }
    let row = insert_private(st, &txn, &network).await?;
    audit::record(
        &txn,
        &p.actor,
        creds,
        AuditEntry::new(
            "network.create",
            "network",
            Some(row.id.to_string()),
            serde_json::to_value(&network).unwrap_or_default(),
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
    let row = txn
        .select::<tenant_networks::Entity>()
        .filter(tenant_networks::Column::Id.eq(id))
        .one(txn.conn())
        .await?
        .ok_or(ApiError::NotFound)?;
    let used = txn
        .select::<entities::monitor_networks::Entity>()
        .filter(entities::monitor_networks::Column::NetworkId.eq(id))
        .one(txn.conn())
        .await?
        .is_some();
    if used {
        return Err(ApiError::Conflict(format!(
            "monitors still use network {}",
            row.slug
        )));
    }
    txn.delete_many::<tenant_networks::Entity>()
        .filter(tenant_networks::Column::Id.eq(id))
        .exec(txn.conn())
        .await?;
    audit::record(
        &txn,
        &p.actor,
        creds,
        AuditEntry::new(
            "network.delete",
            "network",
            Some(id.to_string()),
            serde_json::json!({"slug": row.slug}),
        ),
    )
    .await?;
    txn.commit().await?;
    st.config_changed(Some(tenant.id)).await;
    Ok(())
}

/// The stream key of the tenant's network `slug` (what workers report progress on).
pub async fn stream_key(st: &ApiState, tenant: &TenantCtx, slug: &str) -> ServiceResult<String> {
    let txn = TenantTxn::begin(&st.db, tenant.id).await?;
    let row = txn
        .select::<tenant_networks::Entity>()
        .filter(tenant_networks::Column::Slug.eq(slug.to_lowercase()))
        .one(txn.conn())
        .await?
        .ok_or(ApiError::NotFound)?;
    txn.commit().await?;
    let catalog = match row.catalog_network_id {
        Some(id) => {
            let txn = SystemTxn::begin(&st.db).await?;
            let c = networks::Entity::find_by_id(id).one(txn.conn()).await?;
            txn.commit().await?;
            c.map(|c| c.slug)
        }
        None => None,
    };
    Ok(row.stream_key(catalog.as_deref()))
}
