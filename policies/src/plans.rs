//! Plan quotas from `plans.toml`, with per-tenant overrides.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The plans file shipped with the binary.
const BUILTIN: &str = include_str!("../plans.toml");

#[derive(Debug, thiserror::Error)]
pub enum PlansError {
    #[error("invalid plans file: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("plans file defines no plans")]
    Empty,
}

/// Every limit a tenant is held to. All values are required in `plans.toml`, so adding
/// a quota is a compile-checked change to every plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quotas {
    pub monitors: u64,
    pub networks: u64,
    pub triggers: u64,
    pub api_keys: u64,
    pub members: u64,
    pub alerts_per_day: u64,
    pub notifications_per_day: u64,
    pub api_requests_per_minute: u64,
    /// Live subscriptions open at once across the tenant.
    pub subscriptions: u64,
    /// Live subscriptions on one websocket connection.
    pub subscriptions_per_connection: u64,
}

/// A tenant's overrides: any subset of [`Quotas`], stored as JSON on the tenant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaOverrides {
    pub monitors: Option<u64>,
    pub networks: Option<u64>,
    pub triggers: Option<u64>,
    pub api_keys: Option<u64>,
    pub members: Option<u64>,
    pub alerts_per_day: Option<u64>,
    pub notifications_per_day: Option<u64>,
    pub api_requests_per_minute: Option<u64>,
    pub subscriptions: Option<u64>,
    pub subscriptions_per_connection: Option<u64>,
}

impl Quotas {
    /// These quotas with each override that is set replacing the plan's value.
    pub fn with_overrides(mut self, o: &QuotaOverrides) -> Self {
        let pairs = [
            (&mut self.monitors, o.monitors),
            (&mut self.networks, o.networks),
            (&mut self.triggers, o.triggers),
            (&mut self.api_keys, o.api_keys),
            (&mut self.members, o.members),
            (&mut self.alerts_per_day, o.alerts_per_day),
            (&mut self.notifications_per_day, o.notifications_per_day),
            (&mut self.api_requests_per_minute, o.api_requests_per_minute),
            (&mut self.subscriptions, o.subscriptions),
            (
                &mut self.subscriptions_per_connection,
                o.subscriptions_per_connection,
            ),
        ];
        for (slot, value) in pairs {
            if let Some(value) = value {
                *slot = value;
            }
        }
        self
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlansFile {
    plans: BTreeMap<String, Quotas>,
}

/// The plans a tenant can be on, by name.
#[derive(Clone, Debug)]
pub struct Plans {
    plans: BTreeMap<String, Quotas>,
}

impl Plans {
    /// The plans shipped in `policies/plans.toml`.
    pub fn builtin() -> Self {
        // The file is part of the crate and covered by a test; failing here is a build defect.
        Self::from_toml(BUILTIN).expect("policies/plans.toml is valid")
    }

    pub fn from_toml(text: &str) -> Result<Self, PlansError> {
        let file: PlansFile = toml::from_str(text)?;
        if file.plans.is_empty() {
            return Err(PlansError::Empty);
        }
        Ok(Self { plans: file.plans })
    }

    /// The quotas of `plan`, if such a plan exists.
    pub fn get(&self, plan: &str) -> Option<Quotas> {
        self.plans.get(plan).copied()
    }

    /// Plan names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.plans.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_plans_load_and_grow_with_the_plan() {
        let plans = Plans::builtin();
        assert_eq!(
            plans.names().collect::<Vec<_>>(),
            ["enterprise", "free", "team"]
        );
        let free = plans.get("free").unwrap();
        let team = plans.get("team").unwrap();
        assert!(team.monitors > free.monitors);
        assert!(plans.get("gold").is_none());
    }

    #[test]
    fn overrides_replace_only_what_they_set() {
        let free = Plans::builtin().get("free").unwrap();
        let o = QuotaOverrides {
            monitors: Some(7),
            ..Default::default()
        };
        let q = free.with_overrides(&o);
        assert_eq!(q.monitors, 7);
        assert_eq!(q.networks, free.networks);
    }

    #[test]
    fn a_plan_missing_a_quota_or_naming_an_unknown_one_is_rejected() {
        let missing = "[plans.x]\nmonitors = 1\n";
        assert!(
            Plans::from_toml(missing)
                .unwrap_err()
                .to_string()
                .contains("missing field")
        );
        let full = BUILTIN.replace("subscriptions_per_connection = 3", "bogus = 3");
        assert!(
            Plans::from_toml(&full)
                .unwrap_err()
                .to_string()
                .contains("unknown field")
        );
        assert!(matches!(
            Plans::from_toml("plans = {}"),
            Err(PlansError::Empty)
        ));
    }
}
