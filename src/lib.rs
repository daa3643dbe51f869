//! The `stellar-monitor` binary's wiring: command line, startup and the operational
//! endpoints. Domain logic lives in the workspace crates; this crate only connects them.

pub mod bench;
pub mod bench_e2e;
pub mod bench_live;
pub mod bootstrap;
pub mod check;
pub mod config;
pub mod database;
pub mod keys;
pub mod ops;
pub mod oz;
pub mod roles;
pub mod shutdown;
pub mod startup;
pub mod supervise;
pub mod telemetry;
