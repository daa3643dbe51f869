//! The in-process bus, for `serve` on the embedded default: every role runs in one
//! process, so the transport is shared memory with the same semantics as Redis.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::{Notify, broadcast, mpsc};

use crate::keys::Keys;
use crate::{Bus, BusError, StreamEntry, Subscription};

#[derive(Default)]
struct Stream {
    entries: VecDeque<StreamEntry>,
    last: u64,
}

#[derive(Default)]
struct State {
    counters: HashMap<String, (u64, Instant)>,
    streams: HashMap<String, Stream>,
    leases: HashMap<String, (String, Instant)>,
    values: HashMap<String, (Vec<u8>, Option<Instant>)>,
    channels: HashMap<String, broadcast::Sender<Vec<u8>>>,
}

/// In-process transport.
pub struct MemoryBus {
    keys: Keys,
    state: Mutex<State>,
    /// Wakes stream readers on every append.
    appended: Notify,
}

impl std::fmt::Debug for MemoryBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryBus")
    }
}

impl MemoryBus {
    pub fn new(keys: Keys) -> Self {
        Self {
            keys,
            state: Mutex::new(State::default()),
            appended: Notify::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn read_now(&self, stream: &str, after: u64, count: usize) -> Vec<StreamEntry> {
        self.state()
            .streams
            .get(stream)
            .map(|s| {
                s.entries
                    .iter()
                    .filter(|e| e.seq > after)
                    .take(count)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[async_trait::async_trait]
impl Bus for MemoryBus {
    fn kind(&self) -> &'static str {
        "memory"
    }

    fn keys(&self) -> &Keys {
        &self.keys
    }

    async fn ping(&self) -> Result<(), BusError> {
        Ok(())
    }

    async fn incr(&self, key: &str, ttl: Duration) -> Result<u64, BusError> {
        let mut state = self.state();
        let now = Instant::now();
        if state.counters.len() > 10_000 {
            state.counters.retain(|_, (_, expiry)| *expiry > now);
        }
        let entry = state
            .counters
            .entry(key.to_owned())
            .or_insert((0, now + ttl));
        if entry.1 <= now {
            *entry = (0, now + ttl);
        }
        entry.0 += 1;
        Ok(entry.0)
    }

    async fn stream_append(
        &self,
        stream: &str,
        seq: u64,
        payload: &[u8],
        max_len: usize,
    ) -> Result<(), BusError> {
        {
            let mut state = self.state();
            let s = state.streams.entry(stream.to_owned()).or_default();
            if seq <= s.last {
                return Err(BusError::Conflict {
                    stream: stream.to_owned(),
                    seq,
                    last: s.last,
                });
            }
            s.last = seq;
            s.entries.push_back(StreamEntry {
                seq,
                payload: payload.to_vec(),
            });
            while s.entries.len() > max_len.max(1) {
                s.entries.pop_front();
            }
        }
        self.appended.notify_waiters();
        Ok(())
    }

    async fn stream_read(
        &self,
        stream: &str,
        after: u64,
        count: usize,
        wait: Duration,
    ) -> Result<Vec<StreamEntry>, BusError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = self.appended.notified();
            let found = self.read_now(stream, after, count);
            if !found.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(found);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Ok(self.read_now(stream, after, count));
            }
        }
    }

    async fn stream_last(&self, stream: &str) -> Result<Option<StreamEntry>, BusError> {
        Ok(self
            .state()
            .streams
            .get(stream)
            .and_then(|s| s.entries.back().cloned()))
    }

    async fn lease_acquire(
        &self,
        key: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, BusError> {
        let mut state = self.state();
        let now = Instant::now();
        match state.leases.get(key) {
            Some((h, expiry)) if *expiry > now && h != holder => Ok(false),
            _ => {
                state
                    .leases
                    .insert(key.to_owned(), (holder.to_owned(), now + ttl));
                Ok(true)
            }
        }
    }

    async fn lease_renew(&self, key: &str, holder: &str, ttl: Duration) -> Result<bool, BusError> {
        let mut state = self.state();
        let now = Instant::now();
        match state.leases.get_mut(key) {
            Some((h, expiry)) if h == holder && *expiry > now => {
                *expiry = now + ttl;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn lease_release(&self, key: &str, holder: &str) -> Result<(), BusError> {
        let mut state = self.state();
        if state.leases.get(key).is_some_and(|(h, _)| h == holder) {
            state.leases.remove(key);
        }
        Ok(())
    }

    async fn lease_holder(&self, key: &str) -> Result<Option<String>, BusError> {
        let now = Instant::now();
        Ok(self
            .state()
            .leases
            .get(key)
            .filter(|(_, e)| *e > now)
            .map(|(h, _)| h.clone()))
    }

    async fn publish(&self, channel: &str, payload: &[u8]) -> Result<(), BusError> {
        if let Some(tx) = self.state().channels.get(channel) {
            let _ = tx.send(payload.to_vec());
        }
        Ok(())
    }

    async fn subscribe(&self, channel: &str) -> Result<Subscription, BusError> {
        let mut rx = self
            .state()
            .channels
            .entry(channel.to_owned())
            .or_insert_with(|| broadcast::channel(4096).0)
            .subscribe();
        let (tx, out) = mpsc::channel(4096);
        tokio::spawn(async move {
            loop {
                match rx.recv().await {
                    Ok(m) => {
                        if tx.send(m).await.is_err() {
                            break;
                        }
                    }
                    // A slow subscriber missed messages: it relies on reconciliation.
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        Ok(Subscription::new(out))
    }

    async fn set_value(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<(), BusError> {
        let expiry = ttl.map(|t| Instant::now() + t);
        self.state()
            .values
            .insert(key.to_owned(), (value.to_vec(), expiry));
        Ok(())
    }

    async fn get_value(&self, key: &str) -> Result<Option<Vec<u8>>, BusError> {
        let now = Instant::now();
        let state = self.state();
        let value = state
            .values
            .get(key)
            .filter(|(_, e)| e.is_none_or(|e| e > now))
            .map(|(v, _)| v.clone());
        // Counters read back as their decimal text, as Redis `GET` gives them.
        Ok(value.or_else(|| {
            state
                .counters
                .get(key)
                .filter(|(_, expiry)| *expiry > now)
                .map(|(n, _)| n.to_string().into_bytes())
        }))
    }

    async fn scan_values(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, BusError> {
        let now = Instant::now();
        let mut found: Vec<(String, Vec<u8>)> = self
            .state()
            .values
            .iter()
            .filter(|(k, (_, e))| k.starts_with(prefix) && e.is_none_or(|e| e > now))
            .map(|(k, (v, _))| (k.clone(), v.clone()))
            .collect();
        found.sort();
        Ok(found)
    }
}
