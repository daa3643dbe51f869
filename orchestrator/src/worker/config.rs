//! A worker's in-memory copy of its tenants' configuration: unpaused monitors with the
//! networks (as block stream keys) and triggers they use, and each tenant's daily alert
//! quota. Loaded in bulk for a set of tenants (a handful of queries however many
//! tenants), never per block.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use entities::{
    SystemTxn, monitor_networks, monitor_triggers, networks, tenant_monitors, tenant_networks,
    tenant_usage, tenants,
};
use monitor::config::{Monitor, NetworkType};
use policies::{Plans, QuotaOverrides};

use crate::scripts::{Compiled, ScriptSettings};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};
use uuid::Uuid;

/// Where one monitor's blocks come from, for one of its networks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkRef {
    /// The block stream key.
    pub key: String,
    /// The tenant's slug for it (what matches and alerts name).
    pub slug: String,
    pub kind: NetworkType,
}

/// One active monitor.
#[derive(Clone, Debug)]
pub struct LoadedMonitor {
    pub id: Uuid,
    pub version: u64,
    pub monitor: Arc<Monitor>,
    pub networks: Vec<NetworkRef>,
    pub triggers: Vec<Uuid>,
    /// Its trigger conditions, ready to run.
    pub conditions: Arc<Vec<Compiled>>,
    /// Copied into its alerts.
    pub severity: String,
}

/// Prepares a monitor's trigger conditions; one that cannot run is left out with a
/// warning (the API refuses such conditions, so only older rows can have them).
fn conditions(id: Uuid, monitor: &Monitor, settings: &ScriptSettings) -> Vec<Compiled> {
    monitor
        .trigger_conditions
        .iter()
        .filter_map(|c| {
            let Some(source) = c.script.as_deref() else {
                tracing::warn!(monitor = %id, path = %c.script_path, "a trigger condition without its script is skipped");
                return None;
            };
            Compiled::new(
                c.language,
                source,
                c.arguments.clone().unwrap_or_default(),
                c.timeout_ms,
                settings,
            )
            .map_err(|e| tracing::warn!(monitor = %id, error = %e, "a trigger condition does not compile; skipped"))
            .ok()
        })
        .collect()
}

/// One tenant's configuration.
#[derive(Clone, Debug)]
pub struct TenantConfig {
    pub tenant: Uuid,
    pub alerts_per_day: u64,
    /// Alerts written today (UTC) when loaded, counted up by the worker.
    pub alerts_today: u64,
    pub monitors: Vec<LoadedMonitor>,
}

impl TenantConfig {
    /// The stream keys of the networks this tenant's monitors use.
    pub fn network_keys(&self) -> BTreeSet<&str> {
        self.monitors
            .iter()
            .flat_map(|m| m.networks.iter().map(|n| n.key.as_str()))
            .collect()
    }
}

fn kind(text: &str) -> Option<NetworkType> {
    match text {
        "EVM" => Some(NetworkType::Evm),
        "Stellar" => Some(NetworkType::Stellar),
        _ => None,
    }
}

