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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_prefix() {
        let keys = Keys::new("t1");
        assert_eq!(keys.health(), "t1:health");
        assert_eq!(keys.rate_limit("tenant:x", 7), "t1:rate:tenant:x:7");
        assert_ne!(keys.health(), Keys::new("t2").health());
    }
}
