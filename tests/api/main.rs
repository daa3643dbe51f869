//! Integration tests, linked into one binary. Each module covers one area; `helpers`
//! starts apps and databases, `fixtures` seeds data.

mod cli;
mod compat;
mod compat_config;
mod compat_evm;
mod compat_stellar;
mod constraints;
mod fixtures;
mod health;
mod helpers;
mod rls;
