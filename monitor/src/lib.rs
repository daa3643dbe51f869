//! The monitoring engine, our OpenZeppelin-Monitor equivalent: configuration models,
//! the filter expression language, EVM and Stellar decoding, the multi-monitor matcher,
//! chain RPC clients and notification channels. No database, no Redis: everything here
//! is plain data in, plain data out, so every other crate can build on it.

pub mod config;
pub mod dry_run;
pub mod evm;
pub mod filter;
pub mod intern;
pub mod loadgen;
pub mod matcher;
pub mod matches;
pub mod rpc;
pub mod rules;
pub mod sandbox;
pub mod stellar;
pub mod value;

#[cfg(test)]
mod robustness;
