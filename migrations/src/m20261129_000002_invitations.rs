//! Invitations to join a tenant.

use sea_orm_migration::prelude::*;

use crate::{ddl, rls};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261129_000002_invitations"
    }
}

const CREATE: &[&str] = &[
    "CREATE TABLE invitations (
        id {uuid} NOT NULL PRIMARY KEY,
        tenant_id {uuid} NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
        email TEXT NOT NULL,
        role TEXT NOT NULL,
        token_hash TEXT NOT NULL,
        invited_by {uuid} REFERENCES users (id) ON DELETE SET NULL,
        expires_at {ts} NOT NULL,
        accepted_at {ts},
        created_at {ts} NOT NULL,
        CONSTRAINT invitations_role_check CHECK (role IN ('owner', 'admin', 'editor', 'viewer')),
        CONSTRAINT invitations_email_lower CHECK (email = lower(email))
    )",
    "CREATE INDEX invitations_tenant_email ON invitations (tenant_id, email)",
    // Exception to "indexes start with tenant_id": redeeming a token happens before the
    // tenant is known.
    "CREATE UNIQUE INDEX invitations_token_key ON invitations (token_hash)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run_all(manager, CREATE).await?;
        rls::protect(manager, "invitations", "tenant_id").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE IF EXISTS invitations")
            .await
            .map(drop)
    }
}