/// Loads the configuration of `tenants`. Tenants that are not active (or no longer
/// exist) come back with no monitors; a monitor whose stored definition no longer parses
/// is skipped with a warning rather than stopping the tenant's other monitors.
pub async fn load(
    db: &DatabaseConnection,
    plans: &Plans,
    scripts: &ScriptSettings,
    tenants: &BTreeSet<Uuid>,
) -> Result<BTreeMap<Uuid, TenantConfig>, DbErr> {
    let ids: Vec<Uuid> = tenants.iter().copied().collect();
    let mut out: BTreeMap<Uuid, TenantConfig> = BTreeMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let txn = SystemTxn::begin(db).await?;
    let c = txn.conn();
    let tenant_rows = tenants::Entity::find()
        .filter(tenants::Column::Id.is_in(ids.clone()))
        .filter(tenants::Column::Status.eq("active"))
        .all(c)
        .await?;
    let monitors = tenant_monitors::Entity::find()
        .filter(tenant_monitors::Column::TenantId.is_in(ids.clone()))
        .filter(tenant_monitors::Column::Paused.eq(false))
        .all(c)
        .await?;
    let network_links = monitor_networks::Entity::find()
        .filter(monitor_networks::Column::TenantId.is_in(ids.clone()))
        .all(c)
        .await?;
    let trigger_links = monitor_triggers::Entity::find()
        .filter(monitor_triggers::Column::TenantId.is_in(ids.clone()))
        .all(c)
        .await?;
    let usage: HashMap<Uuid, i64> = tenant_usage::Entity::find()
        .filter(tenant_usage::Column::TenantId.is_in(ids.clone()))
        .filter(tenant_usage::Column::Day.eq(chrono::Utc::now().format("%Y-%m-%d").to_string()))
        .all(c)
        .await?
        .into_iter()
        .map(|u| (u.tenant_id, u.alerts))
        .collect();
    let network_rows = tenant_networks::Entity::find()
        .filter(tenant_networks::Column::TenantId.is_in(ids))
        .all(c)
        .await?;
    let catalog_ids: Vec<Uuid> = network_rows
        .iter()
        .filter_map(|n| n.catalog_network_id)
        .collect();
    let catalog: HashMap<Uuid, networks::Model> = if catalog_ids.is_empty() {
        HashMap::new()
    } else {
        networks::Entity::find()
            .filter(networks::Column::Id.is_in(catalog_ids))
            .all(c)
            .await?
            .into_iter()
            .map(|n| (n.id, n))
            .collect()
    };
    txn.commit().await?;

    let refs: HashMap<Uuid, NetworkRef> = network_rows
        .iter()
        .filter_map(|row| {
            let source = row.catalog_network_id.and_then(|id| catalog.get(&id));
            // A disabled catalog network has no watcher and so no blocks.
            if source.is_some_and(|s| !s.enabled) {
                return None;
            }
            Some((
                row.id,
                NetworkRef {
                    key: row.stream_key(source.map(|s| s.slug.as_str())),
                    slug: row.slug.clone(),
                    kind: kind(&row.network_type)?,
                },
            ))
        })
        .collect();
    let mut networks_of: HashMap<Uuid, Vec<NetworkRef>> = HashMap::new();
    for l in network_links {
        if let Some(r) = refs.get(&l.network_id) {
            networks_of.entry(l.monitor_id).or_default().push(r.clone());
        }
    }
    let mut triggers_of: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for l in trigger_links {
        triggers_of
            .entry(l.monitor_id)
            .or_default()
            .push(l.trigger_id);
    }
    for t in tenant_rows {
        let quotas = plans
            .get(&t.plan)
            .map(|q| {
                let o: QuotaOverrides = t
                    .quota_overrides
                    .clone()
                    .and_then(|j| serde_json::from_value(j).ok())
                    .unwrap_or_default();
                q.with_overrides(&o)
            })
            .map_or(0, |q| q.alerts_per_day);
        out.insert(
            t.id,
            TenantConfig {
                tenant: t.id,
                alerts_per_day: quotas,
                alerts_today: usage.get(&t.id).copied().unwrap_or(0).max(0) as u64,
                monitors: Vec::new(),
            },
        );
    }
    for row in monitors {
        let Some(tenant) = out.get_mut(&row.tenant_id) else {
            continue;
        };
        let monitor: Monitor = match serde_json::from_value(row.definition) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(monitor = %row.id, error = %e, "stored monitor does not parse; skipped");
                metrics::counter!("stellar_monitor_worker_config_errors_total").increment(1);
                continue;
            }
        };
        let mut networks = networks_of.remove(&row.id).unwrap_or_default();
        networks.sort_by(|a, b| a.key.cmp(&b.key));
        let mut triggers = triggers_of.remove(&row.id).unwrap_or_default();
        triggers.sort();
        tenant.monitors.push(LoadedMonitor {
            id: row.id,
            version: row.version.max(0) as u64,
            conditions: Arc::new(conditions(row.id, &monitor, scripts)),
            monitor: Arc::new(monitor),
            networks,
            triggers,
            severity: row.severity,
        });
    }
    for t in out.values_mut() {
        t.monitors.sort_by_key(|m| m.id);
    }
    Ok(out)
}
