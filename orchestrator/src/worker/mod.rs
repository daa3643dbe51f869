//! The worker runtime. A worker:
//!
//! - heartbeats on the bus (a value that expires unless renewed) and in the `workers`
//!   table;
//! - applies the assignment the orchestrator publishes: tenants it gained are loaded
//!   from the database into memory and resume from their stored cursors; tenants it
//!   lost have their cursors flushed and are dropped;
//! - reads the block stream of every network its tenants use, runs the matcher over all
//!   of its tenants' monitors at once and writes alerts ([`alerts`]);
//! - applies configuration changes before the next block it processes: the bus's
//!   configuration counter is compared before each block, events name the tenants to
//!   reload, and a periodic reconcile reloads everything it holds.

pub mod alerts;
pub mod config;
mod heart;
mod network;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bus::blocks::{BlockMessage, MessageKind};
use bus::events::{BlockProcessed, ConfigChanged};
use bus::{Bus, BusError, Subscription};
use chrono::Utc;
use monitor::matcher::KeyedMatch;
use policies::Plans;
use sea_orm::{DatabaseConnection, DbErr};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::health::FleetHealth;
use crate::membership::{self, MembershipError};
use alerts::{Cursor, NewAlert};
use config::TenantConfig;
use network::NetworkState;

/// Tuning; the defaults suit production.
#[derive(Clone, Debug)]
pub struct WorkerOptions {
    /// This worker's id (unique in the fleet; stable across restarts of the same pod is
    /// best: the restarted worker takes its tenants straight back).
    pub id: String,
    /// How often to heartbeat.
    pub heartbeat_interval: Duration,
    /// How long a heartbeat lives: a worker silent this long is dead.
    pub heartbeat_ttl: Duration,
    /// Pause between looks at idle streams.
    pub poll_interval: Duration,
    /// Stream messages read at once per network.
    pub read_batch: usize,
    /// How often advanced cursors are stored (re-processing after a crash is harmless,
    /// so this trades a little replay for fewer writes).
    pub cursor_flush_interval: Duration,
    /// How often every held tenant's configuration is reloaded regardless of events.
    pub reconcile_interval: Duration,
    /// How often the assignment is read even without an announcement.
    pub assignment_poll: Duration,
    /// Trigger conditions: the sandbox, and whether host scripts may run.
    pub scripts: crate::scripts::ScriptSettings,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            id: format!("worker-{}", Uuid::new_v4().simple()),
            heartbeat_interval: Duration::from_secs(1),
            heartbeat_ttl: Duration::from_secs(5),
            poll_interval: Duration::from_millis(50),
            read_batch: 50,
            cursor_flush_interval: Duration::from_secs(1),
            reconcile_interval: Duration::from_secs(60),
            assignment_poll: Duration::from_secs(2),
            scripts: crate::scripts::ScriptSettings::default(),
        }
    }
}

/// What a worker needs.
#[derive(Clone)]
pub struct WorkerContext {
    pub db: DatabaseConnection,
    pub bus: Arc<dyn Bus>,
    pub plans: Arc<Plans>,
    pub options: WorkerOptions,
    pub health: Arc<FleetHealth>,
}

