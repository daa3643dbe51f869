//! Seed data: a tenant with one row in every tenant-owned table, written through the
//! tenant-scoping helper exactly as the application writes.

use chrono::Utc;
use entities::*;
use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait, NotSet};
use serde_json::json;
use uuid::Uuid;

/// Ids of what [`seed_tenant`] created.
#[derive(Debug, Clone, Copy)]
pub struct Seeded {
    pub tenant_id: Uuid,
    pub network_id: Uuid,
    pub monitor_id: Uuid,
    pub trigger_id: Uuid,
}

/// A catalog network (platform-level), for tenants to enable.
pub async fn catalog_network(db: &DatabaseConnection, slug: &str) -> Uuid {
    let txn = SystemTxn::begin(db).await.unwrap();
    let id = Uuid::now_v7();
    let now = Utc::now();
    networks::Entity::insert(networks::ActiveModel {
        id: Set(id),
        slug: Set(slug.to_owned()),
        name: Set(slug.to_owned()),
        network_type: Set("EVM".to_owned()),
        definition: Set(json!({"slug": slug, "network_type": "EVM"})),
        version: Set(1),
        enabled: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec(txn.conn())
    .await
    .unwrap();
    txn.commit().await.unwrap();
    id
}

/// Creates a tenant (and its owner) in system scope.
pub async fn tenant(db: &DatabaseConnection, slug: &str) -> (Uuid, Uuid) {
    let txn = SystemTxn::begin(db).await.unwrap();
    let now = Utc::now();
    let (tenant_id, user_id) = (Uuid::now_v7(), Uuid::now_v7());
    tenants::Entity::insert(tenants::ActiveModel {
        id: Set(tenant_id),
        slug: Set(slug.to_owned()),
        name: Set(slug.to_owned()),
        plan: Set("free".to_owned()),
        quota_overrides: Set(None),
        status: Set("active".to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec(txn.conn())
    .await
    .unwrap();
    users::Entity::insert(users::ActiveModel {
        id: Set(user_id),
        email: Set(format!("owner@{slug}.example")),
        password_hash: Set("$argon2id$placeholder".to_owned()),
        display_name: Set(None),
        is_platform_admin: Set(false),
        disabled_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec(txn.conn())
    .await
    .unwrap();
    txn.commit().await.unwrap();
    (tenant_id, user_id)
}

pub fn monitor_row(name: &str) -> tenant_monitors::ActiveModel {
    let now = Utc::now();
    tenant_monitors::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: NotSet,
        name: Set(name.to_owned()),
        paused: Set(false),
        definition: Set(json!({"name": name})),
        version: Set(1),
        severity: Set("info".to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

pub fn enabled_network_row(slug: &str, catalog_id: Uuid) -> tenant_networks::ActiveModel {
    let now = Utc::now();
    tenant_networks::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: NotSet,
        slug: Set(slug.to_owned()),
        name: Set(slug.to_owned()),
        network_type: Set("EVM".to_owned()),
        catalog_network_id: Set(Some(catalog_id)),
        definition: Set(None),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

pub fn member_row(user_id: Uuid, role: &str) -> tenant_users::ActiveModel {
    let now = Utc::now();
    tenant_users::ActiveModel {
        tenant_id: NotSet,
        user_id: Set(user_id),
        role: Set(role.to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

pub fn alert_row(monitor_id: Uuid, key: &str) -> alerts::ActiveModel {
    alerts::ActiveModel {
        id: NotSet,
        tenant_id: NotSet,
        monitor_id: Set(monitor_id),
        monitor_version: Set(1),
        network_slug: Set("ethereum_mainnet".to_owned()),
        block_number: Set(21_306_058),
        block_hash: Set("0xabc".to_owned()),
        transaction_hash: Set(Some("0xdef".to_owned())),
        event_index: Set(Some(0)),
        idempotency_key: Set(key.to_owned()),
        payload: Set(json!({"EVM": {}})),
        severity: Set("info".to_owned()),
        created_at: Set(Utc::now()),
    }
}

/// A tenant with one row in every tenant-owned table.
pub async fn seed_tenant(db: &DatabaseConnection, slug: &str, catalog_id: Uuid) -> Seeded {
    let (tenant_id, user_id) = tenant(db, slug).await;
    let now = Utc::now();
    let txn = TenantTxn::begin(db, tenant_id).await.unwrap();
    txn.insert(member_row(user_id, "owner")).await.unwrap();
    let network = txn
        .insert(enabled_network_row("ethereum_mainnet", catalog_id))
        .await
        .unwrap();
    let monitor = txn.insert(monitor_row("Large transfers")).await.unwrap();
    let trigger = txn
        .insert(tenant_triggers::ActiveModel {
            id: Set(Uuid::now_v7()),
            tenant_id: NotSet,
            slug: Set("ops_webhook".to_owned()),
            name: Set("Ops webhook".to_owned()),
            trigger_type: Set("webhook".to_owned()),
            definition: Set(json!({"url": "enc:..."})),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .await
        .unwrap();
    txn.insert(monitor_networks::ActiveModel {
        tenant_id: NotSet,
        monitor_id: Set(monitor.id),
        network_id: Set(network.id),
    })
    .await
    .unwrap();
    txn.insert(monitor_triggers::ActiveModel {
        tenant_id: NotSet,
        monitor_id: Set(monitor.id),
        trigger_id: Set(trigger.id),
    })
    .await
    .unwrap();
    txn.insert(api_keys::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: NotSet,
        created_by: Set(Some(user_id)),
        name: Set("ci".to_owned()),
        secret_hash: Set("00".repeat(32)),
        scopes: Set(json!(["monitors:read"])),
        expires_at: Set(None),
        revoked_at: Set(None),
        last_used_at: Set(None),
        created_at: Set(now),
    })
    .await
    .unwrap();
    txn.insert(audit_logs::ActiveModel {
        id: NotSet,
        tenant_id: NotSet,
        seq: Set(1),
        actor_user_id: Set(Some(user_id)),
        actor_api_key_id: Set(None),
        action: Set("monitor.create".to_owned()),
        resource_type: Set("monitor".to_owned()),
        resource_id: Set(Some(monitor.id.to_string())),
        details: Set(json!({})),
        request_id: Set(None),
        ip: Set(None),
        prev_hash: Set("0".repeat(64)),
        hash: Set("1".repeat(64)),
        created_at: Set(now),
    })
    .await
    .unwrap();
    let alert = txn
        .insert(alert_row(monitor.id, &format!("{slug}:key")))
        .await
        .unwrap();
    let delivery = txn
        .insert(deliveries::ActiveModel {
            id: Set(Uuid::now_v7()),
            tenant_id: NotSet,
            alert_id: Set(alert.id),
            trigger_id: Set(trigger.id),
            status: Set("pending".to_owned()),
            attempts: Set(0),
            next_attempt_at: Set(now),
            locked_until: Set(None),
            last_error: Set(None),
            last_status_code: Set(None),
            delivered_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .await
        .unwrap();
    txn.insert(delivery_attempts::ActiveModel {
        id: NotSet,
        tenant_id: NotSet,
        delivery_id: Set(delivery.id),
        attempt: Set(1),
        started_at: Set(now),
        duration_ms: Set(12),
        status_code: Set(Some(500)),
        error: Set(Some("HTTP 500".to_owned())),
        outcome: Set("retryable".to_owned()),
    })
    .await
    .unwrap();
    txn.insert(tenant_cursors::ActiveModel {
        tenant_id: NotSet,
        network_key: Set("ethereum_mainnet".to_owned()),
        block_number: Set(21_306_058),
        block_hash: Set("0xabc".to_owned()),
        stream_seq: Set(1),
        updated_at: Set(now),
    })
    .await
    .unwrap();
    txn.insert(invitations::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: NotSet,
        email: Set(format!("invitee@{slug}.example")),
        role: Set("viewer".to_owned()),
        token_hash: Set(format!("{slug}-token-hash")),
        invited_by: Set(Some(user_id)),
        expires_at: Set(now),
        accepted_at: Set(None),
        created_at: Set(now),
    })
    .await
    .unwrap();
    txn.insert(tenant_usage::ActiveModel {
        tenant_id: NotSet,
        day: Set("2026-11-29".to_owned()),
        alerts: Set(1),
        notifications: Set(1),
    })
    .await
    .unwrap();
    txn.commit().await.unwrap();
    Seeded {
        tenant_id,
        network_id: network.id,
        monitor_id: monitor.id,
        trigger_id: trigger.id,
    }
}
