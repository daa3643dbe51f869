//! Severity: each monitor has one (`info`, `warning`, `critical`; `info` by default) and
//! each alert keeps the one its monitor had when it fired, so feeds and queries can
//! filter on it.
//!
//! Only the monitors' column carries the check: alerts copy a checked value, and a
//! check on `alerts` would scan that (large) table while the migration holds its lock,
//! stopping alert writes. A constant default adds the columns without rewriting either
//! table on PostgreSQL.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000004_severity"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(
            "ALTER TABLE tenant_monitors ADD COLUMN severity TEXT NOT NULL DEFAULT 'info' \
             CONSTRAINT tenant_monitors_severity_known \
             CHECK (severity IN ('info', 'warning', 'critical'))",
        )
        .await?;
        db.execute_unprepared(
            "ALTER TABLE alerts ADD COLUMN severity TEXT NOT NULL DEFAULT 'info'",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for table in ["tenant_monitors", "alerts"] {
            db.execute_unprepared(&format!("ALTER TABLE {table} DROP COLUMN severity"))
                .await?;
        }
        Ok(())
    }
}
