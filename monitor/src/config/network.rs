//! Networks, as OZ Monitor's `networks/*.json` describe them.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::problem::Problems;
use super::secret::SecretValue;

/// The chains we monitor. Other OZ network types (Solana, Midnight) are rejected at
/// validation with "unsupported network type".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NetworkType {
    #[serde(rename = "EVM")]
    Evm,
    #[serde(rename = "Stellar")]
    Stellar,
}

impl NetworkType {
    pub fn as_str(self) -> &'static str {
        match self {
            NetworkType::Evm => "EVM",
            NetworkType::Stellar => "Stellar",
        }
    }

    /// Case-sensitive, as OZ spells them.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "EVM" => Some(NetworkType::Evm),
            "Stellar" => Some(NetworkType::Stellar),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Kept as text so an unsupported type is a validation problem, not a parse error.
    pub network_type: String,
    pub slug: String,
    pub name: String,
    pub rpc_urls: Vec<RpcUrl>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_passphrase: Option<String>,
    pub block_time_ms: u64,
    pub confirmation_blocks: u64,
    pub cron_schedule: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_past_blocks: Option<MaxPastBlocks>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_blocks: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_config: Option<RecoveryConfig>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RpcUrl {
    pub type_: String,
    pub url: SecretValue,
    /// 0 disables the endpoint; higher weights are tried first.
    pub weight: u32,
}

/// A number of blocks, or `"unlimited"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaxPastBlocks {
    Blocks(u64),
    Unlimited,
}

impl Serialize for MaxPastBlocks {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            MaxPastBlocks::Blocks(n) => s.serialize_u64(*n),
            MaxPastBlocks::Unlimited => s.serialize_str("unlimited"),
        }
    }
}

