//! Database migrations. The same steps run on PostgreSQL and on SQLite: DDL is written
//! once with type placeholders ([`ddl`]) and rendered per backend; PostgreSQL also gets
//! row-level security ([`rls`]); both get append-only audit logs ([`append_only`]).

pub use sea_orm_migration::prelude::*;

mod append_only;
mod ddl;
mod m20261129_000001_initial;
mod m20261129_000002_invitations;
mod m20261129_000003_stream_positions;
mod m20261201_000004_severity;
pub mod rls;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261129_000001_initial::Migration),
            Box::new(m20261129_000002_invitations::Migration),
            Box::new(m20261129_000003_stream_positions::Migration),
            Box::new(m20261201_000004_severity::Migration),
        ]
    }
}
