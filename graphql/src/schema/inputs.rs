//! GraphQL input types. Monitors can be given typed (`monitor`) or as OZ JSON (`ozJson`);
//! typed input is turned into OZ JSON and validated identically.

use async_graphql::{Enum, InputObject, Json};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::types::Severity;
use crate::error::ApiError;

#[derive(InputObject)]
pub struct RegisterInput {
    pub email: String,
    pub password: String,
    pub tenant_name: String,
    pub tenant_slug: String,
}

#[derive(InputObject)]
pub struct LoginInput {
    pub email: String,
    pub password: String,
}

#[derive(InputObject)]
pub struct RefreshTokenInput {
    pub refresh_token: String,
}

#[derive(InputObject)]
pub struct LogoutInput {
    pub refresh_token: String,
}

#[derive(InputObject)]
pub struct CreateApiKeyInput {
    pub name: String,
    /// `resource:action` (`monitors:read`, `alerts:*`) or `*`.
    pub scopes: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct IdInput {
    pub id: async_graphql::ID,
}

#[derive(InputObject)]
pub struct InviteMemberInput {
    pub email: String,
    pub role: String,
}

#[derive(InputObject)]
pub struct AcceptInvitationInput {
    pub token: String,
    /// The password of the account (new or existing) joining the tenant.
    pub password: String,
}

#[derive(InputObject)]
pub struct ChangeMemberRoleInput {
    pub user_id: async_graphql::ID,
    pub role: String,
}

#[derive(InputObject)]
pub struct RemoveMemberInput {
    pub user_id: async_graphql::ID,
}

#[derive(InputObject)]
pub struct EnableNetworkInput {
    /// The catalog network to enable.
    pub catalog_slug: String,
    /// The slug monitors of this tenant will use (default: the catalog's).
    pub slug: Option<String>,
}

#[derive(InputObject)]
pub struct OzJsonInput {
    /// An OZ Monitor network definition.
    pub oz_json: Json<Value>,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum TransactionStatus {
    Any,
    Success,
    Failure,
}

#[derive(InputObject)]
pub struct SignatureConditionInput {
    pub signature: String,
    pub expression: Option<String>,
}

#[derive(InputObject)]
pub struct TransactionConditionInput {
    pub status: TransactionStatus,
    pub expression: Option<String>,
}

#[derive(InputObject)]
pub struct MatchConditionsInput {
    #[graphql(default)]
    pub functions: Vec<SignatureConditionInput>,
    #[graphql(default)]
    pub events: Vec<SignatureConditionInput>,
    #[graphql(default)]
    pub transactions: Vec<TransactionConditionInput>,
}

#[derive(InputObject)]
pub struct AddressInput {
    pub address: String,
    /// EVM: a JSON ABI array; Stellar: SEP-48 spec entries.
    pub contract_spec: Option<Json<Value>>,
}

/// A monitor, typed.
#[derive(InputObject)]
pub struct MonitorInput {
    pub name: String,
    pub networks: Vec<String>,
    #[graphql(default)]
    pub paused: bool,
    pub addresses: Vec<AddressInput>,
    pub match_conditions: MatchConditionsInput,
    #[graphql(default)]
    pub triggers: Vec<String>,
}

impl MonitorInput {
    /// The OZ JSON of this monitor.
    pub fn to_oz(&self) -> Value {
        let cond = |c: &SignatureConditionInput| json!({"signature": c.signature, "expression": c.expression});
        let status = |s: TransactionStatus| match s {
            TransactionStatus::Any => "Any",
            TransactionStatus::Success => "Success",
            TransactionStatus::Failure => "Failure",
        };
        json!({
            "name": self.name,
            "networks": self.networks,
            "paused": self.paused,
            "addresses": self.addresses.iter().map(|a| {
                let mut v = json!({"address": a.address});
                if let Some(spec) = &a.contract_spec {
                    v["contract_spec"] = spec.0.clone();
                }
                v
            }).collect::<Vec<_>>(),
            "match_conditions": {
                "functions": self.match_conditions.functions.iter().map(cond).collect::<Vec<_>>(),
                "events": self.match_conditions.events.iter().map(cond).collect::<Vec<_>>(),
                "transactions": self.match_conditions.transactions.iter()
                    .map(|t| json!({"status": status(t.status), "expression": t.expression}))
                    .collect::<Vec<_>>(),
            },
            "trigger_conditions": [],
            "triggers": self.triggers,
        })
    }
}

/// Exactly one of a typed monitor or its OZ JSON.
#[derive(InputObject)]
pub struct MonitorDraftInput {
    pub monitor: Option<MonitorInput>,
    pub oz_json: Option<Json<Value>>,
}

impl MonitorDraftInput {
    /// The OZ JSON and the path prefix problems are reported under.
    pub fn resolve(&self, root: &'static str) -> Result<(Value, Vec<&'static str>), ApiError> {
        match (&self.monitor, &self.oz_json) {
            (Some(m), None) => Ok((m.to_oz(), vec!["input", root, "monitor"])),
            (None, Some(j)) => Ok((j.0.clone(), vec!["input", root, "ozJson"])),
            _ => Err(ApiError::bad_input("give exactly one of monitor or ozJson")),
        }
    }
}

#[derive(InputObject)]
pub struct CreateMonitorInput {
    pub draft: MonitorDraftInput,
    /// `INFO` when omitted.
    pub severity: Option<Severity>,
}

#[derive(InputObject)]
pub struct UpdateMonitorInput {
    pub id: async_graphql::ID,
    pub draft: MonitorDraftInput,
    /// Unchanged when omitted.
    pub severity: Option<Severity>,
}

#[derive(InputObject)]
pub struct PauseMonitorInput {
    pub id: async_graphql::ID,
    pub paused: bool,
}

#[derive(InputObject)]
pub struct CreateTriggerInput {
    /// The key monitors reference.
    pub slug: String,
    /// An OZ trigger (`{name, trigger_type, config}`).
    pub oz_json: Json<Value>,
}

#[derive(InputObject)]
pub struct UpdateTriggerInput {
    pub id: async_graphql::ID,
    pub oz_json: Json<Value>,
}

#[derive(InputObject)]
pub struct ConfigFileInput {
    /// File name, for the report (e.g. `monitors/usdc.json`).
    pub name: String,
    pub content: Json<Value>,
}

#[derive(InputObject)]
pub struct ImportOzConfigInput {
    #[graphql(default)]
    pub networks: Vec<ConfigFileInput>,
    #[graphql(default)]
    pub monitors: Vec<ConfigFileInput>,
    /// Each a map of trigger key to trigger.
    #[graphql(default)]
    pub triggers: Vec<ConfigFileInput>,
}

#[derive(InputObject, Default)]
pub struct AlertFilterInput {
    #[graphql(default)]
    pub monitor_ids: Vec<async_graphql::ID>,
    #[graphql(default)]
    pub networks: Vec<String>,
    /// Only alerts of these severities.
    #[graphql(default)]
    pub severities: Vec<Severity>,
    pub since: Option<DateTime<Utc>>,
}

#[derive(InputObject, Default)]
pub struct DeliveryFilterInput {
    #[graphql(default)]
    pub statuses: Vec<String>,
    pub alert_id: Option<async_graphql::ID>,
    pub trigger_id: Option<async_graphql::ID>,
}

#[derive(InputObject, Default)]
pub struct AuditFilterInput {
    #[graphql(default)]
    pub actions: Vec<String>,
    pub resource_type: Option<String>,
    pub since: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct TestMonitorInput {
    /// A saved monitor...
    pub monitor_id: Option<async_graphql::ID>,
    /// ...or a draft.
    pub draft: Option<MonitorDraftInput>,
    /// The tenant's network slug.
    pub network: String,
    /// First block (decimal string: block numbers exceed 32 bits).
    pub from_block: String,
    /// Last block, inclusive (default: `fromBlock`).
    pub to_block: Option<String>,
}
