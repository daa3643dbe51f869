//! `audit_logs` is append-only in the database itself: updates, deletes (and on
//! PostgreSQL truncation) are refused by triggers, on both backends. The hash chain
//! detects what someone with enough privilege to drop the triggers changes anyway.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

const POSTGRES_INSTALL: &str = "
CREATE FUNCTION audit_logs_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_logs is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_logs_no_change BEFORE UPDATE OR DELETE ON audit_logs
    FOR EACH ROW EXECUTE FUNCTION audit_logs_append_only();
CREATE TRIGGER audit_logs_no_truncate BEFORE TRUNCATE ON audit_logs
    FOR EACH STATEMENT EXECUTE FUNCTION audit_logs_append_only();
";

const POSTGRES_UNINSTALL: &str = "
DROP TRIGGER IF EXISTS audit_logs_no_change ON audit_logs;
DROP TRIGGER IF EXISTS audit_logs_no_truncate ON audit_logs;
DROP FUNCTION IF EXISTS audit_logs_append_only();
";

const SQLITE_INSTALL: &[&str] = &[
    "CREATE TRIGGER audit_logs_no_update BEFORE UPDATE ON audit_logs
     BEGIN SELECT RAISE(ABORT, 'audit_logs is append-only'); END",
    "CREATE TRIGGER audit_logs_no_delete BEFORE DELETE ON audit_logs
     BEGIN SELECT RAISE(ABORT, 'audit_logs is append-only'); END",
];

const SQLITE_UNINSTALL: &[&str] = &[
    "DROP TRIGGER IF EXISTS audit_logs_no_update",
    "DROP TRIGGER IF EXISTS audit_logs_no_delete",
];

pub async fn install(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    match manager.get_database_backend() {
        DatabaseBackend::Postgres => db.execute_unprepared(POSTGRES_INSTALL).await.map(drop),
        _ => {
            for sql in SQLITE_INSTALL {
                db.execute_unprepared(sql).await?;
            }
            Ok(())
        }
    }
}

pub async fn uninstall(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    match manager.get_database_backend() {
        DatabaseBackend::Postgres => db.execute_unprepared(POSTGRES_UNINSTALL).await.map(drop),
        _ => {
            for sql in SQLITE_UNINSTALL {
                db.execute_unprepared(sql).await?;
            }
            Ok(())
        }
    }
}
