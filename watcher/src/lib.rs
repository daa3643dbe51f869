//! Shared block watchers: for each network with an active monitor anywhere, exactly one
//! watcher in the fleet holds the network's lease, polls its RPC and publishes each
//! confirmed block once, in order, to the network's stream on the bus.
//!
//! - Discovery ([`discovery`]) re-reads which networks need watching, so networks added
//!   or removed at run time are picked up without a restart.
//! - Each network runs in its own task ([`network`]): lease, resume from the persisted
//!   cursor, catch up in batches with bounded concurrency, check every block's parent
//!   against the previous one and repair reorganisations (orphan notices, then the
//!   canonical blocks).
//! - Stream positions are explicit, so a watcher that lost its lease can never publish
//!   a position another already used.

mod chain;
pub mod discovery;
pub mod network;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use entities::secrets::Sealer;
use sea_orm::DatabaseConnection;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use chain::Chain;

/// Tuning; the defaults suit mainnet-like chains.
#[derive(Clone, Debug)]
pub struct WatcherOptions {
    /// This watcher's id (the lease holder name).
    pub holder: String,
    /// How long a lease lives without renewal (a dead watcher's successor takes over
    /// within this).
    pub lease_ttl: Duration,
    /// How often to look for networks to add or drop.
    pub discovery_interval: Duration,
    /// Blocks fetched per catch-up round.
    pub batch: usize,
    /// Blocks fetched at once.
    pub concurrency: usize,
    /// Entries each stream keeps (approximately).
    pub max_stream_len: usize,
    /// Shortest pause between polls of the head (the network's block time, if longer,
    /// paces it).
    pub min_poll: Duration,
    /// On a network's first start, how many confirmed blocks before the head to publish.
    pub initial_backfill: u64,
    /// Recent blocks remembered for reorganisation repair.
    pub reorg_window: usize,
}

impl Default for WatcherOptions {
    fn default() -> Self {
        Self {
            holder: format!("watcher-{}", uuid::Uuid::new_v4().simple()),
            lease_ttl: Duration::from_secs(10),
            discovery_interval: Duration::from_secs(5),
            batch: 20,
            concurrency: 4,
            max_stream_len: 10_000,
            min_poll: Duration::from_millis(100),
            initial_backfill: 0,
            reorg_window: 256,
        }
    }
}

/// What a watcher needs.
#[derive(Clone)]
pub struct WatcherContext {
    pub db: DatabaseConnection,
    pub bus: Arc<dyn bus::Bus>,
    /// Opens private networks' sealed RPC URLs.
    pub sealer: Arc<Sealer>,
    pub options: WatcherOptions,
}

struct Running {
    fingerprint: String,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

/// Watches every network that needs it until `shutdown`, then releases its leases.
pub async fn run(ctx: WatcherContext, shutdown: CancellationToken) {
    let mut running: HashMap<String, Running> = HashMap::new();
    loop {
        match discovery::networks(&ctx.db, &ctx.sealer).await {
            Ok(wanted) => {
                metrics::gauge!("stellar_monitor_watcher_networks").set(wanted.len() as f64);
                running.retain(|key, r| {
                    let keep = wanted.iter().any(|w| &w.key == key && w.fingerprint == r.fingerprint);
                    if !keep {
                        tracing::info!(network = %key, "network no longer watched (or changed); stopping");
                        r.stop.cancel();
                    }
                    keep
                });
                for w in wanted {
                    if running.contains_key(&w.key) {
                        continue;
                    }
                    tracing::info!(network = %w.key, "watching network");
                    let stop = shutdown.child_token();
                    let fingerprint = w.fingerprint.clone();
                    let key = w.key.clone();
                    let span = tracing::info_span!("watcher", network = %key);
                    let task = tokio::spawn(tracing::Instrument::instrument(
                        network::watch(ctx.clone(), w, stop.clone()),
                        span,
                    ));
                    running.insert(
                        key,
                        Running {
                            fingerprint,
                            stop,
                            task,
                        },
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "network discovery failed"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(ctx.options.discovery_interval) => {}
        }
    }
    for (_, r) in running {
        r.stop.cancel();
        let _ = r.task.await;
    }
}