impl<'de> Deserialize<'de> for MaxPastBlocks {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Number(u64),
            Text(String),
        }
        match Wire::deserialize(d)? {
            Wire::Number(n) => Ok(MaxPastBlocks::Blocks(n)),
            Wire::Text(t) if t == "unlimited" => Ok(MaxPastBlocks::Unlimited),
            Wire::Text(t) => Err(serde::de::Error::custom(format!(
                "max_past_blocks must be a positive number or \"unlimited\", got {t:?}"
            ))),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoveryConfig {
    pub enabled: bool,
    pub cron_schedule: String,
    pub max_blocks_per_run: u64,
    pub max_block_age: u64,
    pub max_retries: u32,
    pub retry_delay_ms: u64,
}

/// Whether `slug` is a valid network slug: `[a-z0-9_]+`.
pub fn valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= 64
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Checks a 6- or 7-field cron expression (with seconds).
pub fn validate_cron(expr: &str) -> Result<(), String> {
    let fields = expr.split_whitespace().count();
    if !(6..=7).contains(&fields) {
        return Err(format!(
            "cron schedule {expr:?} has {fields} fields; expected 6 or 7 (seconds first)"
        ));
    }
    cron::Schedule::from_str(expr)
        .map(drop)
        .map_err(|e| format!("invalid cron schedule {expr:?}: {e}"))
}

/// Checks a URL is an absolute http(s) URL.
pub fn validate_http_url(url: &str) -> Result<(), String> {
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .ok_or_else(|| format!("{url:?} is not an http(s) URL"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{url:?} is not a valid URL"));
    }
    Ok(())
}

impl Network {
    /// The network type, if supported.
    pub fn kind(&self) -> Option<NetworkType> {
        NetworkType::parse(&self.network_type)
    }

    /// The default `max_past_blocks`: one cron interval's worth of blocks plus the
    /// confirmation depth plus one.
    pub fn effective_max_past_blocks(&self) -> Option<u64> {
        match self.max_past_blocks {
            Some(MaxPastBlocks::Blocks(n)) => Some(n),
            Some(MaxPastBlocks::Unlimited) => None,
            None => {
                let interval_ms = cron_interval_ms(&self.cron_schedule).unwrap_or(60_000);
                Some(interval_ms / self.block_time_ms.max(1) + self.confirmation_blocks + 1)
            }
        }
    }

    /// RPC endpoints in the order to try them: enabled ones, highest weight first.
    pub fn endpoints(&self) -> Vec<&RpcUrl> {
        let mut urls: Vec<&RpcUrl> = self.rpc_urls.iter().filter(|u| u.weight > 0).collect();
        urls.sort_by_key(|u| std::cmp::Reverse(u.weight));
        urls
    }

    /// Every problem with this network.
    pub fn validate(&self, problems: &mut Problems) {
        let kind = self.kind();
        if kind.is_none() {
            // Nothing else about a Solana or Midnight network matters to us.
            problems.add(
                "$.network_type",
                format!(
                    "unsupported network type {:?} (supported: EVM, Stellar)",
                    self.network_type
                ),
            );
            return;
        }
        if !valid_slug(&self.slug) {
            problems.add(
                "$.slug",
                format!("slug {:?} must match [a-z0-9_]+", self.slug),
            );
        }
        if self.name.trim().is_empty() {
            problems.add("$.name", "name must not be empty");
        }
        if self.rpc_urls.is_empty() {
            problems.add("$.rpc_urls", "at least one RPC URL is required");
        } else if self.rpc_urls.iter().all(|u| u.weight == 0) {
            problems.add("$.rpc_urls", "every RPC URL has weight 0 (disabled)");
        }
        for (i, rpc) in self.rpc_urls.iter().enumerate() {
            if rpc.type_ != "rpc" {
                problems.add(
                    format!("$.rpc_urls[{i}].type_"),
                    format!(
                        "RPC type {:?} is not supported (expected \"rpc\")",
                        rpc.type_
                    ),
                );
            }
            if rpc.weight > 100 {
                problems.add(
                    format!("$.rpc_urls[{i}].weight"),
                    "weight must be between 0 and 100",
                );
            }
            if let Some(url) = rpc.url.plain()
                && let Err(e) = validate_http_url(url)
            {
                problems.add(format!("$.rpc_urls[{i}].url.value"), e);
            }
        }
        match kind {
            Some(NetworkType::Evm) => {
                if self.chain_id.is_none() {
                    problems.add("$.chain_id", "chain_id is required for EVM networks");
                }
                if self.network_passphrase.is_some() {
                    problems.add(
                        "$.network_passphrase",
                        "network_passphrase is for Stellar networks",
                    );
                }
            }
            Some(NetworkType::Stellar) => {
                if self
                    .network_passphrase
                    .as_deref()
                    .is_none_or(|p| p.trim().is_empty())
                {
                    problems.add(
                        "$.network_passphrase",
                        "network_passphrase is required for Stellar networks",
                    );
                }
                if self.chain_id.is_some() {
                    problems.add("$.chain_id", "chain_id is for EVM networks");
                }
            }
            None => {}
        }
        if self.block_time_ms < 100 {
            problems.add("$.block_time_ms", "block_time_ms must be at least 100");
        }
        if self.confirmation_blocks == 0 {
            problems.add(
                "$.confirmation_blocks",
                "confirmation_blocks must be greater than 0",
            );
        }
        if let Err(e) = validate_cron(&self.cron_schedule) {
            problems.add("$.cron_schedule", e);
        }
        if self.max_past_blocks == Some(MaxPastBlocks::Blocks(0)) {
            problems.add(
                "$.max_past_blocks",
                "max_past_blocks must be greater than 0",
            );
        }
        if let Some(r) = &self.recovery_config {
            if let Err(e) = validate_cron(&r.cron_schedule) {
                problems.add("$.recovery_config.cron_schedule", e);
            }
            if r.max_blocks_per_run == 0 {
                problems.add(
                    "$.recovery_config.max_blocks_per_run",
                    "max_blocks_per_run must be greater than 0",
                );
            }
        }
    }
}

/// Milliseconds between two consecutive firings of a cron schedule.
fn cron_interval_ms(expr: &str) -> Option<u64> {
    let schedule = cron::Schedule::from_str(expr).ok()?;
    let mut upcoming = schedule.upcoming(chrono::Utc);
    let a = upcoming.next()?;
    let b = upcoming.next()?;
    u64::try_from((b - a).num_milliseconds()).ok()
}
