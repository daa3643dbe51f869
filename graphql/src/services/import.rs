//! OZ Monitor configuration sets in and out of a tenant. Import is all-or-nothing: every
//! network, trigger and monitor is validated (monitors against the tenant's networks and
//! triggers plus the imported ones) before anything is written, in one transaction, with
//! a report line per item.

use std::collections::BTreeMap;
use std::path::Path;

use monitor::config::{Monitor, Network, NetworkType, Trigger};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;

use super::{UserError, monitors, networks, triggers};
use crate::audit::{self, Actor, AuditEntry};
use crate::auth::principal::{Credentials, TenantCtx};
use crate::context::ApiState;
use crate::error::{ApiError, ServiceResult};
use crate::quotas::{self, Resource};
use entities::{TenantTxn, networks as catalog};

/// Looks up an environment variable (the CLI's process environment).
pub type Env = dyn Fn(&str) -> Option<String> + Sync;

/// One file of the set: its name (for the report) and its JSON.
#[derive(Clone, Debug)]
pub struct ConfigFile {
    pub name: String,
    pub json: Value,
}

/// The set to import.
#[derive(Clone, Debug, Default)]
pub struct ConfigSet {
    pub networks: Vec<ConfigFile>,
    pub monitors: Vec<ConfigFile>,
    /// Each file a map from trigger key to trigger.
    pub triggers: Vec<ConfigFile>,
}

/// What happened to one item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemReport {
    /// `network`, `trigger` or `monitor`.
    pub kind: String,
    /// Slug, trigger key or monitor name.
    pub key: String,
    pub file: String,
    /// `created`, `invalid` or `not_created` (valid, but another item was invalid).
    pub status: String,
    pub errors: Vec<UserError>,
}

#[derive(Clone, Debug, Default)]
pub struct ImportReport {
    pub ok: bool,
    pub items: Vec<ItemReport>,
}

/// Resolves `Environment` / vault secrets in a config JSON with `env` (the CLI passes the
/// operator's environment; the API passes none, so such secrets are refused there).
fn resolve_secrets(
    json: &mut Value,
    env: Option<&Env>,
    path: &mut Vec<String>,
    errors: &mut Vec<UserError>,
) {
    match json {
        Value::Object(map) => {
            let kind = map
                .get("type")
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase);
            let is_secret = map.len() == 2 && map.contains_key("value");
            match (is_secret, kind.as_deref()) {
                (true, Some("environment")) => {
                    let name = map["value"].as_str().unwrap_or_default().to_owned();
                    match env.and_then(|e| e(&name)) {
                        Some(v) => {
                            map.insert("type".into(), "Plain".into());
                            map.insert("value".into(), v.into());
                        }
                        None => errors.push(UserError {
                            field: path.clone(),
                            message: match env {
                                Some(_) => format!("environment variable {name} is not set"),
                                None => format!("environment secrets cannot be resolved on the server; give the value of {name} as a Plain secret"),
                            },
                        }),
                    }
                }
                (true, Some("hashicorpcloudvault")) => errors.push(UserError {
                    field: path.clone(),
                    message: "HashiCorp Cloud Vault secrets cannot be resolved; give the value as a Plain secret".into(),
                }),
                _ => {
                    for (k, v) in map.iter_mut() {
                        path.push(k.clone());
                        resolve_secrets(v, env, path, errors);
                        path.pop();
                    }
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                path.push(i.to_string());
                resolve_secrets(v, env, path, errors);
                path.pop();
            }
        }
        _ => {}
    }
}

fn report(kind: &str, key: &str, file: &str, errors: Vec<UserError>) -> ItemReport {
    ItemReport {
        kind: kind.into(),
        key: key.into(),
        file: file.into(),
        status: if errors.is_empty() {
            "created"
        } else {
            "invalid"
        }
        .into(),
        errors,
    }
}

