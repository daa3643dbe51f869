//! `testMonitor`: a saved or draft monitor over a block range of one of the tenant's
//! networks, sending nothing.

use monitor::config::Network;
use monitor::matches::MonitorMatch;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;
use uuid::Uuid;

use super::{UserError, monitors};
use crate::auth::principal::TenantCtx;
use crate::context::ApiState;
use crate::error::{ApiError, ServiceResult};
use entities::{TenantTxn, networks as catalog, tenant_monitors, tenant_networks};

/// The monitor to try: saved (by id) or a draft.
pub enum Subject {
    Saved(Uuid),
    Draft {
        json: Value,
        prefix: Vec<&'static str>,
    },
}

pub async fn test_monitor(
    st: &ApiState,
    tenant: &TenantCtx,
    subject: Subject,
    network_slug: &str,
    from: u64,
    to: u64,
) -> ServiceResult<Result<Vec<MonitorMatch>, Vec<UserError>>> {
    let txn = TenantTxn::begin(&st.db, tenant.id).await?;
    let refs = monitors::references(&txn).await?;
    let monitor = match subject {
        Subject::Saved(id) => {
            let row = txn
                .select::<tenant_monitors::Entity>()
                .filter(tenant_monitors::Column::Id.eq(id))
                .one(txn.conn())
                .await?
                .ok_or(ApiError::NotFound)?;
            serde_json::from_value(row.definition).map_err(ApiError::internal)?
        }
        Subject::Draft { json, prefix } => {
            match monitors::validate(&prefix, json, &refs, st.host_scripts) {
                Ok(m) => m,
                Err(e) => return Ok(Err(e)),
            }
        }
    };
    let row = txn
        .select::<tenant_networks::Entity>()
        .filter(tenant_networks::Column::Slug.eq(network_slug.to_lowercase()))
        .one(txn.conn())
        .await?
        .ok_or_else(|| {
            ApiError::bad_input(format!("the tenant has no network {network_slug:?}"))
        })?;
    let mut definition = match (&row.definition, row.catalog_network_id) {
        (Some(d), _) => d.clone(),
        (None, Some(id)) => {
            catalog::Entity::find_by_id(id)
                .one(txn.conn())
                .await?
                .ok_or(ApiError::NotFound)?
                .definition
        }
        (None, None) => return Err(ApiError::NotFound),
    };
    txn.commit().await?;
    st.sealer
        .open_config(&mut definition)
        .map_err(ApiError::internal)?;
    let mut network: Network = serde_json::from_value(definition).map_err(ApiError::internal)?;
    network.slug = row.slug;
    monitor::dry_run::run(&monitor, &network, from, to)
        .await
        .map(Ok)
        .map_err(|e| match e {
            monitor::dry_run::DryRunError::Rpc(rpc) => {
                ApiError::bad_input(format!("the network's RPC failed: {rpc}"))
            }
            other => ApiError::bad_input(other.to_string()),
        })
}
