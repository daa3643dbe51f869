//! One network: hold its lease, then publish every confirmed block once, in order.

use std::collections::BTreeMap;
use std::time::Duration;

use bus::BusError;
use bus::blocks::{BlockMessage, MessageKind};
use chrono::Utc;
use entities::{SystemTxn, network_cursors};
use futures::StreamExt;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, EntityTrait};
use tokio_util::sync::CancellationToken;

use crate::WatcherContext;
use crate::chain::{Chain, Fetched};
use crate::discovery::WatchedNetwork;

/// Where publishing stands.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    /// The last block published (0 and an empty hash before the first).
    pub number: u64,
    pub hash: String,
    /// The stream position of the last message.
    pub seq: u64,
}

#[derive(Debug, thiserror::Error)]
enum StepError {
    #[error("rpc: {0}")]
    Rpc(#[from] monitor::rpc::RpcError),
    #[error("bus: {0}")]
    Bus(#[from] BusError),
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("lost the lease")]
    Lost,
    #[error("reorganisation deeper than the {0} blocks remembered")]
    DeepReorg(usize),
}

struct Publisher<'a> {
    ctx: &'a WatcherContext,
    key: &'a str,
    stream: String,
    lease: String,
    chain: Chain,
    confirmations: u64,
    poll: Duration,
    cursor: Cursor,
    /// Recently published blocks, number → hash, for reorganisation repair.
    recent: BTreeMap<u64, String>,
}

/// Watches one network until `stop`.
pub async fn watch(ctx: WatcherContext, watched: WatchedNetwork, stop: CancellationToken) {
    let key = watched.key.clone();
    let chain = match Chain::connect(&watched.network, &key) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(network = %key, error = %e, "no usable RPC endpoint");
            return;
        }
    };
    let block_time = Duration::from_millis(watched.network.block_time_ms.max(100));
    let mut publisher = Publisher {
        stream: ctx.bus.keys().blocks(&key),
        lease: ctx.bus.keys().watcher_lease(&key),
        ctx: &ctx,
        key: &key,
        chain,
        confirmations: watched.network.confirmation_blocks,
        poll: (block_time / 2).max(ctx.options.min_poll),
        cursor: Cursor::default(),
        recent: BTreeMap::new(),
    };
    publisher.run(&stop).await;
}

