//! Which networks need a watcher: those used by at least one unpaused monitor of any
//! tenant. Catalog networks are keyed by their slug (one stream for every tenant that
//! enabled them); private networks by their id.

use std::collections::{BTreeMap, HashSet};

use entities::secrets::Sealer;
use entities::{SystemTxn, monitor_networks, networks, tenant_monitors, tenant_networks};
use monitor::config::Network;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};
use uuid::Uuid;

/// A network to watch.
#[derive(Clone, Debug)]
pub struct WatchedNetwork {
    /// Stream key: the catalog slug, or `private-<id>`.
    pub key: String,
    /// The definition, secrets opened.
    pub network: Network,
    /// Changes when the definition changes (the task restarts with it).
    pub fingerprint: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

fn parse(
    mut json: serde_json::Value,
    version: i64,
    sealer: &Sealer,
    key: &str,
) -> Option<WatchedNetwork> {
    if let Err(e) = sealer.open_config(&mut json) {
        tracing::warn!(network = key, error = %e, "cannot open the network's RPC URLs");
        return None;
    }
    match serde_json::from_value::<Network>(json) {
        Ok(network) => Some(WatchedNetwork {
            key: key.to_owned(),
            fingerprint: format!("{key}:{version}"),
            network,
        }),
        Err(e) => {
            tracing::warn!(network = key, error = %e, "stored network definition does not parse");
            None
        }
    }
}

pub async fn networks(
    db: &DatabaseConnection,
    sealer: &Sealer,
) -> Result<Vec<WatchedNetwork>, DiscoveryError> {
    let txn = SystemTxn::begin(db).await?;
    let c = txn.conn();
    let active: HashSet<Uuid> = tenant_monitors::Entity::find()
        .filter(tenant_monitors::Column::Paused.eq(false))
        .all(c)
        .await?
        .into_iter()
        .map(|m| m.id)
        .collect();
    let used: HashSet<Uuid> = monitor_networks::Entity::find()
        .all(c)
        .await?
        .into_iter()
        .filter(|l| active.contains(&l.monitor_id))
        .map(|l| l.network_id)
        .collect();
    let rows: Vec<tenant_networks::Model> = tenant_networks::Entity::find()
        .all(c)
        .await?
        .into_iter()
        .filter(|n| used.contains(&n.id))
        .collect();
    let catalog: BTreeMap<Uuid, networks::Model> = networks::Entity::find()
        .filter(networks::Column::Enabled.eq(true))
        .all(c)
        .await?
        .into_iter()
        .map(|n| (n.id, n))
        .collect();
    txn.commit().await?;
    let mut out: BTreeMap<String, WatchedNetwork> = BTreeMap::new();
    for row in &rows {
        let source = row.catalog_network_id.and_then(|id| catalog.get(&id));
        let key = row.stream_key(source.map(|c| c.slug.as_str()));
        if out.contains_key(&key) {
            continue;
        }
        let found = match (source, &row.definition) {
            (Some(c), _) => parse(c.definition.clone(), c.version, sealer, &key),
            (None, Some(d)) => parse(d.clone(), row.version, sealer, &key),
            (None, None) => None,
        };
        if let Some(w) = found {
            out.insert(key, w);
        }
    }
    Ok(out.into_values().collect())
}
