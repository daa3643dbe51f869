//! The bus: how processes of the fleet talk. One interface ([`Bus`]) with two
//! implementations: Redis through `fred` ([`redis::RedisBus`]) for a real fleet, and an
//! in-process one ([`memory::MemoryBus`]) for `serve` on the embedded default. Every
//! Redis key, stream and channel name is built in [`keys`].

pub mod keys;
pub mod memory;
pub mod redis;

use std::sync::Arc;
use std::time::Duration;

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
}

/// The transport interface every role uses.
#[async_trait::async_trait]
pub trait Bus: Send + Sync + 'static {
    /// `redis` or `memory`, for logs and `/readyz`.
    fn kind(&self) -> &'static str;

    /// Checks the transport answers (for `/readyz`).
    async fn ping(&self) -> Result<(), BusError>;

    /// Increments a counter that expires `ttl` after it was created; returns the new
    /// value. Shared by every process on the bus (rate limits).
    async fn incr(&self, key: &str, ttl: Duration) -> Result<u64, BusError>;

    /// The key names of this deployment.
    fn keys(&self) -> &keys::Keys;
}

/// Connects to Redis when `redis_url` is given, otherwise returns the in-process bus.
pub async fn connect(redis_url: Option<&str>, prefix: &str) -> Result<Arc<dyn Bus>, BusError> {
    Ok(match redis_url {
        Some(url) => Arc::new(redis::RedisBus::connect(url, keys::Keys::new(prefix)).await?),
        None => Arc::new(memory::MemoryBus::new(keys::Keys::new(prefix))),
    })
}
