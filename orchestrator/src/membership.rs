//! What workers and the orchestrator exchange on the bus: heartbeats (a value per worker
//! that expires unless renewed, so a dead worker disappears by itself) and the
//! assignment (one value with an epoch, plus a channel announcing new epochs).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bus::{Bus, BusError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A worker's heartbeat: it is alive, and how it is doing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Heartbeat {
    pub worker: String,
    pub hostname: String,
    pub started_at: DateTime<Utc>,
    pub at: DateTime<Utc>,
    /// Shutting down: take its tenants away now rather than at expiry.
    pub draining: bool,
    /// The assignment epoch it has applied.
    pub epoch: u64,
    pub tenants: usize,
    /// Stream messages behind the head, per network.
    pub lag: BTreeMap<String, u64>,
    /// Errors since start (database, bus, malformed blocks).
    pub errors: u64,
    pub blocks_processed: u64,
}

/// Which worker owns which tenant, from one epoch on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    pub epoch: u64,
    /// The orchestrator that computed it.
    pub leader: String,
    pub at: Option<DateTime<Utc>>,
    pub owners: BTreeMap<Uuid, String>,
}

impl Assignment {
    /// The tenants of `worker`.
    pub fn tenants_of(&self, worker: &str) -> BTreeSet<Uuid> {
        self.owners
            .iter()
            .filter(|(_, w)| w.as_str() == worker)
            .map(|(t, _)| *t)
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MembershipError {
    #[error("bus: {0}")]
    Bus(#[from] BusError),
    #[error("malformed {what} on the bus: {error}")]
    Malformed {
        what: &'static str,
        error: serde_json::Error,
    },
}

/// Publishes a heartbeat that lives `ttl` unless renewed.
pub async fn beat(bus: &dyn Bus, hb: &Heartbeat, ttl: Duration) -> Result<(), BusError> {
    let payload = serde_json::to_vec(hb).expect("heartbeats serialize");
    bus.set_value(&bus.keys().heartbeat(&hb.worker), &payload, Some(ttl))
        .await
}

/// Removes a worker's heartbeat (clean shutdown).
pub async fn leave(bus: &dyn Bus, hb: &Heartbeat) -> Result<(), BusError> {
    let mut last = hb.clone();
    last.draining = true;
    beat(bus, &last, Duration::from_secs(2)).await
}

/// Heartbeats of live workers, by worker id. Malformed ones are skipped with a warning.
pub async fn live(bus: &dyn Bus) -> Result<BTreeMap<String, Heartbeat>, BusError> {
    let mut out = BTreeMap::new();
    for (key, value) in bus.scan_values(&bus.keys().heartbeats()).await? {
        match serde_json::from_slice::<Heartbeat>(&value) {
            Ok(hb) => {
                out.insert(hb.worker.clone(), hb);
            }
            Err(e) => tracing::warn!(key, error = %e, "malformed heartbeat ignored"),
        }
    }
    Ok(out)
}

/// The current assignment, if any.
pub async fn assignment(bus: &dyn Bus) -> Result<Option<Assignment>, MembershipError> {
    match bus.get_value(&bus.keys().assignment()).await? {
        None => Ok(None),
        Some(bytes) => {
            serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|error| MembershipError::Malformed {
                    what: "assignment",
                    error,
                })
        }
    }
}

/// Stores a new assignment and announces its epoch.
pub async fn publish(bus: &dyn Bus, a: &Assignment) -> Result<(), BusError> {
    let payload = serde_json::to_vec(a).expect("assignments serialize");
    bus.set_value(&bus.keys().assignment(), &payload, None)
        .await?;
    bus.publish(
        &bus.keys().assignment_channel(),
        a.epoch.to_string().as_bytes(),
    )
    .await
}
