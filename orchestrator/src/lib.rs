//! The orchestrator and the worker runtime: worker membership by heartbeat, a
//! consistent-hash ring assigning tenants to workers, evaluation of each block against
//! the assigned tenants' monitors, alert writing and the delivery outbox.

pub mod health;
pub mod leader;
pub mod membership;
pub mod ring;
pub mod scripts;
pub mod worker;

pub use health::FleetHealth;
pub mod notify;
pub mod outbox;
