//! TENANCY: the one tenant-scoping helper. Every query on a tenant-owned table runs in a
//! [`TenantTxn`], which (1) binds the transaction to the tenant for PostgreSQL row-level
//! security with `set_config('app.tenant_id', ..., true)` — transaction-local, so a
//! pooled connection never carries one tenant's binding into another request — and
//! (2) adds the application's own `tenant_id` filter to every select, update and delete
//! it builds, and forces `tenant_id` on every insert.
//!
//! Platform work that must span tenants (the orchestrator's load figures, the outbox
//! scan, login before a tenant is known) runs in a [`SystemTxn`], which says so
//! explicitly with `app.scope = 'system'`. A transaction that binds neither sees no
//! tenant-owned row at all on PostgreSQL: the policies fail closed.

use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend,
    DatabaseTransaction, DbErr, DeleteMany, EntityTrait, IntoActiveModel, QueryFilter, Select,
    Statement, TransactionTrait, UpdateMany, Value,
};
use uuid::Uuid;

/// A table whose rows each belong to one tenant.
pub trait TenantOwned: EntityTrait {
    /// The `tenant_id` column.
    fn tenant_column() -> Self::Column;
}

macro_rules! tenant_owned {
    ($($table:ident),* $(,)?) => {
        $(impl TenantOwned for crate::$table::Entity {
            fn tenant_column() -> Self::Column {
                crate::$table::Column::TenantId
            }
        })*
    };
}

tenant_owned!(
    tenant_users,
    tenant_networks,
    tenant_monitors,
    tenant_triggers,
    monitor_networks,
    monitor_triggers,
    api_keys,
    audit_logs,
    alerts,
    deliveries,
    delivery_attempts,
    tenant_cursors,
    tenant_usage,
    invitations,
);

/// Sets a transaction-local PostgreSQL setting. SQLite has no RLS, so nothing to bind;
/// there the transaction takes the database's write lock at once instead (what
/// `BEGIN IMMEDIATE` would do): SQLite has one writer, and a transaction that read first
/// and writes later fails outright (`SQLITE_BUSY_SNAPSHOT`, no waiting) when another
/// connection wrote in between — which the API, the watchers and the workers sharing
/// one file would do all the time. Taking the lock first makes them queue instead
/// (bounded by the pool's busy timeout).
async fn bind_setting(txn: &DatabaseTransaction, name: &str, value: String) -> Result<(), DbErr> {
    if txn.get_database_backend() == DatabaseBackend::Sqlite {
        // A write that changes nothing still starts the write transaction.
        txn.execute_unprepared("UPDATE seaql_migrations SET version = version WHERE 0 = 1")
            .await?;
        return Ok(());
    }
    if txn.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    txn.execute(Statement::from_sql_and_values(
        DatabaseBackend::Postgres,
        "SELECT set_config($1, $2, true)",
        [Value::from(name.to_owned()), Value::from(value)],
    ))
    .await?;
    Ok(())
}

/// A transaction bound to one tenant. See the module documentation.
pub struct TenantTxn {
    txn: DatabaseTransaction,
    tenant_id: Uuid,
}

impl TenantTxn {
    /// Begins a transaction bound to `tenant_id`.
    pub async fn begin<C: TransactionTrait>(db: &C, tenant_id: Uuid) -> Result<Self, DbErr> {
        let txn = db.begin().await?;
        bind_setting(&txn, "app.tenant_id", tenant_id.to_string()).await?;
        Ok(Self { txn, tenant_id })
    }

    /// The tenant this transaction is bound to.
    pub fn tenant_id(&self) -> Uuid {
        self.tenant_id
    }

    /// The underlying transaction, for statements the builders below cannot express.
    /// Still bound to the tenant by row-level security on PostgreSQL; such statements
    /// must filter on `tenant_id` themselves.
    pub fn conn(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// `SELECT` over a tenant-owned table, restricted to this tenant.
    pub fn select<E: TenantOwned>(&self) -> Select<E> {
        E::find().filter(E::tenant_column().eq(self.tenant_id))
    }

    /// `UPDATE` over a tenant-owned table, restricted to this tenant.
    pub fn update_many<E: TenantOwned>(&self) -> UpdateMany<E> {
        E::update_many().filter(E::tenant_column().eq(self.tenant_id))
    }

    /// `DELETE` over a tenant-owned table, restricted to this tenant.
    pub fn delete_many<E: TenantOwned>(&self) -> DeleteMany<E> {
        E::delete_many().filter(E::tenant_column().eq(self.tenant_id))
    }

    /// Inserts a row of a tenant-owned table, with `tenant_id` forced to this tenant
    /// whatever the caller put there.
    pub async fn insert<A>(&self, mut row: A) -> Result<<A::Entity as EntityTrait>::Model, DbErr>
    where
        A: ActiveModelTrait + ActiveModelBehavior + Send,
        A::Entity: TenantOwned,
        <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
    {
        row.set(A::Entity::tenant_column(), self.tenant_id.into());
        row.insert(&self.txn).await
    }

    /// Updates one row of a tenant-owned table; the row must already be this tenant's.
    pub async fn update<A>(&self, mut row: A) -> Result<<A::Entity as EntityTrait>::Model, DbErr>
    where
        A: ActiveModelTrait + ActiveModelBehavior + Send,
        A::Entity: TenantOwned,
        <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
    {
        // Re-asserting the tenant turns a foreign row into "no row updated" rather than
        // a cross-tenant write, and RLS rejects it independently on PostgreSQL.
        row.set(A::Entity::tenant_column(), self.tenant_id.into());
        row.update(&self.txn).await
    }

    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }

    pub async fn rollback(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }
}

/// A transaction for platform work that spans tenants. See the module documentation.
pub struct SystemTxn {
    txn: DatabaseTransaction,
}

impl SystemTxn {
    /// Begins a transaction in system scope.
    pub async fn begin<C: TransactionTrait>(db: &C) -> Result<Self, DbErr> {
        let txn = db.begin().await?;
        bind_setting(&txn, "app.scope", "system".to_owned()).await?;
        Ok(Self { txn })
    }

    /// The underlying transaction.
    pub fn conn(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// Continues this transaction as one bound to `tenant_id` too, for platform work
    /// that creates a tenant and then writes its first tenant-owned rows (its owner,
    /// its audit entry) atomically.
    pub async fn into_tenant(self, tenant_id: Uuid) -> Result<TenantTxn, DbErr> {
        bind_setting(&self.txn, "app.tenant_id", tenant_id.to_string()).await?;
        Ok(TenantTxn {
            txn: self.txn,
            tenant_id,
        })
    }

    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }

    pub async fn rollback(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }
}
