//! The database itself refuses what must never be stored, on both backends: a monitor
//! pointing at another tenant's network or trigger, a duplicate name within a tenant,
//! an unknown role or severity, a second alert with the same idempotency key, a tenant-owned row
//! without a tenant.

use entities::{SystemTxn, TenantTxn, monitor_networks, monitor_triggers, tenant_users};
use sea_orm::{ActiveValue::Set, DatabaseConnection, DbErr, EntityTrait, SqlErr};

use crate::fixtures::{alert_row, catalog_network, member_row, monitor_row, seed_tenant, tenant};
use crate::helpers::{postgres_db, sqlite_db};

/// Runs one check against a fresh PostgreSQL database and a fresh SQLite file.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $(#[tokio::test]
            async fn $name() {
                super::$name(&crate::helpers::postgres_db().await).await;
            })*
        }
        mod sqlite {
            $(#[tokio::test]
            async fn $name() {
                let (db, _dir) = crate::helpers::sqlite_db().await;
                super::$name(&db).await;
            })*
        }
    };
}

on_both_backends!(
    monitor_cannot_reference_another_tenants_network,
    monitor_cannot_reference_another_tenants_trigger,
    monitor_names_are_unique_per_tenant_case_insensitively,
    unknown_roles_are_refused,
    unknown_severities_are_refused,
    alerts_are_unique_on_their_idempotency_key,
    tenant_owned_rows_need_a_tenant,
);

fn is_foreign_key_violation(e: &DbErr) -> bool {
    matches!(e.sql_err(), Some(SqlErr::ForeignKeyConstraintViolation(_)))
}

