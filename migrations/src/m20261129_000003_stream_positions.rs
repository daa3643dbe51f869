//! Stream positions beside block cursors: where a watcher's next publication goes, and
//! where a worker resumes reading.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261129_000003_stream_positions"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(
            "ALTER TABLE network_cursors ADD COLUMN stream_seq BIGINT NOT NULL DEFAULT 0",
        )
        .await?;
        db.execute_unprepared(
            "ALTER TABLE tenant_cursors ADD COLUMN stream_seq BIGINT NOT NULL DEFAULT 0",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("ALTER TABLE network_cursors DROP COLUMN stream_seq")
            .await?;
        db.execute_unprepared("ALTER TABLE tenant_cursors DROP COLUMN stream_seq")
            .await?;
        Ok(())
    }
}
