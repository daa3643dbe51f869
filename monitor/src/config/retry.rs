//! Notification retry policy: OZ's `retry_policy`, with durations accepted both as serde
//! `{"secs", "nanos"}` objects and as plain milliseconds.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
    #[serde(default = "default_base")]
    pub base_for_backoff: u32,
    #[serde(default = "default_initial", with = "duration")]
    pub initial_backoff: Duration,
    #[serde(default = "default_max", with = "duration")]
    pub max_backoff: Duration,
    #[serde(default)]
    pub jitter: Jitter,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Jitter {
    #[default]
    Full,
    None,
}

fn default_max_retries() -> u32 {
    3
}
fn default_base() -> u32 {
    2
}
fn default_initial() -> Duration {
    Duration::from_millis(250)
}
fn default_max() -> Duration {
    Duration::from_secs(10)
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: default_max_retries(),
            base_for_backoff: default_base(),
            initial_backoff: default_initial(),
            max_backoff: default_max(),
            jitter: Jitter::Full,
        }
    }
}

impl RetryPolicy {
    /// Problems with the values (empty when fine).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if self.base_for_backoff < 1 {
            out.push((
                "base_for_backoff",
                "base_for_backoff must be at least 1".to_owned(),
            ));
        }
        if self.initial_backoff > self.max_backoff {
            out.push((
                "initial_backoff",
                "initial_backoff must not exceed max_backoff".to_owned(),
            ));
        }
        if self.max_retries > 100 {
            out.push(("max_retries", "max_retries must be at most 100".to_owned()));
        }
        out
    }
}

mod duration {
    use super::*;

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Wire {
        Millis(u64),
        Parts {
            secs: u64,
            #[serde(default)]
            nanos: u32,
        },
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        match Wire::deserialize(d)? {
            Wire::Millis(ms) => Ok(Duration::from_millis(ms)),
            Wire::Parts { secs, nanos } => {
                if nanos >= 1_000_000_000 {
                    return Err(serde::de::Error::custom("nanos must be below 1000000000"));
                }
                Ok(Duration::new(secs, nanos))
            }
        }
    }

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Parts {
            secs: u64,
            nanos: u32,
        }
        Parts {
            secs: d.as_secs(),
            nanos: d.subsec_nanos(),
        }
        .serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_objects_or_milliseconds_and_defaults() {
        let p: RetryPolicy = serde_json::from_str(
            r#"{"initial_backoff": {"secs": 1, "nanos": 500000000}, "max_backoff": 20000, "jitter": "none"}"#,
        )
        .unwrap();
        assert_eq!(p.initial_backoff, Duration::from_millis(1500));
        assert_eq!(p.max_backoff, Duration::from_secs(20));
        assert_eq!(p.jitter, Jitter::None);
        assert_eq!(p.max_retries, 3);
        let d: RetryPolicy = serde_json::from_str("{}").unwrap();
        assert_eq!(d, RetryPolicy::default());
        assert!(serde_json::from_str::<RetryPolicy>(r#"{"jitter": "some"}"#).is_err());
        let bad: RetryPolicy =
            serde_json::from_str(r#"{"initial_backoff": 5000, "max_backoff": 10}"#).unwrap();
        assert_eq!(bad.problems().len(), 1);
    }
}
