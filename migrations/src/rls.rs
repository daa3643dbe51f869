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

/// (table, column holding the tenant id)
fn protected_tables() -> impl Iterator<Item = (&'static str, &'static str)> {
    entities::TENANT_OWNED_TABLES
        .iter()
        .map(|table| (*table, "tenant_id"))
        .chain(std::iter::once(("tenants", "id")))
}

pub async fn install(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    if manager.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    let db = manager.get_connection();
    for (table, column) in protected_tables() {
        let condition = predicate(column);
        db.execute_unprepared(&format!(
            "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
             ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
             CREATE POLICY tenant_isolation ON {table}
                USING ({condition}) WITH CHECK ({condition});"
        ))
        .await?;
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
