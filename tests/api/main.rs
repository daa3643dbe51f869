//! Integration tests, linked into one binary. Each module covers one area; `helpers`
//! starts apps and databases, `fixtures` seeds data.

mod anvil;
mod bus_redis;
mod chain_failover;
mod chain_fleet;
mod chain_stellar;
mod chain_watcher;
mod cli;
mod compat;
mod compat_config;
mod compat_evm;
mod compat_stellar;
mod constraints;
mod delivery;
mod dry_run;
mod email;
mod fixtures;
mod fleet;
mod gql;
mod gql_audit;
mod gql_auth;
mod gql_import;
mod gql_input;
mod gql_isolation;
mod gql_quota;
mod gql_rbac;
mod gql_schema;
mod health;
mod helpers;
mod live;
mod live_page;
mod pipeline;
mod receiver;
mod rls;
mod scripts;
mod ws;
