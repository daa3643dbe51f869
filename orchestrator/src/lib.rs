//! The orchestrator and the worker runtime: worker membership by heartbeat, a
//! consistent-hash ring assigning tenants to workers, evaluation of each block against
//! the assigned tenants' monitors, alert writing and the delivery outbox.
