//! PostgreSQL row-level security: the backstop under the application's tenant filter.
//!
//! Every tenant-owned table gets `ENABLE` and `FORCE ROW LEVEL SECURITY` (so the table
//! owner, which the application connects as, is subject to it too) and one policy:
//! a row is visible and writable when its `tenant_id` equals the transaction-local
//! `app.tenant_id`, or when the transaction declared `app.scope = 'system'` for platform
//! work. A transaction that set neither sees nothing. Superusers and `BYPASSRLS` roles
//! skip RLS entirely, so the application must not connect as one; `serve` warns if it does.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

/// The condition every policy uses, with the tenant column to compare.
fn predicate(column: &str) -> String {
    format!(
        "current_setting('app.scope', true) = 'system' \
         OR {column} = NULLIF(current_setting('app.tenant_id', true), '')::uuid"
    )
}

/// The tables of the initial migration, with the column holding the tenant id. Later
/// migrations protect their own tables with [`protect`].
const INITIAL: &[(&str, &str)] = &[
    ("tenants", "id"),
    ("tenant_users", "tenant_id"),
    ("tenant_networks", "tenant_id"),
    ("tenant_monitors", "tenant_id"),
    ("tenant_triggers", "tenant_id"),
    ("monitor_networks", "tenant_id"),
    ("monitor_triggers", "tenant_id"),
    ("api_keys", "tenant_id"),
    ("audit_logs", "tenant_id"),
    ("alerts", "tenant_id"),
    ("deliveries", "tenant_id"),
    ("delivery_attempts", "tenant_id"),
    ("tenant_cursors", "tenant_id"),
    ("tenant_usage", "tenant_id"),
];

fn protected_tables() -> impl Iterator<Item = (&'static str, &'static str)> {
    INITIAL.iter().copied()
}

/// Row-level security on one table whose tenant is in `column`.
pub async fn protect(manager: &SchemaManager<'_>, table: &str, column: &str) -> Result<(), DbErr> {
    if manager.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    let condition = predicate(column);
    manager
        .get_connection()
        .execute_unprepared(&format!(
            "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
             ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
             CREATE POLICY tenant_isolation ON {table}
                USING ({condition}) WITH CHECK ({condition});"
        ))
        .await
        .map(drop)
}

pub async fn install(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    for (table, column) in protected_tables() {
        protect(manager, table, column).await?;
    }
    Ok(())
}

pub async fn uninstall(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    if manager.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    let db = manager.get_connection();
    for (table, _) in protected_tables() {
        db.execute_unprepared(&format!(
            "DROP POLICY IF EXISTS tenant_isolation ON {table};
             ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY;
             ALTER TABLE {table} DISABLE ROW LEVEL SECURITY;"
        ))
        .await?;
    }
    Ok(())
}
