//! The audit log: every mutation and auth event, written in the same transaction as the
//! change, secrets redacted, hash-chained per tenant. Each row's hash covers its content
//! and the previous row's hash, so editing, deleting or reordering rows breaks the chain
//! from that point, which [`verify`] finds.

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{ActiveValue::Set, NotSet, QueryOrder, QuerySelect};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::auth::principal::Credentials;
use crate::error::ServiceResult;
use entities::{TenantTxn, audit_logs};

/// The hash before the first row of a chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who did it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    User(Uuid),
    ApiKey {
        key_id: Uuid,
        creator: Option<Uuid>,
    },
    /// The platform itself (bootstrap, imports from the CLI).
    System,
}

impl Actor {
    fn user(&self) -> Option<Uuid> {
        match self {
            Actor::User(u) => Some(*u),
            Actor::ApiKey { creator, .. } => *creator,
            Actor::System => None,
        }
    }

    fn key(&self) -> Option<Uuid> {
        match self {
            Actor::ApiKey { key_id, .. } => Some(*key_id),
            _ => None,
        }
    }
}

/// What happened.
#[derive(Clone, Debug)]
pub struct AuditEntry {
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub details: Value,
}

impl AuditEntry {
    pub fn new(
        action: &str,
        resource_type: &str,
        resource_id: Option<String>,
        details: Value,
    ) -> Self {
        Self {
            action: action.to_owned(),
            resource_type: resource_type.to_owned(),
            resource_id,
            details,
        }
    }
}

/// Keys whose values never enter the log.
const SECRET_KEYS: [&str; 8] = [
    "password",
    "secret",
    "token",
    "key",
    "url",
    "slack_url",
    "discord_url",
    "username",
];

/// Replaces secrets in `value`: OZ secret objects (`{"type", "value"}`), and values
/// under secret-looking keys.
pub fn redact(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let is_secret_object = map.len() == 2
                && map.contains_key("value")
                && map.get("type").and_then(Value::as_str).is_some_and(|t| {
                    ["plain", "environment", "hashicorpcloudvault"]
                        .contains(&t.to_ascii_lowercase().as_str())
                });
            if is_secret_object {
                let mut out = map.clone();
                out.insert("value".into(), Value::String("[redacted]".into()));
                return Value::Object(out);
            }
            Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        let secret = SECRET_KEYS.contains(&k.to_ascii_lowercase().as_str())
                            && !v.is_object();
                        (
                            k.clone(),
                            if secret {
                                Value::String("[redacted]".into())
                            } else {
                                redact(v)
                            },
                        )
                    })
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        other => other.clone(),
    }
}

/// JSON with object keys sorted, for hashing.
fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let inner: Vec<String> = keys
                .iter()
                .map(|k| format!("{}:{}", Value::String((*k).clone()), canonical(&map[*k])))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

fn row_hash(row: &audit_logs::Model) -> String {
    let fields = [
        row.prev_hash.clone(),
        row.tenant_id.to_string(),
        row.seq.to_string(),
        row.actor_user_id.map(|u| u.to_string()).unwrap_or_default(),
        row.actor_api_key_id
            .map(|u| u.to_string())
            .unwrap_or_default(),
        row.action.clone(),
        row.resource_type.clone(),
        row.resource_id.clone().unwrap_or_default(),
        canonical(&row.details),
        row.request_id.clone().unwrap_or_default(),
        row.ip.clone().unwrap_or_default(),
        row.created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    ];
    let mut hasher = Sha256::new();
    for f in fields {
        hasher.update((f.len() as u64).to_be_bytes());
        hasher.update(f.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Appends an entry to the tenant's chain. Call inside the transaction of the change,
/// after [`crate::quotas::lock_tenant`] so concurrent writers queue.
pub async fn record(
    txn: &TenantTxn,
    actor: &Actor,
    creds: &Credentials,
    entry: AuditEntry,
) -> ServiceResult<()> {
    let last = txn
        .select::<audit_logs::Entity>()
        .order_by_desc(audit_logs::Column::Seq)
        .limit(1)
        .one(txn.conn())
        .await?;
    let (seq, prev_hash) = match last {
        Some(l) => (l.seq + 1, l.hash),
        None => (1, GENESIS.to_owned()),
    };
    // Microseconds: what PostgreSQL keeps, so the hash verifies after a round trip.
    let created_at: DateTime<Utc> = Utc::now().trunc_subsecs(6);
    let mut row = audit_logs::Model {
        id: 0,
        tenant_id: txn.tenant_id(),
        seq,
        actor_user_id: actor.user(),
        actor_api_key_id: actor.key(),
        action: entry.action,
        resource_type: entry.resource_type,
        resource_id: entry.resource_id,
        details: redact(&entry.details),
        request_id: creds.request_id.clone(),
        ip: creds.ip.clone(),
        prev_hash,
        hash: String::new(),
        created_at,
    };
    row.hash = row_hash(&row);
    txn.insert(audit_logs::ActiveModel {
        id: NotSet,
        tenant_id: Set(row.tenant_id),
        seq: Set(row.seq),
        actor_user_id: Set(row.actor_user_id),
        actor_api_key_id: Set(row.actor_api_key_id),
        action: Set(row.action),
        resource_type: Set(row.resource_type),
        resource_id: Set(row.resource_id),
        details: Set(row.details),
        request_id: Set(row.request_id),
        ip: Set(row.ip),
        prev_hash: Set(row.prev_hash),
        hash: Set(row.hash),
        created_at: Set(row.created_at),
    })
    .await?;
    Ok(())
}

/// Result of checking a tenant's chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub ok: bool,
    pub checked: u64,
    /// The first row (by seq) whose link or hash does not hold.
    pub broken_at: Option<i64>,
}

/// Walks the tenant's chain in order, recomputing every hash.
pub async fn verify(txn: &TenantTxn) -> ServiceResult<Verdict> {
    let rows = txn
        .select::<audit_logs::Entity>()
        .order_by_asc(audit_logs::Column::Seq)
        .all(txn.conn())
        .await?;
    let mut prev = GENESIS.to_owned();
    for (i, row) in rows.iter().enumerate() {
        let expected_seq = i as i64 + 1;
        if row.seq != expected_seq || row.prev_hash != prev || row_hash(row) != row.hash {
            return Ok(Verdict {
                ok: false,
                checked: i as u64,
                broken_at: Some(row.seq.min(expected_seq)),
            });
        }
        prev = row.hash.clone();
    }
    Ok(Verdict {
        ok: true,
        checked: rows.len() as u64,
        broken_at: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_secret_objects_and_keys() {
        let v = serde_json::json!({
            "name": "w",
            "config": {"url": {"type": "Plain", "value": "https://hooks/secret"}, "secret": "s3", "method": "POST",
                       "nested": [{"password": "p"}]}
        });
        let r = redact(&v);
        let text = r.to_string();
        for leaked in ["hooks/secret", "s3", "\"p\""] {
            assert!(!text.contains(leaked), "{text}");
        }
        assert_eq!(r["config"]["method"], "POST");
        assert_eq!(r["name"], "w");
    }

    #[test]
    fn canonical_json_sorts_keys() {
        assert_eq!(
            canonical(&serde_json::json!({"b": 1, "a": [{"d": 2, "c": 3}]})),
            r#"{"a":[{"c":3,"d":2}],"b":1}"#
        );
    }
}
