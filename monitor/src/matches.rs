//! Matches in OZ Monitor's JSON shape: `{"EVM": {...}}` or `{"Stellar": {...}}`, with
//! `matched_on` (the conditions that held) and `matched_on_args` (decoded arguments of
//! the calls and events that matched). This is the body of raw-mode webhooks and the
//! input of trigger-condition scripts.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::config::{MatchConditions, Monitor};
use crate::evm::types::{EvmLog, EvmReceipt, EvmTransaction};
use crate::stellar::types::{StellarEvent, StellarLedger, StellarTransaction};
use crate::value::Param;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum MonitorMatch {
    #[serde(rename = "EVM")]
    Evm(Box<EvmMatch>),
    #[serde(rename = "Stellar")]
    Stellar(Box<StellarMatch>),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvmMatch {
    pub monitor: Arc<Monitor>,
    /// Shared by every match of the transaction (serialized as the plain object).
    pub transaction: Arc<EvmTransaction>,
    pub receipt: Option<Arc<EvmReceipt>>,
    pub logs: Arc<Vec<EvmLog>>,
    pub network_slug: String,
    pub matched_on: MatchConditions,
    pub matched_on_args: Option<MatchArguments>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StellarMatch {
    pub monitor: Arc<Monitor>,
    pub transaction: StellarTransaction,
    pub ledger: StellarLedger,
    pub events: Vec<StellarEvent>,
    pub network_slug: String,
    pub matched_on: MatchConditions,
    pub matched_on_args: Option<MatchArguments>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MatchArguments {
    pub functions: Option<Vec<MatchParamsMap>>,
    pub events: Option<Vec<MatchParamsMap>>,
}

/// One matched call or event with its decoded arguments.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MatchParamsMap {
    pub signature: String,
    pub hex_signature: Option<String>,
    pub args: Option<Vec<MatchParamEntry>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchParamEntry {
    pub name: String,
    pub value: String,
    pub kind: String,
    pub indexed: bool,
}

impl MatchParamsMap {
    pub fn new(signature: String, hex_signature: Option<String>, params: &[Param]) -> Self {
        Self {
            signature,
            hex_signature,
            args: Some(
                params
                    .iter()
                    .map(|p| MatchParamEntry {
                        name: p.name.clone(),
                        value: p.value.render(),
                        kind: p.kind.clone(),
                        indexed: p.indexed,
                    })
                    .collect(),
            ),
        }
    }

    /// Like [`Self::new`], naming the arguments from `names` (by position) where given
    /// (decoding may be shared between monitors whose ABIs name parameters differently)
    /// and taking already rendered values.
    pub fn named(
        signature: &str,
        hex_signature: &str,
        params: &[Param],
        names: &[String],
        rendered: &[String],
    ) -> Self {
        Self {
            signature: signature.to_owned(),
            hex_signature: Some(hex_signature.to_owned()),
            args: Some(
                params
                    .iter()
                    .enumerate()
                    .map(|(i, p)| MatchParamEntry {
                        name: names.get(i).cloned().unwrap_or_else(|| p.name.clone()),
                        value: rendered.get(i).cloned().unwrap_or_else(|| p.value.render()),
                        kind: p.kind.clone(),
                        indexed: p.indexed,
                    })
                    .collect(),
            ),
        }
    }

    /// The rendered value of the argument called `name`.
    pub fn arg(&self, name: &str) -> Option<&str> {
        self.args
            .as_ref()?
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.value.as_str())
    }
}

impl MonitorMatch {
    pub fn monitor(&self) -> &Monitor {
        match self {
            MonitorMatch::Evm(m) => &m.monitor,
            MonitorMatch::Stellar(m) => &m.monitor,
        }
    }

    pub fn network_slug(&self) -> &str {
        match self {
            MonitorMatch::Evm(m) => &m.network_slug,
            MonitorMatch::Stellar(m) => &m.network_slug,
        }
    }

    pub fn matched_on(&self) -> &MatchConditions {
        match self {
            MonitorMatch::Evm(m) => &m.matched_on,
            MonitorMatch::Stellar(m) => &m.matched_on,
        }
    }

    pub fn matched_on_args(&self) -> Option<&MatchArguments> {
        match self {
            MonitorMatch::Evm(m) => m.matched_on_args.as_ref(),
            MonitorMatch::Stellar(m) => m.matched_on_args.as_ref(),
        }
    }

    /// The transaction hash, as text (`0x...` on EVM, hex on Stellar).
    pub fn transaction_hash(&self) -> String {
        match self {
            MonitorMatch::Evm(m) => format!("{:#x}", m.transaction.hash),
            MonitorMatch::Stellar(m) => m.transaction.tx_hash.clone(),
        }
    }
}
