//! The worker's heartbeat, on its own task and clock: on the bus (a value that expires
//! unless renewed — liveness), in this process's health (`/readyz`) and, on change or
//! every few seconds, in the `workers` table (for operators).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use entities::workers;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, DbErr, EntityTrait};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::WorkerContext;
use crate::membership::{self, Heartbeat};

/// How often the `workers` row is refreshed when nothing changed.
const RECORD_EVERY: Duration = Duration::from_secs(10);

/// What the worker last reported about itself.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub epoch: u64,
    pub tenants: usize,
    /// Stream position per network (the least advanced tenant's).
    pub positions: BTreeMap<String, u64>,
    pub errors: u64,
    pub blocks: u64,
}

pub struct Heart {
    ctx: WorkerContext,
    hostname: String,
    started_at: DateTime<Utc>,
    snapshot: Arc<Mutex<Snapshot>>,
    now: Arc<Notify>,
    /// The `workers` row as last written: when, epoch, tenants, draining.
    last_record: Option<(Instant, u64, usize, bool)>,
    /// Networks whose lag was last reported (a network left is reported as 0, not
    /// left at its last value).
    reported: std::collections::BTreeSet<String>,
}

impl Heart {
    pub fn new(ctx: WorkerContext, snapshot: Arc<Mutex<Snapshot>>, now: Arc<Notify>) -> Self {
        let hostname = std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_owned());
        Self {
            ctx,
            hostname,
            started_at: Utc::now(),
            snapshot,
            now,
            last_record: None,
            reported: Default::default(),
        }
    }

    /// Beats every interval (and when asked) until `stop`, then once more as draining.
    pub async fn run(mut self, stop: CancellationToken) {
        loop {
            self.beat(false).await;
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = self.now.notified() => {}
                _ = tokio::time::sleep(self.ctx.options.heartbeat_interval) => {}
            }
        }
        self.beat(true).await;
    }

    async fn heartbeat(&self, draining: bool) -> Heartbeat {
        let snap = self
            .snapshot
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let worker = self.ctx.options.id.clone();
        let mut lag = BTreeMap::new();
        for (key, position) in &snap.positions {
            let stream = self.ctx.bus.keys().blocks(key);
            if let Ok(last) = self.ctx.bus.stream_last(&stream).await {
                let behind = last.map_or(0, |e| e.seq.saturating_sub(*position));
                metrics::gauge!("stellar_monitor_worker_lag_blocks",
                    "worker" => worker.clone(), "network" => key.clone())
                .set(behind as f64);
                lag.insert(key.clone(), behind);
            }
        }
        // One series per worker, whatever its networks: what the autoscaler follows.
        metrics::gauge!("stellar_monitor_worker_max_lag_blocks", "worker" => worker.clone())
            .set(lag.values().copied().max().unwrap_or(0) as f64);
        Heartbeat {
            worker,
            hostname: self.hostname.clone(),
            started_at: self.started_at,
            at: Utc::now(),
            draining,
            epoch: snap.epoch,
            tenants: snap.tenants,
            lag,
            errors: snap.errors,
            blocks_processed: snap.blocks,
        }
    }

    async fn beat(&mut self, draining: bool) {
        let hb = self.heartbeat(draining).await;
        let now_reported: std::collections::BTreeSet<String> = hb.lag.keys().cloned().collect();
        for gone in self.reported.difference(&now_reported) {
            metrics::gauge!("stellar_monitor_worker_lag_blocks",
                "worker" => hb.worker.clone(), "network" => gone.clone())
            .set(0.0);
        }
        self.reported = now_reported;
        self.ctx.health.report(&hb);
        let result = if draining {
            membership::leave(&*self.ctx.bus, &hb).await
        } else {
            membership::beat(&*self.ctx.bus, &hb, self.ctx.options.heartbeat_ttl).await
        };
        if let Err(e) = result {
            tracing::warn!(worker = %hb.worker, error = %e, "heartbeat failed");
        }
        let now = (hb.epoch, hb.tenants, hb.draining);
        let due = self
            .last_record
            .is_none_or(|(at, epoch, tenants, draining)| {
                (epoch, tenants, draining) != now || at.elapsed() >= RECORD_EVERY
            });
        if due {
            match self.record(&hb).await {
                Ok(()) => self.last_record = Some((Instant::now(), now.0, now.1, now.2)),
                Err(e) => {
                    tracing::warn!(worker = %hb.worker, error = %e, "recording the worker failed")
                }
            }
        }
    }

    /// The `workers` row, for operators (liveness itself is the bus heartbeat).
    async fn record(&self, hb: &Heartbeat) -> Result<(), DbErr> {
        let info = serde_json::json!({
            "epoch": hb.epoch, "tenants": hb.tenants, "lag": hb.lag,
            "errors": hb.errors, "blocksProcessed": hb.blocks_processed,
        });
        workers::Entity::insert(workers::ActiveModel {
            id: Set(hb.worker.clone()),
            hostname: Set(hb.hostname.clone()),
            version: Set(Some(env!("CARGO_PKG_VERSION").to_owned())),
            started_at: Set(hb.started_at),
            last_heartbeat_at: Set(hb.at),
            status: Set(if hb.draining { "draining" } else { "active" }.to_owned()),
            info: Set(Some(info)),
        })
        .on_conflict(
            OnConflict::column(workers::Column::Id)
                .update_columns([
                    workers::Column::Hostname,
                    workers::Column::Version,
                    workers::Column::StartedAt,
                    workers::Column::LastHeartbeatAt,
                    workers::Column::Status,
                    workers::Column::Info,
                ])
                .to_owned(),
        )
        .exec_without_returning(&self.ctx.db)
        .await?;
        Ok(())
    }
}
