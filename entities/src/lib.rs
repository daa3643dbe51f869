//! SeaORM entities for the whole data model, one module per table, and the
//! tenant-scoping helper ([`scope`]) that every tenant-owned query goes through.
//!
//! Tables whose rows belong to one tenant carry `tenant_id NOT NULL` and implement
//! [`scope::TenantOwned`]; PostgreSQL row-level security (see the `migrations` crate)
//! is the backstop under the filter the helper adds.

pub mod alerts;
pub mod api_keys;
pub mod audit_logs;
pub mod casbin_rule;
pub mod deliveries;
pub mod delivery_attempts;
pub mod invitations;
pub mod monitor_networks;
pub mod monitor_triggers;
pub mod network_cursors;
pub mod networks;
pub mod refresh_tokens;
pub mod scope;
pub mod secrets;
pub mod tenant_cursors;
pub mod tenant_monitors;
pub mod tenant_networks;
pub mod tenant_triggers;
pub mod tenant_usage;
pub mod tenant_users;
pub mod tenants;
pub mod users;
pub mod workers;

pub use scope::{SystemTxn, TenantOwned, TenantTxn};

/// Tables whose every row belongs to one tenant: `tenant_id NOT NULL`, row-level
/// security on PostgreSQL. Kept here so migrations and tests walk the same list.
pub const TENANT_OWNED_TABLES: &[&str] = &[
    "tenant_users",
    "tenant_networks",
    "tenant_monitors",
    "tenant_triggers",
    "monitor_networks",
    "monitor_triggers",
    "api_keys",
    "audit_logs",
    "alerts",
    "deliveries",
    "delivery_attempts",
    "tenant_cursors",
    "tenant_usage",
    "invitations",
];

/// The roles a member can hold in a tenant, as the database's check constraint spells them.
pub const TENANT_ROLES: &[&str] = &["owner", "admin", "editor", "viewer"];
