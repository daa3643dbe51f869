//! Row-level security holds on its own: raw SQL with no application filter, inside a
//! transaction bound to one tenant, sees and changes only that tenant's rows.

use entities::{SystemTxn, TENANT_OWNED_TABLES, TenantTxn, tenant_monitors};
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait, TransactionTrait};

use crate::fixtures::{catalog_network, monitor_row, seed_tenant};
use crate::helpers::{column_as_text, postgres_db, sqlite_db};

#[tokio::test]
async fn a_transaction_bound_to_a_tenant_sees_none_of_another_tenants_rows() {
    let db = postgres_db().await;
    let catalog = catalog_network(&db, "ethereum_mainnet").await;
    let a = seed_tenant(&db, "tenant-a", catalog).await;
    let b = seed_tenant(&db, "tenant-b", catalog).await;

    // The tables covered are exactly those the database says carry a tenant_id, so a
    // table added later without RLS fails this test.
    let mut with_tenant_id = column_as_text(
        &db,
        "SELECT table_name::text FROM information_schema.columns
         WHERE table_schema = 'public' AND column_name = 'tenant_id'",
    )
    .await;
    with_tenant_id.sort();
    let mut expected: Vec<String> = TENANT_OWNED_TABLES.iter().map(|t| t.to_string()).collect();
    expected.sort();
    assert_eq!(with_tenant_id, expected);

    for (bound, other) in [(a, b), (b, a)] {
        let txn = TenantTxn::begin(&db, bound.tenant_id).await.unwrap();
        for table in TENANT_OWNED_TABLES {
            let seen =
                column_as_text(txn.conn(), &format!("SELECT tenant_id::text FROM {table}")).await;
            assert!(
                !seen.is_empty(),
                "{table}: the bound tenant sees its own rows"
            );
            assert!(
                seen.iter().all(|t| *t == bound.tenant_id.to_string()),
                "{table}: saw another tenant's rows: {seen:?}"
            );
            assert!(!seen.contains(&other.tenant_id.to_string()));
        }
        let tenants = column_as_text(txn.conn(), "SELECT id::text FROM tenants").await;
        assert_eq!(tenants, [bound.tenant_id.to_string()]);
        txn.rollback().await.unwrap();
    }

    // A transaction that binds no tenant sees nothing: the policies fail closed.
    let unbound = db.begin().await.unwrap();
    for table in TENANT_OWNED_TABLES {
        let count = column_as_text(&unbound, &format!("SELECT count(*)::text FROM {table}")).await;
        assert_eq!(count, ["0"], "{table} visible without a tenant binding");
    }
    unbound.rollback().await.unwrap();

    // System scope, for platform work, sees both.
    let system = SystemTxn::begin(&db).await.unwrap();
    let monitors = tenant_monitors::Entity::find()
        .count(system.conn())
        .await
        .unwrap();
    assert_eq!(monitors, 2);
}

#[tokio::test]
async fn rls_refuses_writes_to_another_tenants_rows() {
    let db = postgres_db().await;
    let catalog = catalog_network(&db, "ethereum_mainnet").await;
    let a = seed_tenant(&db, "tenant-a", catalog).await;
    let b = seed_tenant(&db, "tenant-b", catalog).await;

    let txn = TenantTxn::begin(&db, a.tenant_id).await.unwrap();
    let insert = format!(
        "INSERT INTO tenant_monitors (id, tenant_id, name, paused, definition, version, created_at, updated_at)
         VALUES (gen_random_uuid(), '{}', 'sneaky', false, '{{}}', 1, now(), now())",
        b.tenant_id
    );
    let err = txn.conn().execute_unprepared(&insert).await.unwrap_err();
    assert!(err.to_string().contains("row-level security"), "{err}");
    txn.rollback().await.unwrap();

    let txn = TenantTxn::begin(&db, a.tenant_id).await.unwrap();
    let update = txn
        .conn()
        .execute_unprepared("UPDATE tenant_monitors SET name = 'renamed'")
        .await
        .unwrap();
    assert_eq!(update.rows_affected(), 1, "only tenant A's one monitor");
    let delete = txn
        .conn()
        .execute_unprepared("DELETE FROM tenant_usage")
        .await
        .unwrap();
    assert_eq!(delete.rows_affected(), 1);
    txn.commit().await.unwrap();

    let txn = TenantTxn::begin(&db, b.tenant_id).await.unwrap();
    let names = column_as_text(txn.conn(), "SELECT name FROM tenant_monitors").await;
    assert_eq!(names, ["Large transfers"], "tenant B's monitor untouched");
    let usage = column_as_text(txn.conn(), "SELECT count(*)::text FROM tenant_usage").await;
    assert_eq!(usage, ["1"], "tenant B's usage untouched");
}

#[tokio::test]
async fn the_application_role_is_subject_to_rls() {
    let db = postgres_db().await;
    let role = column_as_text(
        &db,
        "SELECT (rolsuper OR rolbypassrls)::text FROM pg_roles WHERE rolname = current_user",
    )
    .await;
    assert_eq!(role, ["false"], "tests must connect as an ordinary role");
    let unforced = column_as_text(
        &db,
        "SELECT relname::text FROM pg_class
         WHERE relname IN (SELECT table_name FROM information_schema.columns
                           WHERE table_schema = 'public' AND column_name = 'tenant_id')
           AND NOT (relrowsecurity AND relforcerowsecurity)",
    )
    .await;
    assert!(
        unforced.is_empty(),
        "tables without forced RLS: {unforced:?}"
    );
}

/// The application filter of the scoping helper, on its own (SQLite has no RLS).
#[tokio::test]
async fn the_scoping_helper_filters_by_tenant_on_sqlite() {
    let (db, _dir) = sqlite_db().await;
    let catalog = catalog_network(&db, "ethereum_mainnet").await;
    let a = seed_tenant(&db, "tenant-a", catalog).await;
    let b = seed_tenant(&db, "tenant-b", catalog).await;

    let txn = TenantTxn::begin(&db, a.tenant_id).await.unwrap();
    let mine = txn
        .select::<tenant_monitors::Entity>()
        .all(txn.conn())
        .await
        .unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].tenant_id, a.tenant_id);

    // An insert naming another tenant is re-homed to the bound tenant, never written there.
    let mut row = monitor_row("Other");
    row.tenant_id = sea_orm::ActiveValue::Set(b.tenant_id);
    let written = txn.insert(row).await.unwrap();
    assert_eq!(written.tenant_id, a.tenant_id);

    // Deletes through the helper reach only the bound tenant's rows.
    let deleted = txn
        .delete_many::<tenant_monitors::Entity>()
        .exec(txn.conn())
        .await
        .unwrap();
    assert_eq!(deleted.rows_affected, 2, "tenant A's two monitors");
    txn.commit().await.unwrap();

    let left = tenant_monitors::Entity::find().all(&db).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].tenant_id, b.tenant_id);
}