/// Imports `set` into the tenant, all or nothing.
pub async fn import(
    st: &ApiState,
    actor: &Actor,
    tenant: &TenantCtx,
    creds: &Credentials,
    set: ConfigSet,
    env: Option<&Env>,
) -> ServiceResult<ImportReport> {
    let txn = TenantTxn::begin(&st.db, tenant.id).await?;
    quotas::lock_tenant(&txn).await?;
    let mut refs = monitors::references(&txn).await?;
    let mut items = Vec::new();

    let mut new_networks: Vec<Network> = Vec::new();
    for file in set.networks {
        let mut json = file.json;
        let mut errors = Vec::new();
        resolve_secrets(
            &mut json,
            env,
            &mut vec!["networks".into(), file.name.clone()],
            &mut errors,
        );
        let key = json
            .get("slug")
            .and_then(Value::as_str)
            .unwrap_or(&file.name)
            .to_owned();
        if errors.is_empty() {
            match networks::parse_network(&["networks", &file.name], json) {
                Ok(n) if refs.networks.contains_key(&n.slug.to_lowercase()) => {
                    errors.push(UserError::new(
                        &["networks", &file.name, "slug"],
                        format!("the tenant already has a network {:?}", n.slug),
                    ));
                }
                Ok(n) => {
                    if let Some(kind) = n.kind() {
                        refs.networks
                            .insert(n.slug.to_lowercase(), (uuid::Uuid::nil(), kind));
                    }
                    new_networks.push(n);
                }
                Err(e) => errors.extend(e),
            }
        }
        items.push(report("network", &key, &file.name, errors));
    }

    let mut new_triggers: Vec<(String, Trigger)> = Vec::new();
    for file in set.triggers {
        let Value::Object(map) = file.json else {
            items.push(report(
                "trigger",
                &file.name,
                &file.name,
                vec![UserError::new(
                    &["triggers", &file.name],
                    "a trigger file is a JSON object of trigger key to trigger",
                )],
            ));
            continue;
        };
        for (key, mut json) in map {
            let mut errors = Vec::new();
            resolve_secrets(
                &mut json,
                env,
                &mut vec!["triggers".into(), file.name.clone(), key.clone()],
                &mut errors,
            );
            if errors.is_empty() {
                match triggers::validate(
                    &["triggers", &file.name, &key],
                    &key,
                    json,
                    st.host_scripts,
                ) {
                    Ok(_) if refs.triggers.contains_key(&key.to_lowercase()) => {
                        errors.push(UserError::new(
                            &["triggers", &file.name, &key],
                            format!("the tenant already has a trigger {key:?}"),
                        ));
                    }
                    Ok(t) => {
                        refs.triggers.insert(key.to_lowercase(), uuid::Uuid::nil());
                        new_triggers.push((key.clone(), t));
                    }
                    Err(e) => errors.extend(e),
                }
            }
            items.push(report("trigger", &key, &file.name, errors));
        }
    }

    let mut new_monitors: Vec<Monitor> = Vec::new();
    for file in set.monitors {
        let key = file
            .json
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or(&file.name)
            .to_owned();
        let errors = match monitors::validate(
            &["monitors", &file.name],
            file.json,
            &refs,
            st.host_scripts,
        ) {
            Ok(m)
                if new_monitors
                    .iter()
                    .any(|o| o.name.eq_ignore_ascii_case(&m.name)) =>
            {
                vec![UserError::new(
                    &["monitors", &file.name, "name"],
                    format!("two monitors are named {:?}", m.name),
                )]
            }
            Ok(m) => {
                new_monitors.push(m);
                vec![]
            }
            Err(e) => e,
        };
        items.push(report("monitor", &key, &file.name, errors));
    }

    let ok = items.iter().all(|i| i.errors.is_empty());
    if !ok {
        txn.rollback().await?;
        for item in &mut items {
            if item.errors.is_empty() {
                item.status = "not_created".into();
            }
        }
        return Ok(ImportReport { ok, items });
    }
    for (resource, n) in [
        (Resource::Networks, new_networks.len()),
        (Resource::Triggers, new_triggers.len()),
        (Resource::Monitors, new_monitors.len()),
    ] {
        quotas::ensure_room(&txn, &st.plans, tenant, resource, n as u64).await?;
    }
    for network in &new_networks {
        let row = networks::insert_private(st, &txn, network).await?;
        let kind = network.kind().unwrap_or(NetworkType::Evm);
        refs.networks
            .insert(network.slug.to_lowercase(), (row.id, kind));
    }
    for (key, trigger) in &new_triggers {
        let row = triggers::insert(st, &txn, key, trigger).await?;
        refs.triggers.insert(key.to_lowercase(), row.id);
    }
    for monitor in &new_monitors {
        monitors::insert(&txn, monitor, &refs, "info").await?;
    }
    audit::record(
        &txn,
        actor,
        creds,
        AuditEntry::new(
            "config.import",
            "tenant",
            Some(tenant.id.to_string()),
            serde_json::json!({"networks": new_networks.len(), "triggers": new_triggers.len(), "monitors": new_monitors.len()}),
        ),
    )
    .await?;
    txn.commit().await?;
    st.config_changed(Some(tenant.id)).await;
    Ok(ImportReport { ok, items })
}

