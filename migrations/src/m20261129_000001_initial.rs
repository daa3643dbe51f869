//! The initial data model: the original design's seven tables (`tenants`,
//! `tenant_users`, `tenant_monitors`, `tenant_networks`, `tenant_triggers`, `api_keys`,
//! `audit_logs`) and what the flows need beside them.
//!
//! Invariants kept by the database itself, not only by code:
//! - `tenant_id NOT NULL` on tenant-owned rows, and their indexes start with it (the
//!   exceptions, for platform-wide scans, say why);
//! - names unique per tenant, case-insensitively (expression indexes on `lower(..)`);
//! - a monitor can only reference networks and triggers of its own tenant: the link
//!   tables carry `tenant_id` in composite foreign keys onto `(tenant_id, id)`;
//! - role, status and type values checked;
//! - alerts unique on their idempotency key; audit rows unique on their chain position.

use sea_orm_migration::prelude::*;

use crate::{append_only, ddl, rls};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261129_000001_initial"
    }
}

const CREATE: &[&str] = &[
    "CREATE TABLE users (
        id {uuid} NOT NULL PRIMARY KEY,
        email TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        display_name TEXT,
        is_platform_admin {bool} NOT NULL DEFAULT FALSE,
        disabled_at {ts},
        created_at {ts} NOT NULL,
        updated_at {ts} NOT NULL,
        CONSTRAINT users_email_lower CHECK (email = lower(email)),
        CONSTRAINT users_email_length CHECK (length(email) BETWEEN 3 AND 320)
    )",
    "CREATE UNIQUE INDEX users_email_key ON users (email)",
    "CREATE TABLE tenants (
        id {uuid} NOT NULL PRIMARY KEY,
        slug TEXT NOT NULL,
        name TEXT NOT NULL,
        plan TEXT NOT NULL DEFAULT 'free',
        quota_overrides {json},
        status TEXT NOT NULL DEFAULT 'active',
        created_at {ts} NOT NULL,
        updated_at {ts} NOT NULL,
        CONSTRAINT tenants_slug_lower CHECK (slug = lower(slug)),
        CONSTRAINT tenants_slug_length CHECK (length(slug) BETWEEN 2 AND 63),
        CONSTRAINT tenants_name_length CHECK (length(name) BETWEEN 1 AND 200),
        CONSTRAINT tenants_status_check CHECK (status IN ('active', 'suspended'))
    )",
    "CREATE UNIQUE INDEX tenants_slug_key ON tenants (slug)",
    "CREATE TABLE tenant_users (
        tenant_id {uuid} NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
        user_id {uuid} NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        role TEXT NOT NULL,
        created_at {ts} NOT NULL,
        updated_at {ts} NOT NULL,
        PRIMARY KEY (tenant_id, user_id),
        CONSTRAINT tenant_users_role_check CHECK (role IN ('owner', 'admin', 'editor', 'viewer'))
    )",
    // Exception to "indexes start with tenant_id": finding a user's tenants at login
    // is the one lookup that starts from the user.
    "CREATE INDEX tenant_users_user_id ON tenant_users (user_id)",
    "CREATE TABLE networks (
        id {uuid} NOT NULL PRIMARY KEY,
        slug TEXT NOT NULL,
        name TEXT NOT NULL,
        network_type TEXT NOT NULL,
        definition {json} NOT NULL,
        version BIGINT NOT NULL DEFAULT 1,
        enabled {bool} NOT NULL DEFAULT TRUE,
        created_at {ts} NOT NULL,
        updated_at {ts} NOT NULL,
        CONSTRAINT networks_type_check CHECK (network_type IN ('EVM', 'Stellar')),
        CONSTRAINT networks_version_positive CHECK (version > 0)
    )",
    "CREATE UNIQUE INDEX networks_slug_key ON networks (lower(slug))",
    "CREATE TABLE tenant_networks (
        id {uuid} NOT NULL PRIMARY KEY,
        tenant_id {uuid} NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
        slug TEXT NOT NULL,
        name TEXT NOT NULL,
        network_type TEXT NOT NULL,
        catalog_network_id {uuid} REFERENCES networks (id) ON DELETE RESTRICT,
        definition {json},
        version BIGINT NOT NULL DEFAULT 1,
        created_at {ts} NOT NULL,
        updated_at {ts} NOT NULL,
        CONSTRAINT tenant_networks_tenant_id_id UNIQUE (tenant_id, id),
        CONSTRAINT tenant_networks_type_check CHECK (network_type IN ('EVM', 'Stellar')),
        CONSTRAINT tenant_networks_one_source
            CHECK ((catalog_network_id IS NULL AND definition IS NOT NULL)
                OR (catalog_network_id IS NOT NULL AND definition IS NULL)),
        CONSTRAINT tenant_networks_version_positive CHECK (version > 0)
    )",
    "CREATE UNIQUE INDEX tenant_networks_slug_key ON tenant_networks (tenant_id, lower(slug))",
    "CREATE UNIQUE INDEX tenant_networks_catalog_key ON tenant_networks (tenant_id, catalog_network_id)
        WHERE catalog_network_id IS NOT NULL",
    "CREATE TABLE tenant_monitors (
        id {uuid} NOT NULL PRIMARY KEY,
        tenant_id {uuid} NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        paused {bool} NOT NULL DEFAULT FALSE,
        definition {json} NOT NULL,
        version BIGINT NOT NULL DEFAULT 1,
        created_at {ts} NOT NULL,
        updated_at {ts} NOT NULL,
        CONSTRAINT tenant_monitors_tenant_id_id UNIQUE (tenant_id, id),
        CONSTRAINT tenant_monitors_name_length CHECK (length(name) BETWEEN 1 AND 200),
        CONSTRAINT tenant_monitors_version_positive CHECK (version > 0)
    )",
    "CREATE UNIQUE INDEX tenant_monitors_name_key ON tenant_monitors (tenant_id, lower(name))",
    "CREATE TABLE tenant_triggers (
        id {uuid} NOT NULL PRIMARY KEY,
        tenant_id {uuid} NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
        slug TEXT NOT NULL,
        name TEXT NOT NULL,
        trigger_type TEXT NOT NULL,
        definition {json} NOT NULL,
        version BIGINT NOT NULL DEFAULT 1,
        created_at {ts} NOT NULL,
        updated_at {ts} NOT NULL,
        CONSTRAINT tenant_triggers_tenant_id_id UNIQUE (tenant_id, id),
        CONSTRAINT tenant_triggers_type_check
            CHECK (trigger_type IN ('slack', 'discord', 'telegram', 'email', 'webhook', 'script')),
        CONSTRAINT tenant_triggers_version_positive CHECK (version > 0)
    )",
    "CREATE UNIQUE INDEX tenant_triggers_slug_key ON tenant_triggers (tenant_id, lower(slug))",
    "CREATE TABLE monitor_networks (
        tenant_id {uuid} NOT NULL,
        monitor_id {uuid} NOT NULL,
        network_id {uuid} NOT NULL,
        PRIMARY KEY (tenant_id, monitor_id, network_id),
        CONSTRAINT monitor_networks_monitor_fk FOREIGN KEY (tenant_id, monitor_id)
            REFERENCES tenant_monitors (tenant_id, id) ON DELETE CASCADE,
        CONSTRAINT monitor_networks_network_fk FOREIGN KEY (tenant_id, network_id)
            REFERENCES tenant_networks (tenant_id, id) ON DELETE RESTRICT
    )",
    "CREATE INDEX monitor_networks_network ON monitor_networks (tenant_id, network_id)",
    "CREATE TABLE monitor_triggers (
        tenant_id {uuid} NOT NULL,
        monitor_id {uuid} NOT NULL,
        trigger_id {uuid} NOT NULL,
        PRIMARY KEY (tenant_id, monitor_id, trigger_id),
        CONSTRAINT monitor_triggers_monitor_fk FOREIGN KEY (tenant_id, monitor_id)
            REFERENCES tenant_monitors (tenant_id, id) ON DELETE CASCADE,
        CONSTRAINT monitor_triggers_trigger_fk FOREIGN KEY (tenant_id, trigger_id)
            REFERENCES tenant_triggers (tenant_id, id) ON DELETE RESTRICT
    )",
    "CREATE INDEX monitor_triggers_trigger ON monitor_triggers (tenant_id, trigger_id)",
    "CREATE TABLE api_keys (
        id {uuid} NOT NULL PRIMARY KEY,
        tenant_id {uuid} NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
        created_by {uuid} REFERENCES users (id) ON DELETE SET NULL,
        name TEXT NOT NULL,
        secret_hash TEXT NOT NULL,
        scopes {json} NOT NULL,
        expires_at {ts},
        revoked_at {ts},
        last_used_at {ts},
        created_at {ts} NOT NULL,
        CONSTRAINT api_keys_tenant_id_id UNIQUE (tenant_id, id)
    )",
    "CREATE UNIQUE INDEX api_keys_name_key ON api_keys (tenant_id, lower(name))",
    "CREATE TABLE refresh_tokens (
        id {uuid} NOT NULL PRIMARY KEY,
        user_id {uuid} NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        family_id {uuid} NOT NULL,
        token_hash TEXT NOT NULL,
        expires_at {ts} NOT NULL,
        revoked_at {ts},
        replaced_by {uuid},
        created_at {ts} NOT NULL
    )",
    "CREATE UNIQUE INDEX refresh_tokens_hash_key ON refresh_tokens (token_hash)",
    "CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id)",
    "CREATE TABLE audit_logs (
        id {serial_pk},
        tenant_id {uuid} NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
        seq BIGINT NOT NULL,
        actor_user_id {uuid},
        actor_api_key_id {uuid},
        action TEXT NOT NULL,
        resource_type TEXT NOT NULL,
        resource_id TEXT,
        details {json} NOT NULL,
        request_id TEXT,
        ip TEXT,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL,
        created_at {ts} NOT NULL,
        CONSTRAINT audit_logs_seq_positive CHECK (seq > 0)
    )",
    "CREATE UNIQUE INDEX audit_logs_chain_key ON audit_logs (tenant_id, seq)",
    "CREATE INDEX audit_logs_action ON audit_logs (tenant_id, action, created_at)",
    "CREATE TABLE alerts (
        id {serial_pk},
        tenant_id {uuid} NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
        monitor_id {uuid} NOT NULL,
        monitor_version BIGINT NOT NULL,
        network_slug TEXT NOT NULL,
        block_number BIGINT NOT NULL,
        block_hash TEXT NOT NULL,
        transaction_hash TEXT,
        event_index BIGINT,
        idempotency_key TEXT NOT NULL,
        payload {json} NOT NULL,
        created_at {ts} NOT NULL,
        CONSTRAINT alerts_tenant_id_id UNIQUE (tenant_id, id),
        CONSTRAINT alerts_monitor_fk FOREIGN KEY (tenant_id, monitor_id)
            REFERENCES tenant_monitors (tenant_id, id) ON DELETE CASCADE
    )",
    "CREATE UNIQUE INDEX alerts_idempotency_key ON alerts (tenant_id, idempotency_key)",
    "CREATE INDEX alerts_monitor ON alerts (tenant_id, monitor_id, id)",
    "CREATE INDEX alerts_network_block ON alerts (tenant_id, network_slug, block_number)",
    "CREATE TABLE deliveries (
        id {uuid} NOT NULL PRIMARY KEY,
        tenant_id {uuid} NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
        alert_id BIGINT NOT NULL,
        trigger_id {uuid} NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at {ts} NOT NULL,
        locked_until {ts},
        last_error TEXT,
        last_status_code INTEGER,
        delivered_at {ts},
        created_at {ts} NOT NULL,
        updated_at {ts} NOT NULL,
        CONSTRAINT deliveries_tenant_id_id UNIQUE (tenant_id, id),
        CONSTRAINT deliveries_alert_fk FOREIGN KEY (tenant_id, alert_id)
            REFERENCES alerts (tenant_id, id) ON DELETE CASCADE,
        CONSTRAINT deliveries_trigger_fk FOREIGN KEY (tenant_id, trigger_id)
            REFERENCES tenant_triggers (tenant_id, id) ON DELETE CASCADE,
        CONSTRAINT deliveries_status_check
            CHECK (status IN ('pending', 'in_progress', 'delivered', 'dead', 'skipped')),
        CONSTRAINT deliveries_attempts_nonnegative CHECK (attempts >= 0)
    )",
    "CREATE UNIQUE INDEX deliveries_alert_trigger_key ON deliveries (tenant_id, alert_id, trigger_id)",
    "CREATE INDEX deliveries_tenant_status ON deliveries (tenant_id, status, created_at)",
    // Exception to "indexes start with tenant_id": the outbox loop scans due deliveries
    // of every tenant (in system scope).
    "CREATE INDEX deliveries_due ON deliveries (next_attempt_at)
        WHERE status IN ('pending', 'in_progress')",
    "CREATE TABLE delivery_attempts (
        id {serial_pk},
        tenant_id {uuid} NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
        delivery_id {uuid} NOT NULL,
        attempt INTEGER NOT NULL,
        started_at {ts} NOT NULL,
        duration_ms BIGINT NOT NULL,
        status_code INTEGER,
        error TEXT,
        outcome TEXT NOT NULL,
        CONSTRAINT delivery_attempts_delivery_fk FOREIGN KEY (tenant_id, delivery_id)
            REFERENCES deliveries (tenant_id, id) ON DELETE CASCADE,
        CONSTRAINT delivery_attempts_outcome_check
            CHECK (outcome IN ('success', 'retryable', 'permanent'))
    )",
    "CREATE INDEX delivery_attempts_delivery ON delivery_attempts (tenant_id, delivery_id, attempt)",
    "CREATE TABLE workers (
        id TEXT NOT NULL PRIMARY KEY,
        hostname TEXT NOT NULL,
        version TEXT,
        started_at {ts} NOT NULL,
        last_heartbeat_at {ts} NOT NULL,
        status TEXT NOT NULL,
        info {json},
        CONSTRAINT workers_status_check CHECK (status IN ('active', 'draining', 'dead'))
    )",
    "CREATE TABLE network_cursors (
        network_key TEXT NOT NULL PRIMARY KEY,
        block_number BIGINT NOT NULL,
        block_hash TEXT NOT NULL,
        updated_at {ts} NOT NULL
    )",
    "CREATE TABLE tenant_cursors (
        tenant_id {uuid} NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
        network_key TEXT NOT NULL,
        block_number BIGINT NOT NULL,
        block_hash TEXT NOT NULL,
        updated_at {ts} NOT NULL,
        PRIMARY KEY (tenant_id, network_key)
    )",
    "CREATE TABLE tenant_usage (
        tenant_id {uuid} NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
        day TEXT NOT NULL,
        alerts BIGINT NOT NULL DEFAULT 0,
        notifications BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (tenant_id, day),
        CONSTRAINT tenant_usage_day_format CHECK (length(day) = 10)
    )",
    "CREATE TABLE casbin_rule (
        id {serial_pk},
        ptype TEXT NOT NULL,
        v0 TEXT NOT NULL DEFAULT '',
        v1 TEXT NOT NULL DEFAULT '',
        v2 TEXT NOT NULL DEFAULT '',
        v3 TEXT NOT NULL DEFAULT '',
        v4 TEXT NOT NULL DEFAULT '',
        v5 TEXT NOT NULL DEFAULT ''
    )",
    "CREATE UNIQUE INDEX casbin_rule_key ON casbin_rule (ptype, v0, v1, v2, v3, v4, v5)",
];

/// Dropped in reverse dependency order.
const TABLES: &[&str] = &[
    "casbin_rule",
    "tenant_usage",
    "tenant_cursors",
    "network_cursors",
    "workers",
    "delivery_attempts",
    "deliveries",
    "alerts",
    "audit_logs",
    "refresh_tokens",
    "api_keys",
    "monitor_triggers",
    "monitor_networks",
    "tenant_triggers",
    "tenant_monitors",
    "tenant_networks",
    "networks",
    "tenant_users",
    "tenants",
    "users",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run_all(manager, CREATE).await?;
        append_only::install(manager).await?;
        rls::install(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        rls::uninstall(manager).await?;
        append_only::uninstall(manager).await?;
        let db = manager.get_connection();
        for table in TABLES {
            db.execute_unprepared(&format!("DROP TABLE IF EXISTS {table}"))
                .await?;
        }
        Ok(())
    }
}