impl Publisher<'_> {
    async fn run(&mut self, stop: &CancellationToken) {
        let opts = &self.ctx.options;
        let holder = opts.holder.clone();
        while !stop.is_cancelled() {
            match self
                .ctx
                .bus
                .lease_acquire(&self.lease, &holder, opts.lease_ttl)
                .await
            {
                Ok(true) => {}
                Ok(false) => {
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = tokio::time::sleep(opts.lease_ttl / 3) => continue,
                    }
                }
                Err(e) => {
                    tracing::warn!(network = self.key, error = %e, "lease");
                    tokio::time::sleep(opts.lease_ttl / 3).await;
                    continue;
                }
            }
            tracing::info!(network = self.key, holder = %holder, "holding the network's lease");
            if let Err(e) = self.resume().await {
                tracing::warn!(network = self.key, error = %e, "resuming");
                tokio::time::sleep(opts.lease_ttl / 3).await;
                continue;
            }
            self.lead(stop).await;
            // Another watcher leads now (or this one stops): its gauge is the one that
            // counts.
            metrics::gauge!("stellar_monitor_watcher_head_lag_blocks", "network" => self.key.to_owned())
                .set(0.0);
        }
        let _ = self.ctx.bus.lease_release(&self.lease, &holder).await;
    }

    /// Publishes while the lease holds.
    async fn lead(&mut self, stop: &CancellationToken) {
        let opts = &self.ctx.options;
        let mut failures = 0u32;
        loop {
            if stop.is_cancelled() {
                return;
            }
            match self
                .ctx
                .bus
                .lease_renew(&self.lease, &opts.holder, opts.lease_ttl)
                .await
            {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(network = self.key, "lease lost; stepping down");
                    return;
                }
                Err(e) => {
                    tracing::warn!(network = self.key, error = %e, "lease renewal failed");
                    tokio::time::sleep(self.poll).await;
                    continue;
                }
            }
            let pause = match self.step().await {
                Ok(published) => {
                    failures = 0;
                    if published > 0 {
                        Duration::ZERO
                    } else {
                        self.poll
                    }
                }
                Err(StepError::Lost) => {
                    tracing::warn!(
                        network = self.key,
                        "another watcher published; stepping down"
                    );
                    return;
                }
                Err(e) => {
                    failures += 1;
                    metrics::counter!("stellar_monitor_watcher_errors_total", "network" => self.key.to_owned()).increment(1);
                    tracing::warn!(network = self.key, error = %e, "watching failed; retrying");
                    (self.poll * 2u32.saturating_pow(failures.min(6))).min(opts.lease_ttl / 2)
                }
            };
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Loads the cursor: the database's, moved forward by anything the stream holds
    /// beyond it (a publication whose cursor write did not happen).
    async fn resume(&mut self) -> Result<(), StepError> {
        let txn = SystemTxn::begin(&self.ctx.db).await?;
        let row = network_cursors::Entity::find_by_id(self.key.to_owned())
            .one(txn.conn())
            .await?;
        txn.commit().await?;
        let mut cursor = row
            .map(|r| Cursor {
                number: r.block_number as u64,
                hash: r.block_hash,
                seq: r.stream_seq as u64,
            })
            .unwrap_or_default();
        let window = self.ctx.options.reorg_window as u64;
        let last = self
            .ctx
            .bus
            .stream_last(&self.stream)
            .await?
            .map_or(0, |e| e.seq);
        let from = last
            .saturating_sub(window)
            .min(cursor.seq.saturating_sub(window));
        let tail = self
            .ctx
            .bus
            .stream_read(
                &self.stream,
                from,
                (last - from.min(last)) as usize + 1,
                Duration::ZERO,
            )
            .await?;
        self.recent.clear();
        for entry in tail {
            let Ok(m) = BlockMessage::decode(&entry.payload) else {
                continue;
            };
            match m.kind {
                MessageKind::Block => {
                    self.recent.insert(m.number, m.hash.clone());
                    if entry.seq > cursor.seq {
                        cursor = Cursor {
                            number: m.number,
                            hash: m.hash,
                            seq: entry.seq,
                        };
                    }
                }
                MessageKind::Orphaned => {
                    self.recent.remove(&m.number);
                    if entry.seq > cursor.seq {
                        cursor = Cursor {
                            number: m.number.saturating_sub(1),
                            hash: m.parent_hash,
                            seq: entry.seq,
                        };
                    }
                }
            }
        }
        if cursor.number > 0 && !cursor.hash.is_empty() {
            self.recent.insert(cursor.number, cursor.hash.clone());
        }
        self.cursor = cursor;
        self.trim();
        Ok(())
    }

    fn trim(&mut self) {
        while self.recent.len() > self.ctx.options.reorg_window {
            let first = *self.recent.keys().next().expect("non-empty");
            self.recent.remove(&first);
        }
    }

    /// One round: publishes the confirmed blocks past the cursor (a batch at most).
    async fn step(&mut self) -> Result<usize, StepError> {
        let head = self.chain.head().await?;
        let target = head.saturating_sub(self.confirmations);
        metrics::gauge!("stellar_monitor_watcher_head_lag_blocks", "network" => self.key.to_owned())
            .set(target.saturating_sub(self.cursor.number) as f64);
        if self.cursor.seq == 0 && self.cursor.number == 0 {
            // First start on this network: begin near the head, not at genesis.
            let first = target
                .saturating_sub(self.ctx.options.initial_backfill)
                .max(1);
            self.cursor.number = first - 1;
        }
        if target <= self.cursor.number {
            return Ok(0);
        }
        let last = target.min(self.cursor.number + self.ctx.options.batch as u64);
        let chain = &self.chain;
        let fetched: Vec<Result<Fetched, _>> = futures::stream::iter(self.cursor.number + 1..=last)
            .map(|n| chain.fetch(n))
            .buffered(self.ctx.options.concurrency.max(1))
            .collect()
            .await;
        let mut published = 0;
        for block in fetched {
            let block = block?;
            let links = self.chain.links_parents() && !self.cursor.hash.is_empty();
            if links && block.parent_hash != self.cursor.hash {
                self.repair_reorg().await?;
                return Ok(published.max(1));
            }
            self.publish(
                MessageKind::Block,
                block.number,
                &block.hash,
                &block.parent_hash,
                Some(block.block),
            )
            .await?;
            published += 1;
        }
        Ok(published)
    }

    /// Walks back to the last block still canonical, publishes an orphan notice for
    /// every published block after it (newest first), and moves the cursor there; the
    /// next rounds publish the canonical blocks.
    async fn repair_reorg(&mut self) -> Result<(), StepError> {
        metrics::counter!("stellar_monitor_watcher_reorgs_total", "network" => self.key.to_owned())
            .increment(1);
        let mut ancestor = None;
        for (&number, hash) in self.recent.iter().rev() {
            if self.chain.hash_of(number).await? == *hash {
                ancestor = Some(number);
                break;
            }
        }
        let Some(ancestor) = ancestor else {
            return Err(StepError::DeepReorg(self.recent.len()));
        };
        let orphaned: Vec<(u64, String)> = self
            .recent
            .range(ancestor + 1..)
            .map(|(n, h)| (*n, h.clone()))
            .rev()
            .collect();
        tracing::warn!(
            network = self.key,
            ancestor,
            orphaned = orphaned.len(),
            "reorganisation: republishing the canonical chain"
        );
        for (number, hash) in orphaned {
            let parent = self
                .recent
                .range(..number)
                .next_back()
                .map(|(_, h)| h.clone())
                .unwrap_or_default();
            self.publish(MessageKind::Orphaned, number, &hash, &parent, None)
                .await?;
        }
        Ok(())
    }

    async fn publish(
        &mut self,
        kind: MessageKind,
        number: u64,
        hash: &str,
        parent_hash: &str,
        block: Option<bus::blocks::ChainBlock>,
    ) -> Result<(), StepError> {
        let message = BlockMessage {
            kind,
            network: self.key.to_owned(),
            number,
            hash: hash.to_owned(),
            parent_hash: parent_hash.to_owned(),
            publisher: self.ctx.options.holder.clone(),
            block,
            published_at_ms: Some(Utc::now().timestamp_millis()),
        };
        let seq = self.cursor.seq + 1;
        match self
            .ctx
            .bus
            .stream_append(
                &self.stream,
                seq,
                &message.encode(),
                self.ctx.options.max_stream_len,
            )
            .await
        {
            Ok(()) => {}
            Err(BusError::Conflict { .. }) => return Err(StepError::Lost),
            Err(e) => return Err(e.into()),
        }
        self.cursor = match kind {
            MessageKind::Block => {
                self.recent.insert(number, hash.to_owned());
                self.trim();
                metrics::counter!("stellar_monitor_watcher_blocks_published_total", "network" => self.key.to_owned()).increment(1);
                Cursor {
                    number,
                    hash: hash.to_owned(),
                    seq,
                }
            }
            MessageKind::Orphaned => {
                self.recent.remove(&number);
                metrics::counter!("stellar_monitor_watcher_blocks_orphaned_total", "network" => self.key.to_owned()).increment(1);
                Cursor {
                    number: number.saturating_sub(1),
                    hash: parent_hash.to_owned(),
                    seq,
                }
            }
        };
        self.save().await?;
        Ok(())
    }

    async fn save(&self) -> Result<(), sea_orm::DbErr> {
        let txn = SystemTxn::begin(&self.ctx.db).await?;
        network_cursors::Entity::insert(network_cursors::ActiveModel {
            network_key: Set(self.key.to_owned()),
            block_number: Set(self.cursor.number as i64),
            block_hash: Set(self.cursor.hash.clone()),
            stream_seq: Set(self.cursor.seq as i64),
            updated_at: Set(Utc::now()),
        })
        .on_conflict(
            OnConflict::column(network_cursors::Column::NetworkKey)
                .update_columns([
                    network_cursors::Column::BlockNumber,
                    network_cursors::Column::BlockHash,
                    network_cursors::Column::StreamSeq,
                    network_cursors::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec(txn.conn())
        .await?;
        txn.commit().await
    }
}
