//! Integration tests, linked into one binary. Each module covers one area; `helpers`
//! starts apps and databases, `fixtures` seeds data.

mod cli;
mod constraints;
mod fixtures;
mod health;
mod helpers;
mod rls;
