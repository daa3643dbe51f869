//! The bus: how processes of the fleet talk. One interface ([`Bus`]) with two
//! implementations: Redis through `fred` ([`redis::RedisBus`]) for a real fleet, and an
//! in-process one ([`memory::MemoryBus`]) for `serve` on the embedded default. Every
//! Redis key, stream and channel name is built in [`keys`].
//!
//! - Streams carry each network's blocks. Entries have explicit, increasing positions
//!   (`<seq>-0`): appending a position that is not past the last one fails, so two
//!   publishers can never both publish the same position (fencing).
//! - Channels carry events (configuration changes, alerts); delivery is best effort,
//!   with periodic reconciliation behind it.
//! - Leases elect one holder per key (`SET NX PX`), renewed while alive.
//! - Counters back rate limits; values hold small shared state (assignments).

pub mod blocks;
pub mod events;
pub mod keys;
pub mod memory;
pub mod redis;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

/// Errors from the transport.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("invalid Redis URL: {0}")]
    InvalidUrl(String),
    #[error("Redis unreachable: {0}")]
    Unreachable(String),
    #[error("Redis error: {0}")]
    Redis(#[from] fred::error::Error),
    #[error("bus operation timed out after {0:?}")]
    Timeout(Duration),
    #[error("stream {stream}: position {seq} is not after the last one ({last})")]
    Conflict { stream: String, seq: u64, last: u64 },
    #[error("malformed stream entry in {0}")]
    Malformed(String),
}

/// One stream entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamEntry {
    /// Position in the stream, increasing.
    pub seq: u64,
    pub payload: Vec<u8>,
}

/// Messages of a subscribed channel, in order. `None` once the bus went away.
#[derive(Debug)]
pub struct Subscription {
    rx: mpsc::Receiver<Vec<u8>>,
}

impl Subscription {
    pub(crate) fn new(rx: mpsc::Receiver<Vec<u8>>) -> Self {
        Self { rx }
    }

    pub async fn recv(&mut self) -> Option<Vec<u8>> {
        self.rx.recv().await
    }

    /// The next message if one is waiting.
    pub fn try_recv(&mut self) -> Option<Vec<u8>> {
        self.rx.try_recv().ok()
    }
}

/// The transport interface every role uses.
#[async_trait::async_trait]
pub trait Bus: Send + Sync + 'static {
    /// `redis` or `memory`, for logs and `/readyz`.
    fn kind(&self) -> &'static str;

    /// The key names of this deployment.
    fn keys(&self) -> &keys::Keys;

    /// Checks the transport answers (for `/readyz`).
    async fn ping(&self) -> Result<(), BusError>;

    /// Increments a counter that expires `ttl` after it was created; returns the new
    /// value. Shared by every process on the bus (rate limits).
    async fn incr(&self, key: &str, ttl: Duration) -> Result<u64, BusError>;

    /// Appends at position `seq` (which must be past the last), keeping about
    /// `max_len` entries.
    async fn stream_append(
        &self,
        stream: &str,
        seq: u64,
        payload: &[u8],
        max_len: usize,
    ) -> Result<(), BusError>;

    /// Up to `count` entries after position `after`, waiting up to `wait` for the first.
    async fn stream_read(
        &self,
        stream: &str,
        after: u64,
        count: usize,
        wait: Duration,
    ) -> Result<Vec<StreamEntry>, BusError>;

    /// The last entry, if any.
    async fn stream_last(&self, stream: &str) -> Result<Option<StreamEntry>, BusError>;

    /// Takes the lease for `holder` if free (or already theirs); `true` when held.
    async fn lease_acquire(&self, key: &str, holder: &str, ttl: Duration)
    -> Result<bool, BusError>;

    /// Extends the lease if `holder` still has it; `false` when lost.
    async fn lease_renew(&self, key: &str, holder: &str, ttl: Duration) -> Result<bool, BusError>;

    /// Gives the lease up if `holder` has it.
    async fn lease_release(&self, key: &str, holder: &str) -> Result<(), BusError>;

    /// Who holds the lease.
    async fn lease_holder(&self, key: &str) -> Result<Option<String>, BusError>;

    async fn publish(&self, channel: &str, payload: &[u8]) -> Result<(), BusError>;

    async fn subscribe(&self, channel: &str) -> Result<Subscription, BusError>;

    /// Stores a small value (expiring after `ttl` when given).
    async fn set_value(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<(), BusError>;

    async fn get_value(&self, key: &str) -> Result<Option<Vec<u8>>, BusError>;

    /// Keys under `prefix` (for membership scans; small sets only).
    async fn scan_values(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, BusError>;
}

/// Connects to Redis when `redis_url` is given, otherwise returns the in-process bus.
pub async fn connect(redis_url: Option<&str>, prefix: &str) -> Result<Arc<dyn Bus>, BusError> {
    Ok(match redis_url {
        Some(url) => Arc::new(redis::RedisBus::connect(url, keys::Keys::new(prefix)).await?),
        None => Arc::new(memory::MemoryBus::new(keys::Keys::new(prefix))),
    })
}

#[cfg(test)]
mod contract;