/// Reads an OZ config directory into a set.
pub fn read_dir(dir: &Path) -> Result<ConfigSet, String> {
    let read = |sub: &str| -> Result<Vec<ConfigFile>, String> {
        let path = dir.join(sub);
        if !path.is_dir() {
            return Ok(Vec::new());
        }
        let mut files: Vec<_> = std::fs::read_dir(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|p| {
                let text =
                    std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
                let json = serde_json::from_str(&text)
                    .map_err(|e| format!("{}: invalid JSON: {e}", p.display()))?;
                Ok(ConfigFile {
                    name: format!(
                        "{sub}/{}",
                        p.file_name().unwrap_or_default().to_string_lossy()
                    ),
                    json,
                })
            })
            .collect()
    };
    let mut set = ConfigSet {
        networks: read("networks")?,
        monitors: read("monitors")?,
        triggers: read("triggers")?,
    };
    // The platform stores scripts inline: read the files OZ configs point at.
    let inline = |holder: &mut Value| -> Result<(), String> {
        let Some(path) = holder.get("script_path").and_then(Value::as_str) else {
            return Ok(());
        };
        if holder.get("script").is_some() {
            return Ok(());
        }
        if let Some(file) = monitor::config::resolve_script(dir, path) {
            let text =
                std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            holder["script"] = Value::String(text);
        }
        Ok(())
    };
    for m in &mut set.monitors {
        if let Some(conditions) = m
            .json
            .get_mut("trigger_conditions")
            .and_then(Value::as_array_mut)
        {
            for c in conditions {
                inline(c)?;
            }
        }
    }
    for t in &mut set.triggers {
        // A triggers file maps keys to triggers.
        if let Some(map) = t.json.as_object_mut() {
            for trigger in map.values_mut() {
                if trigger.get("trigger_type").and_then(Value::as_str) == Some("script")
                    && let Some(config) = trigger.get_mut("config")
                {
                    inline(config)?;
                }
            }
        }
    }
    Ok(set)
}

/// A file name for a monitor name.
fn file_stem(name: &str) -> String {
    let stem: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    stem.trim_matches('_').to_owned()
}

/// The tenant's configuration as an OZ directory: networks (private ones, and the
/// catalog definitions of enabled ones), monitors, and one triggers file, secrets
/// opened (for the operator running the export).
pub async fn export(st: &ApiState, tenant: &TenantCtx, dir: &Path) -> ServiceResult<usize> {
    let txn = TenantTxn::begin(&st.db, tenant.id).await?;
    let nets = txn
        .select::<entities::tenant_networks::Entity>()
        .all(txn.conn())
        .await?;
    let mons = txn
        .select::<entities::tenant_monitors::Entity>()
        .all(txn.conn())
        .await?;
    let trigs = txn
        .select::<entities::tenant_triggers::Entity>()
        .all(txn.conn())
        .await?;
    let mut written = 0;
    let write = |path: &Path, json: &Value| -> ServiceResult<()> {
        std::fs::create_dir_all(path.parent().unwrap_or(dir)).map_err(ApiError::internal)?;
        std::fs::write(
            path,
            serde_json::to_vec_pretty(json).map_err(ApiError::internal)?,
        )
        .map_err(ApiError::internal)
    };
    for n in nets {
        let mut json = match (&n.definition, n.catalog_network_id) {
            (Some(d), _) => d.clone(),
            (None, Some(id)) => {
                let row = catalog::Entity::find()
                    .filter(catalog::Column::Id.eq(id))
                    .one(txn.conn())
                    .await?
                    .ok_or(ApiError::NotFound)?;
                let mut d = row.definition;
                d["slug"] = Value::String(n.slug.clone());
                d
            }
            (None, None) => continue,
        };
        st.sealer
            .open_config(&mut json)
            .map_err(ApiError::internal)?;
        write(
            &dir.join("networks").join(format!("{}.json", n.slug)),
            &json,
        )?;
        written += 1;
    }
    for m in mons {
        write(
            &dir.join("monitors")
                .join(format!("{}.json", file_stem(&m.name))),
            &m.definition,
        )?;
        written += 1;
    }
    let mut all = BTreeMap::new();
    for t in trigs {
        let mut json = t.definition;
        st.sealer
            .open_config(&mut json)
            .map_err(ApiError::internal)?;
        all.insert(t.slug, json);
    }
    if !all.is_empty() {
        write(
            &dir.join("triggers").join("triggers.json"),
            &serde_json::to_value(&all).map_err(ApiError::internal)?,
        )?;
        written += all.len();
    }
    txn.commit().await?;
    Ok(written)
}
