//! Sharing identical immutable values between monitors. Thousands of tenants watch the
//! same token with the same ABI; each monitor holding its own copy of the contract spec
//! and of the decoded ABI items would cost kilobytes per monitor.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, Weak};

/// A process-wide table of live shared values by key. Entries die with their last user;
/// dead entries are swept when the table has doubled since the last sweep.
pub struct Interner<T> {
    table: Mutex<(HashMap<String, Weak<T>>, usize)>,
}

impl<T> Interner<T> {
    pub fn new() -> Self {
        Self {
            table: Mutex::new((HashMap::new(), 0)),
        }
    }

    /// The shared value for `key`, made by `make` if none is alive.
    pub fn intern(&self, key: String, make: impl FnOnce() -> T) -> Arc<T> {
        // A poisoned lock only means another thread panicked mid-insert; the map is
        // still a valid cache.
        let mut guard = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let (table, swept_at) = &mut *guard;
        if let Some(live) = table.get(&key).and_then(Weak::upgrade) {
            return live;
        }
        let value = Arc::new(make());
        table.insert(key, Arc::downgrade(&value));
        if table.len() > (*swept_at * 2).max(1024) {
            table.retain(|_, v| v.strong_count() > 0);
            *swept_at = table.len();
        }
        value
    }
}

impl<T> Default for Interner<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// Deserializes an optional JSON value, shared with every identical one alive.
pub fn shared_json<'de, D>(d: D) -> Result<Option<Arc<serde_json::Value>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    static SPECS: LazyLock<Interner<serde_json::Value>> = LazyLock::new(Interner::new);
    let value: Option<serde_json::Value> = serde::Deserialize::deserialize(d)?;
    Ok(value.map(|v| SPECS.intern(v.to_string(), || v)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_values_share_one_allocation_while_alive() {
        let interner = Interner::new();
        let a = interner.intern("k".into(), || 1);
        let b = interner.intern("k".into(), || 2);
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(*b, 1);
        drop((a, b));
        assert_eq!(
            *interner.intern("k".into(), || 3),
            3,
            "a dead entry is made anew"
        );
    }
}
