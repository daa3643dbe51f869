//! Every Redis key, stream and channel name, built here and nowhere else. All names
//! start with the deployment's prefix, so several deployments (or parallel tests) share
//! one Redis without meeting.

/// Builds names under one prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The request counter of `subject` (e.g. `tenant:<id>`) in fixed window `window`.
    pub fn rate_limit(&self, subject: &str, window: u64) -> String {
        format!("{}:rate:{subject}:{window}", self.prefix)
    }

    /// A key used by readiness checks to prove a round trip.
    pub fn health(&self) -> String {
        format!("{}:health", self.prefix)
    }

    /// The block stream of a network.
    pub fn blocks(&self, network: &str) -> String {
        format!("{}:blocks:{network}", self.prefix)
    }

    /// The lease of the watcher publishing a network.
    pub fn watcher_lease(&self, network: &str) -> String {
        format!("{}:lease:watcher:{network}", self.prefix)
    }

    /// The orchestrator leader's lease.
    pub fn orchestrator_lease(&self) -> String {
        format!("{}:lease:orchestrator", self.prefix)
    }

    /// A worker's heartbeat (prefix of all of them: [`Self::heartbeats`]).
    pub fn heartbeat(&self, worker: &str) -> String {
        format!("{}{worker}", self.heartbeats())
    }

    pub fn heartbeats(&self) -> String {
        format!("{}:heartbeat:", self.prefix)
    }

    /// The current assignment of tenants to workers.
    pub fn assignment(&self) -> String {
        format!("{}:assignment", self.prefix)
    }

    /// Channel: assignments changed.
    pub fn assignment_channel(&self) -> String {
        format!("{}:chan:assignment", self.prefix)
    }

    /// Channel: a tenant's configuration changed.
    pub fn config_channel(&self) -> String {
        format!("{}:chan:config", self.prefix)
    }

    /// A counter bumped on every configuration change: workers compare it before each
    /// block, so a change is applied before the next block even if its event was lost.
    pub fn config_version(&self) -> String {
        format!("{}:config-version", self.prefix)
    }

    /// Channel: new alerts (every tenant; subscribers filter by tenant).
    pub fn alerts_channel(&self) -> String {
        format!("{}:chan:alerts", self.prefix)
    }

    /// Channel: delivery status changes.
    pub fn deliveries_channel(&self) -> String {
        format!("{}:chan:deliveries", self.prefix)
    }

    /// Prefix of each API replica's shared live-subscription counts.
    pub fn subscription_counts(&self) -> String {
        format!("{}:subscriptions:", self.prefix)
    }

    /// Channel: a worker finished a block of a network.
    pub fn progress_channel(&self) -> String {
        format!("{}:chan:progress", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_prefix() {
        let keys = Keys::new("t1");
        assert_eq!(keys.health(), "t1:health");
        assert_eq!(keys.rate_limit("tenant:x", 7), "t1:rate:tenant:x:7");
        assert_eq!(keys.blocks("eth"), "t1:blocks:eth");
        assert!(keys.heartbeat("w1").starts_with(&keys.heartbeats()));
        assert_ne!(keys.health(), Keys::new("t2").health());
    }
}
