//! Events on the bus's channels, and the helpers publishing them. Channel delivery is
//! best effort: every event here has a reconciliation path behind it.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Bus, BusError};

/// How long the configuration counter lives without a change (it only has to differ
/// from what workers last saw; expiry resets it, which workers also notice).
const CONFIG_VERSION_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// A tenant's configuration (monitors, triggers, networks) changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigChanged {
    /// The tenant; `None` for a change that concerns every tenant (a catalog network).
    pub tenant: Option<Uuid>,
    /// The configuration counter this change set it to: workers know which changes they
    /// have seen, whatever order events arrive in.
    #[serde(default)]
    pub version: u64,
}

/// Announces a configuration change: bumps the counter workers check before each block,
/// then publishes the event naming the tenant and the counter value (so the owner
/// reloads only that tenant, and knows no change is missing).
pub async fn config_changed(bus: &dyn Bus, tenant: Option<Uuid>) -> Result<(), BusError> {
    let version = bus
        .incr(&bus.keys().config_version(), CONFIG_VERSION_TTL)
        .await?;
    let payload = serde_json::to_vec(&ConfigChanged { tenant, version }).expect("events serialize");
    bus.publish(&bus.keys().config_channel(), &payload).await
}

/// The current configuration counter (0 when none was ever bumped).
pub async fn config_version(bus: &dyn Bus) -> Result<u64, BusError> {
    Ok(bus
        .get_value(&bus.keys().config_version())
        .await?
        .and_then(|v| std::str::from_utf8(&v).ok()?.trim().parse().ok())
        .unwrap_or(0))
}

/// A new alert was written (published on the alerts channel; live feeds filter by
/// tenant).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertCreated {
    pub tenant: Uuid,
    pub alert_id: i64,
    pub monitor_id: Uuid,
    /// The tenant's network slug.
    pub network: String,
    pub block_number: u64,
    pub transaction_hash: Option<String>,
}

impl AlertCreated {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("events serialize")
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

/// A delivery's status changed (published on the deliveries channel by the outbox).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryChanged {
    pub tenant: Uuid,
    pub delivery: Uuid,
    pub alert_id: i64,
    /// `pending`, `in_flight`, `delivered`, `failed`, `dead`...
    pub status: String,
    /// Attempts so far in this round.
    #[serde(default)]
    pub attempts: i32,
    /// The last error, when the attempt failed.
    #[serde(default)]
    pub last_error: Option<String>,
    /// When the change happened (milliseconds since the epoch).
    #[serde(default)]
    pub at_ms: i64,
}

/// A worker finished a block of a network: its tenants' monitors were evaluated and the
/// alerts written (published on the progress channel; dashboards follow the fleet).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockProcessed {
    /// The network's stream key (a catalog slug or `private-<id>`).
    pub network: String,
    pub block_number: u64,
    pub block_hash: String,
    /// The worker that processed it (a block is processed once per worker holding
    /// tenants on the network).
    pub worker: String,
    /// Tenants whose monitors saw the block on this worker.
    pub tenants: u32,
    /// Alerts this worker wrote for the block.
    pub alerts: u32,
    /// When the watcher published the block, and when the worker finished (ms since the
    /// epoch).
    pub published_at_ms: Option<i64>,
    pub processed_at_ms: i64,
}

/// Encodes and publishes `event` on `channel`; a failure is logged, not returned: live
/// feeds are best effort and every event has a durable record behind it.
pub async fn publish_json<T: Serialize>(bus: &dyn Bus, channel: &str, event: &T) {
    let payload = serde_json::to_vec(event).expect("events serialize");
    if let Err(e) = bus.publish(channel, &payload).await {
        tracing::debug!(channel, error = %e, "publishing an event failed");
    }
}
