//! The in-process bus, for `serve` on the embedded default: every role runs in one
//! process, so the transport is shared memory.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::keys::Keys;
use crate::{Bus, BusError};

/// In-process transport.
#[derive(Debug)]
pub struct MemoryBus {
    keys: Keys,
    /// Counter → (value, expiry).
    counters: Mutex<HashMap<String, (u64, Instant)>>,
}

impl MemoryBus {
    pub fn new(keys: Keys) -> Self {
        Self {
            keys,
            counters: Mutex::new(HashMap::new()),
        }
    }
}

#[async_trait::async_trait]
impl Bus for MemoryBus {
    fn kind(&self) -> &'static str {
        "memory"
    }

    async fn ping(&self) -> Result<(), BusError> {
        Ok(())
    }

    async fn incr(&self, key: &str, ttl: Duration) -> Result<u64, BusError> {
        let mut counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if counters.len() > 10_000 {
            counters.retain(|_, (_, expiry)| *expiry > now);
        }
        let entry = counters.entry(key.to_owned()).or_insert((0, now + ttl));
        if entry.1 <= now {
            *entry = (0, now + ttl);
        }
        entry.0 += 1;
        Ok(entry.0)
    }

    fn keys(&self) -> &Keys {
        &self.keys
    }
}