#[derive(Debug, thiserror::Error)]
enum WorkError {
    #[error("database: {0}")]
    Db(#[from] DbErr),
    #[error("bus: {0}")]
    Bus(#[from] BusError),
    #[error("{0}")]
    Membership(#[from] MembershipError),
}

/// Runs a worker until `shutdown`: finishes the block in hand, stores its cursors and
/// leaves the fleet.
pub async fn run(ctx: WorkerContext, shutdown: CancellationToken) {
    let mut worker = Worker::new(ctx);
    worker.run(shutdown).await;
}

struct Worker {
    ctx: WorkerContext,
    /// The applied assignment epoch.
    epoch: Option<u64>,
    /// Tenants assigned to this worker (some may have no configuration: suspended).
    assigned: BTreeSet<Uuid>,
    tenants: BTreeMap<Uuid, TenantConfig>,
    networks: BTreeMap<String, NetworkState>,
    /// Alerts written today per tenant (UTC day), for the daily quota.
    usage_day: String,
    /// The configuration counter applied, and the changes announced beyond it (counter
    /// value → tenant, `None` for every tenant).
    config_version: u64,
    announced: BTreeMap<u64, Option<Uuid>>,
    config_events: Option<Subscription>,
    reload_all: bool,
    errors: u64,
    blocks: u64,
    /// Shared with the heartbeat task, which beats on its own clock (a long block never
    /// delays a heartbeat).
    snapshot: Arc<std::sync::Mutex<heart::Snapshot>>,
    beat_now: Arc<tokio::sync::Notify>,
    heart_stop: CancellationToken,
    heart: Option<tokio::task::JoinHandle<()>>,
    last_flush: Instant,
    last_reconcile: Instant,
    last_assignment: Option<Instant>,
}

fn today() -> String {
    Utc::now().format("%Y-%m-%d").to_string()
}

impl Worker {
    fn new(ctx: WorkerContext) -> Self {
        Self {
            ctx,
            epoch: None,
            assigned: BTreeSet::new(),
            tenants: BTreeMap::new(),
            networks: BTreeMap::new(),
            usage_day: today(),
            config_version: 0,
            announced: BTreeMap::new(),
            config_events: None,
            reload_all: false,
            errors: 0,
            blocks: 0,
            snapshot: Arc::default(),
            beat_now: Arc::default(),
            heart_stop: CancellationToken::new(),
            heart: None,
            last_flush: Instant::now(),
            last_reconcile: Instant::now(),
            last_assignment: None,
        }
    }

    fn id(&self) -> &str {
        &self.ctx.options.id
    }

    fn failed(&mut self, what: &str, e: &dyn std::fmt::Display) {
        self.errors += 1;
        metrics::counter!("stellar_monitor_worker_errors_total", "worker" => self.id().to_owned())
            .increment(1);
        tracing::warn!(worker = %self.id(), error = %e, "{what} failed");
    }

    async fn subscribe(&mut self, channel: String) -> Subscription {
        loop {
            match self.ctx.bus.subscribe(&channel).await {
                Ok(s) => return s,
                Err(e) => {
                    self.failed("subscribing", &e);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    async fn run(&mut self, shutdown: CancellationToken) {
        tracing::info!(worker = %self.id(), "worker starting");
        self.heart = Some(tokio::spawn(
            heart::Heart::new(
                self.ctx.clone(),
                self.snapshot.clone(),
                self.beat_now.clone(),
            )
            .run(self.heart_stop.clone()),
        ));
        let keys = self.ctx.bus.keys().clone();
        let config_events = self.subscribe(keys.config_channel()).await;
        self.config_events = Some(config_events);
        let mut assignments = self.subscribe(keys.assignment_channel()).await;
        // Changes before this point are in what the first loads read.
        self.config_version = bus::events::config_version(&*self.ctx.bus)
            .await
            .unwrap_or(0);
        while !shutdown.is_cancelled() {
            self.housekeeping().await;
            let progressed = self.process_streams(&shutdown).await;
            if progressed {
                continue;
            }
            let mut events = self.config_events.take();
            tokio::select! {
                _ = shutdown.cancelled() => {
                    self.config_events = events;
                    break;
                }
                msg = async {
                    match events.as_mut() {
                        Some(e) => e.recv().await,
                        None => std::future::pending().await,
                    }
                } => {
                    if let Some(msg) = msg {
                        self.note_config_event(&msg);
                    }
                }
                msg = assignments.recv() => {
                    if msg.is_some() {
                        self.last_assignment = None;
                    }
                }
                _ = tokio::time::sleep(self.ctx.options.poll_interval) => {}
            }
            self.config_events = events;
        }
        self.leave().await;
    }

    /// Heartbeat, assignment, configuration and cursor upkeep between blocks.
    async fn housekeeping(&mut self) {
        let o = self.ctx.options.clone();
        if self
            .last_assignment
            .is_none_or(|t| t.elapsed() >= o.assignment_poll)
        {
            if let Err(e) = self.apply_assignment().await {
                self.failed("applying the assignment", &e);
            }
            self.last_assignment = Some(Instant::now());
        }
        if self.last_reconcile.elapsed() >= o.reconcile_interval {
            self.reload_all = true;
            self.last_reconcile = Instant::now();
        }
        if let Err(e) = self.apply_config().await {
            self.failed("reloading configuration", &e);
        }
        if self.last_flush.elapsed() >= o.cursor_flush_interval {
            self.flush_cursors().await;
        }
        self.update_snapshot();
    }

    fn note_config_event(&mut self, msg: &[u8]) {
        match serde_json::from_slice::<ConfigChanged>(msg) {
            Ok(e) if e.version > self.config_version => {
                self.announced.insert(e.version, e.tenant);
            }
            // Already covered by a reload.
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "malformed configuration event; reloading everything");
                self.reload_all = true;
            }
        }
    }

    /// Makes sure every configuration change announced so far is applied before the
    /// next block: the counter says which changes happened, events say which tenants
    /// they concern; a change whose event is missing (lost, or not arrived yet) reloads
    /// everything held.
    async fn apply_config(&mut self) -> Result<(), WorkError> {
        while let Some(msg) = self.config_events.as_mut().and_then(Subscription::try_recv) {
            self.note_config_event(&msg);
        }
        let version = bus::events::config_version(&*self.ctx.bus).await?;
        let mut dirty = BTreeSet::new();
        if version < self.config_version {
            // The counter was reset (Redis flushed or the key expired).
            self.reload_all = true;
            self.announced.clear();
        } else if version > self.config_version {
            let complete = version - self.config_version <= 10_000
                && (self.config_version + 1..=version).all(|v| self.announced.contains_key(&v));
            if complete {
                for v in self.config_version + 1..=version {
                    match self.announced.get(&v).copied().flatten() {
                        Some(t) => {
                            dirty.insert(t);
                        }
                        None => self.reload_all = true,
                    }
                }
            } else {
                self.reload_all = true;
            }
        }
        let set: BTreeSet<Uuid> = if self.reload_all {
            self.assigned.clone()
        } else {
            dirty.intersection(&self.assigned).copied().collect()
        };
        if !set.is_empty() {
            // On failure nothing below happens: the same changes are applied next time.
            self.reload(&set).await?;
        }
        self.reload_all = false;
        self.announced = self.announced.split_off(&(version + 1));
        self.config_version = version;
        Ok(())
    }

    /// Loads `set`'s configuration and applies it to every network.
    async fn reload(&mut self, set: &BTreeSet<Uuid>) -> Result<(), WorkError> {
        if set.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let mut loaded = config::load(
            &self.ctx.db,
            &self.ctx.plans,
            &self.ctx.options.scripts,
            set,
        )
        .await?;
        let mut initial: BTreeMap<String, Vec<Uuid>> = BTreeMap::new();
        for tenant in set {
            let cfg = loaded.remove(tenant);
            let mut wanted: BTreeMap<&str, Vec<_>> = BTreeMap::new();
            if let Some(cfg) = &cfg {
                for m in &cfg.monitors {
                    for n in &m.networks {
                        wanted.entry(n.key.as_str()).or_default().push((m, n));
                    }
                }
            }
            // Networks the tenant leaves (its monitors there were paused, deleted or moved
            // to other networks): its position there is forgotten, so coming back later
            // starts from then, not with the blocks it did not watch.
            let mut left = Vec::new();
            for (key, state) in self.networks.iter_mut() {
                if !wanted.contains_key(key.as_str()) && state.cursors.contains_key(tenant) {
                    state.remove_tenant(*tenant);
                    left.push(key.clone());
                }
            }
            for key in left {
                alerts::delete_cursor(&self.ctx.db, &key, *tenant).await?;
            }
            // Networks it uses.
            for (key, monitors) in &wanted {
                let state = self
                    .networks
                    .entry((*key).to_owned())
                    .or_insert_with(|| NetworkState::new(key, monitors[0].1.kind));
                state.sync_tenant(*tenant, monitors);
                if !state.cursors.contains_key(tenant) {
                    initial.entry((*key).to_owned()).or_default().push(*tenant);
                }
            }
            match cfg {
                Some(cfg) => {
                    self.tenants.insert(*tenant, cfg);
                }
                None => {
                    self.tenants.remove(tenant);
                }
            }
        }
        for (key, tenants) in initial {
            self.start_cursors(&key, &tenants).await?;
        }
        self.networks.retain(|_, n| !n.cursors.is_empty());
        metrics::histogram!("stellar_monitor_worker_config_load_seconds")
            .record(started.elapsed().as_secs_f64());
        Ok(())
    }

    /// Gives `tenants` their cursor on `key`: the stored one, else the stream's current
    /// end (a new monitor watches from now on), stored at once.
    async fn start_cursors(&mut self, key: &str, tenants: &[Uuid]) -> Result<(), WorkError> {
        let mut stored = alerts::load_cursors(&self.ctx.db, key, tenants).await?;
        let missing: Vec<Uuid> = tenants
            .iter()
            .filter(|t| !stored.contains_key(t))
            .copied()
            .collect();
        if !missing.is_empty() {
            let stream = self.ctx.bus.keys().blocks(key);
            let head = match self.ctx.bus.stream_last(&stream).await? {
                Some(entry) => {
                    let (number, hash) = BlockMessage::decode(&entry.payload)
                        .map(|m| (m.number, m.hash))
                        .unwrap_or_default();
                    Cursor {
                        seq: entry.seq,
                        block_number: number,
                        block_hash: hash,
                    }
                }
                None => Cursor::default(),
            };
            let fresh: Vec<(Uuid, Cursor)> = missing.iter().map(|t| (*t, head.clone())).collect();
            alerts::save_cursors(&self.ctx.db, key, &fresh).await?;
            stored.extend(fresh);
        }
        if let Some(state) = self.networks.get_mut(key) {
            for t in tenants {
                if let Some(c) = stored.remove(t) {
                    state.cursors.insert(*t, c);
                }
            }
        }
        Ok(())
    }

    /// Applies the published assignment if its epoch is new.
    async fn apply_assignment(&mut self) -> Result<(), WorkError> {
        let a = membership::assignment(&*self.ctx.bus)
            .await?
            .unwrap_or_default();
        if self.epoch == Some(a.epoch) {
            return Ok(());
        }
        let mine = a.tenants_of(self.id());
        let released: Vec<Uuid> = self.assigned.difference(&mine).copied().collect();
        let adopted: BTreeSet<Uuid> = mine.difference(&self.assigned).copied().collect();
        for t in &released {
            let mut flush = Vec::new();
            for (key, state) in self.networks.iter_mut() {
                if let Some(c) = state.remove_tenant(*t) {
                    flush.push((key.clone(), c));
                }
            }
            for (key, c) in flush {
                alerts::save_cursors(&self.ctx.db, &key, &[(*t, c)]).await?;
            }
            self.tenants.remove(t);
        }
        self.networks.retain(|_, n| !n.cursors.is_empty());
        // Adopted tenants count as held only once loaded: a failed load is retried at
        // the next look, with the same tenants still to adopt.
        self.assigned = &self.assigned - &released.iter().copied().collect();
        self.reload(&adopted).await?;
        self.assigned = mine;
        tracing::info!(
            worker = %self.id(), epoch = a.epoch, tenants = self.assigned.len(),
            adopted = adopted.len(), released = released.len(), "assignment applied"
        );
        self.epoch = Some(a.epoch);
        metrics::gauge!("stellar_monitor_worker_tenants", "worker" => self.id().to_owned())
            .set(self.assigned.len() as f64);
        // Say so at once: the orchestrator and operators see the epoch applied.
        self.update_snapshot();
        self.beat_now.notify_one();
        Ok(())
    }

    /// Reads and processes whatever the streams hold past each network's position;
    /// `true` when anything was processed.
    async fn process_streams(&mut self, shutdown: &CancellationToken) -> bool {
        let keys: Vec<String> = self.networks.keys().cloned().collect();
        let mut progressed = false;
        for key in keys {
            if shutdown.is_cancelled() {
                break;
            }
            // Every log line of this network's work carries the worker and the network.
            let span = tracing::info_span!("network", worker = %self.id(), network = %key);
            let result = tracing::Instrument::instrument(self.process_network(&key), span).await;
            self.update_snapshot();
            match result {
                Ok(n) => progressed |= n > 0,
                Err(e) => {
                    self.failed(&format!("processing {key}"), &e);
                    // Back off a little; the same message is retried next round.
                    tokio::time::sleep(self.ctx.options.poll_interval).await;
                }
            }
        }
        progressed
    }

    async fn process_network(&mut self, key: &str) -> Result<usize, WorkError> {
        let Some(after) = self.networks.get(key).and_then(NetworkState::position) else {
            return Ok(0);
        };
        let stream = self.ctx.bus.keys().blocks(key);
        let entries = self
            .ctx
            .bus
            .stream_read(&stream, after, self.ctx.options.read_batch, Duration::ZERO)
            .await?;
        if let Some(first) = entries.first()
            && after > 0
            && first.seq > after + 1
        {
            tracing::warn!(
                network = key,
                after,
                next = first.seq,
                "the stream no longer holds messages after this worker's position; skipped"
            );
            metrics::counter!("stellar_monitor_worker_messages_skipped_total", "network" => key.to_owned())
                .increment(first.seq - after - 1);
        }
        let mut done = 0;
        for entry in entries {
            // Configuration changes apply before the next block.
            if let Err(e) = self.apply_config().await {
                self.failed("reloading configuration", &e);
            }
            if !self.networks.contains_key(key) {
                break;
            }
            self.process_entry(key, entry.seq, &entry.payload).await?;
            done += 1;
        }
        Ok(done)
    }

    async fn process_entry(
        &mut self,
        key: &str,
        seq: u64,
        payload: &[u8],
    ) -> Result<(), WorkError> {
        let Some(state) = self.networks.get(key) else {
            return Ok(());
        };
        let due = state.due(seq);
        tracing::debug!(worker = %self.id(), network = key, seq, due = due.len(), "stream message");
        if due.is_empty() {
            return Ok(());
        }
        let message = match BlockMessage::decode(payload) {
            Ok(m) => m,
            Err(e) => {
                self.failed(&format!("decoding message {seq} of {key}"), &e);
                if let Some(state) = self.networks.get_mut(key) {
                    state.advance(&due, seq, 0, "");
                }
                return Ok(());
            }
        };
        let labels = [("network", key.to_owned())];
        let block = match (message.kind, &message.block) {
            (MessageKind::Block, Some(block)) => block,
            (kind, _) => {
                if kind == MessageKind::Orphaned {
                    metrics::counter!("stellar_monitor_worker_orphans_total", &labels).increment(1);
                    tracing::info!(network = key, number = message.number, hash = %message.hash,
                        "a reorganisation removed a processed block");
                }
                if let Some(state) = self.networks.get_mut(key) {
                    state.advance(&due, seq, message.number, &message.hash);
                }
                return Ok(());
            }
        };
        let state = &self.networks[key];
        let started = Instant::now();
        let matches = match state.evaluate(block) {
            Ok(m) => m,
            Err(e) => {
                self.failed(&format!("evaluating {key}"), &e);
                if let Some(state) = self.networks.get_mut(key) {
                    state.advance(&due, seq, message.number, &message.hash);
                }
                return Ok(());
            }
        };
        metrics::histogram!("stellar_monitor_worker_evaluation_seconds", &labels)
            .record(started.elapsed().as_secs_f64());
        metrics::counter!("stellar_monitor_worker_matches_total", &labels)
            .increment(matches.len() as u64);
        let due_set: BTreeSet<Uuid> = due.iter().copied().collect();
        let batch = self.alerts_for(key, &message, &due_set, matches.iter());
        let batch = self.apply_conditions(batch).await;
        let wanted = batch.len();
        let written = alerts::write(&self.ctx.db, batch).await?;
        if let Some(published) = message.published_at_ms {
            let latency = (Utc::now().timestamp_millis() - published).max(0) as f64 / 1000.0;
            if !written.is_empty() {
                metrics::histogram!("stellar_monitor_worker_block_to_alert_seconds", &labels)
                    .record(latency);
            }
        }
        metrics::counter!("stellar_monitor_alerts_written_total", &labels)
            .increment(written.len() as u64);
        if written.len() < wanted {
            metrics::counter!("stellar_monitor_alerts_duplicate_total", &labels)
                .increment((wanted - written.len()) as u64);
        }
        for alert in &written {
            if let Some(t) = self.tenants.get_mut(&alert.tenant_id) {
                t.alerts_today += 1;
            }
        }
        alerts::announce(&*self.ctx.bus, &written).await;
        let progress = BlockProcessed {
            network: key.to_owned(),
            block_number: message.number,
            block_hash: message.hash.clone(),
            worker: self.id().to_owned(),
            tenants: due.len() as u32,
            alerts: written.len() as u32,
            published_at_ms: message.published_at_ms,
            processed_at_ms: Utc::now().timestamp_millis(),
        };
        bus::events::publish_json(
            &*self.ctx.bus,
            &self.ctx.bus.keys().progress_channel(),
            &progress,
        )
        .await;
        self.blocks += 1;
        metrics::counter!("stellar_monitor_worker_blocks_processed_total", &labels).increment(1);
        if let Some(state) = self.networks.get_mut(key) {
            state.advance(&due, seq, message.number, &message.hash);
        }
        Ok(())
    }

    /// The alerts of `matches` for tenants in `due`, within each tenant's daily quota.
    fn alerts_for<'a>(
        &mut self,
        key: &str,
        message: &BlockMessage,
        due: &BTreeSet<Uuid>,
        matches: impl Iterator<Item = &'a KeyedMatch>,
    ) -> Vec<(NewAlert, Arc<Vec<crate::scripts::Compiled>>)> {
        let day = today();
        if day != self.usage_day {
            self.usage_day = day;
            for t in self.tenants.values_mut() {
                t.alerts_today = 0;
            }
        }
        let state = &self.networks[key];
        let mut room: BTreeMap<Uuid, u64> = BTreeMap::new();
        let mut out = Vec::new();
        for m in matches {
            let Some(placed) = state.placed(&m.key) else {
                continue;
            };
            if !due.contains(&placed.tenant) {
                continue;
            }
            let left = room.entry(placed.tenant).or_insert_with(|| {
                self.tenants
                    .get(&placed.tenant)
                    .map_or(0, |t| t.alerts_per_day.saturating_sub(t.alerts_today))
            });
            if *left == 0 {
                metrics::counter!("stellar_monitor_alerts_suppressed_total").increment(1);
                tracing::debug!(tenant = %placed.tenant, "daily alert quota reached; match dropped");
                continue;
            }
            *left -= 1;
            let tx = m.matched.transaction_hash();
            let payload = match serde_json::to_value(&m.matched) {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, "a match does not serialize; skipped");
                    continue;
                }
            };
            out.push((
                NewAlert {
                    tenant: placed.tenant,
                    monitor: placed.monitor,
                    monitor_version: m.version,
                    network_slug: m.matched.network_slug().to_owned(),
                    block_number: message.number,
                    block_hash: message.hash.clone(),
                    idempotency_key: alerts::idempotency_key(
                        placed.monitor,
                        key,
                        &message.hash,
                        Some(&tx),
                    ),
                    transaction_hash: Some(tx),
                    event_index: m.event_index,
                    payload,
                    triggers: placed.triggers.clone(),
                    severity: placed.severity.clone(),
                },
                placed.conditions.clone(),
            ));
        }
        out
    }

    /// Drops the matches a trigger condition rejects (a condition returning `true`). A
    /// condition that fails (error, limit) keeps the match: better an alert too many
    /// than a missed one; the failure is logged and counted.
    async fn apply_conditions(
        &mut self,
        batch: Vec<(NewAlert, Arc<Vec<crate::scripts::Compiled>>)>,
    ) -> Vec<NewAlert> {
        use futures::StreamExt;
        let settings = &self.ctx.options.scripts;
        let results: Vec<(NewAlert, bool)> = futures::stream::iter(batch)
            .map(|(alert, conditions)| async move {
                for c in conditions.iter() {
                    match crate::scripts::condition(c, &alert.payload, settings).await {
                        Ok(true) => {
                            metrics::counter!("stellar_monitor_trigger_conditions_total", "result" => "dropped")
                                .increment(1);
                            return (alert, false);
                        }
                        Ok(false) => {
                            metrics::counter!("stellar_monitor_trigger_conditions_total", "result" => "kept")
                                .increment(1);
                        }
                        Err(e) => {
                            metrics::counter!("stellar_monitor_trigger_conditions_total", "result" => "error")
                                .increment(1);
                            tracing::warn!(tenant = %alert.tenant, monitor = %alert.monitor, error = %e,
                                "a trigger condition failed; the match is kept");
                        }
                    }
                }
                (alert, true)
            })
            .buffered(4)
            .collect()
            .await;
        results
            .into_iter()
            .filter_map(|(alert, keep)| keep.then_some(alert))
            .collect()
    }

    async fn flush_cursors(&mut self) {
        let mut failed = Vec::new();
        let mut pending = Vec::new();
        for (key, state) in self.networks.iter_mut() {
            let dirty = state.take_dirty();
            if !dirty.is_empty() {
                pending.push((key.clone(), dirty));
            }
        }
        for (key, dirty) in pending {
            if let Err(e) = alerts::save_cursors(&self.ctx.db, &key, &dirty).await {
                self.failed("storing cursors", &e);
                failed.push((key, dirty));
            }
        }
        // Try again next time.
        for (key, dirty) in failed {
            if let Some(state) = self.networks.get_mut(&key) {
                state.dirty.extend(dirty.into_iter().map(|(t, _)| t));
            }
        }
        self.last_flush = Instant::now();
    }

    /// What the heartbeat reports, kept current as the worker goes.
    fn update_snapshot(&self) {
        let mut snap = self.snapshot.lock().unwrap_or_else(|e| e.into_inner());
        snap.epoch = self.epoch.unwrap_or(0);
        snap.tenants = self.assigned.len();
        snap.positions = self
            .networks
            .iter()
            .filter_map(|(k, n)| n.position().map(|p| (k.clone(), p)))
            .collect();
        snap.errors = self.errors;
        snap.blocks = self.blocks;
    }

    /// Clean exit: cursors stored, heartbeat turned into "draining" so the orchestrator
    /// moves the tenants at once.
    async fn leave(&mut self) {
        self.flush_cursors().await;
        self.update_snapshot();
        self.heart_stop.cancel();
        if let Some(h) = self.heart.take() {
            let _ = h.await;
        }
        self.ctx.health.remove(self.id());
        tracing::info!(worker = %self.id(), "worker stopped");
    }
}
