//! Severity: each monitor has one (`info`, `warning`, `critical`; `info` by default) and
//! each alert keeps the one its monitor had when it fired, so feeds and queries can
//! filter on it.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000004_severity"
    }
}

const TABLES: [&str; 2] = ["tenant_monitors", "alerts"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for table in TABLES {
            db.execute_unprepared(&format!(
                "ALTER TABLE {table} ADD COLUMN severity TEXT NOT NULL DEFAULT 'info' \
                 CONSTRAINT {table}_severity_known CHECK (severity IN ('info', 'warning', 'critical'))"
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for table in TABLES {
            db.execute_unprepared(&format!("ALTER TABLE {table} DROP COLUMN severity"))
                .await?;
        }
        Ok(())
    }
}