fn is_unique_violation(e: &DbErr) -> bool {
    matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

fn is_check_violation(e: &DbErr) -> bool {
    let text = e.to_string();
    text.contains("check constraint") || text.contains("CHECK constraint")
}

async fn monitor_cannot_reference_another_tenants_network(db: &DatabaseConnection) {
    let catalog = catalog_network(db, "ethereum_mainnet").await;
    let a = seed_tenant(db, "tenant-a", catalog).await;
    let b = seed_tenant(db, "tenant-b", catalog).await;
    // Even in system scope, where RLS lets everything through, the composite foreign
    // key refuses a link between tenant A's monitor and tenant B's network.
    for tenant_id in [a.tenant_id, b.tenant_id] {
        let txn = SystemTxn::begin(db).await.unwrap();
        let err = monitor_networks::Entity::insert(monitor_networks::ActiveModel {
            tenant_id: Set(tenant_id),
            monitor_id: Set(a.monitor_id),
            network_id: Set(b.network_id),
        })
        .exec(txn.conn())
        .await
        .unwrap_err();
        assert!(is_foreign_key_violation(&err), "{err}");
    }
}

async fn monitor_cannot_reference_another_tenants_trigger(db: &DatabaseConnection) {
    let catalog = catalog_network(db, "ethereum_mainnet").await;
    let a = seed_tenant(db, "tenant-a", catalog).await;
    let b = seed_tenant(db, "tenant-b", catalog).await;
    let txn = TenantTxn::begin(db, a.tenant_id).await.unwrap();
    let err = txn
        .insert(monitor_triggers::ActiveModel {
            tenant_id: Set(a.tenant_id),
            monitor_id: Set(a.monitor_id),
            trigger_id: Set(b.trigger_id),
        })
        .await
        .unwrap_err();
    assert!(is_foreign_key_violation(&err), "{err}");
}

async fn monitor_names_are_unique_per_tenant_case_insensitively(db: &DatabaseConnection) {
    let catalog = catalog_network(db, "ethereum_mainnet").await;
    let a = seed_tenant(db, "tenant-a", catalog).await;
    let b = seed_tenant(db, "tenant-b", catalog).await;
    let txn = TenantTxn::begin(db, a.tenant_id).await.unwrap();
    let err = txn
        .insert(monitor_row("LARGE TRANSFERS"))
        .await
        .unwrap_err();
    assert!(is_unique_violation(&err), "{err}");
    txn.rollback().await.unwrap();
    // Another tenant may use the same name.
    let txn = TenantTxn::begin(db, b.tenant_id).await.unwrap();
    txn.insert(monitor_row("Large Transfers 2")).await.unwrap();
    txn.commit().await.unwrap();
    let (c, _) = tenant(db, "tenant-c").await;
    let txn = TenantTxn::begin(db, c).await.unwrap();
    txn.insert(monitor_row("Large transfers")).await.unwrap();
    txn.commit().await.unwrap();
}

async fn unknown_roles_are_refused(db: &DatabaseConnection) {
    let (tenant_id, user_id) = tenant(db, "tenant-a").await;
    let txn = TenantTxn::begin(db, tenant_id).await.unwrap();
    let err = txn
        .insert(member_row(user_id, "superuser"))
        .await
        .unwrap_err();
    assert!(is_check_violation(&err), "{err}");
    txn.rollback().await.unwrap();
    let txn = TenantTxn::begin(db, tenant_id).await.unwrap();
    for role in entities::TENANT_ROLES {
        // Each known role is accepted (then rolled back to try the next).
        txn.insert(member_row(user_id, role)).await.unwrap();
        txn.delete_many::<tenant_users::Entity>()
            .exec(txn.conn())
            .await
            .unwrap();
    }
}

async fn unknown_severities_are_refused(db: &DatabaseConnection) {
    let (tenant_id, _) = tenant(db, "tenant-a").await;
    let txn = TenantTxn::begin(db, tenant_id).await.unwrap();
    let mut row = monitor_row("urgent one");
    row.severity = Set("urgent".to_owned());
    let err = txn.insert(row).await.unwrap_err();
    assert!(is_check_violation(&err), "{err}");
    txn.rollback().await.unwrap();
    let txn = TenantTxn::begin(db, tenant_id).await.unwrap();
    for severity in ["info", "warning", "critical"] {
        let mut row = monitor_row(&format!("{severity} one"));
        row.severity = Set(severity.to_owned());
        txn.insert(row).await.unwrap();
    }
    txn.commit().await.unwrap();
}

async fn alerts_are_unique_on_their_idempotency_key(db: &DatabaseConnection) {
    let catalog = catalog_network(db, "ethereum_mainnet").await;
    let a = seed_tenant(db, "tenant-a", catalog).await;
    let txn = TenantTxn::begin(db, a.tenant_id).await.unwrap();
    txn.insert(alert_row(a.monitor_id, "k1")).await.unwrap();
    let err = txn.insert(alert_row(a.monitor_id, "k1")).await.unwrap_err();
    assert!(is_unique_violation(&err), "{err}");
}

async fn tenant_owned_rows_need_a_tenant(db: &DatabaseConnection) {
    tenant(db, "tenant-a").await;
    let txn = SystemTxn::begin(db).await.unwrap();
    // Bypassing the helper (which always sets it), a row without tenant_id is refused.
    let err = entities::tenant_monitors::Entity::insert(monitor_row("Orphan"))
        .exec(txn.conn())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("tenant_id"), "{text}");
    assert!(
        text.contains("not-null") || text.contains("NOT NULL"),
        "{text}"
    );
}

#[tokio::test]
async fn audit_logs_are_append_only_on_both_backends() {
    let pg = postgres_db().await;
    let (sqlite, _dir) = sqlite_db().await;
    for db in [&pg, &sqlite] {
        let catalog = catalog_network(db, "ethereum_mainnet").await;
        let a = seed_tenant(db, "tenant-a", catalog).await;
        let txn = TenantTxn::begin(db, a.tenant_id).await.unwrap();
        let err = txn
            .update_many::<entities::audit_logs::Entity>()
            .col_expr(
                entities::audit_logs::Column::Action,
                sea_orm::sea_query::Expr::value("edited"),
            )
            .exec(txn.conn())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
        txn.rollback().await.unwrap();
        let txn = TenantTxn::begin(db, a.tenant_id).await.unwrap();
        let err = txn
            .delete_many::<entities::audit_logs::Entity>()
            .exec(txn.conn())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
    }
}
