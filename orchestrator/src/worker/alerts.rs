//! Writing a block's matches: one `alerts` row per match, made idempotent by a key
//! derived from (tenant, monitor, network, block hash, transaction, event index), and one
//! `deliveries` row per trigger of each alert that is new — all in one transaction, so a
//! block re-processed after a crash or a handoff adds nothing. Daily usage counts the new
//! alerts in the same transaction. Cursors ([`save_cursors`]) only ever move forward.
//!
//! Live feeds resume from an alert id, so a tenant's alert ids must grow in the order
//! their rows become visible: writers of one tenant's alerts are serialised by a
//! per-tenant transaction lock (PostgreSQL advisory locks, taken in one sorted order so
//! two writers never deadlock; SQLite has one writer anyway). Ids are drawn while the
//! lock is held, so whatever commits later has larger ids than anything visible now.

use std::collections::BTreeMap;

use chrono::Utc;
use entities::{SystemTxn, alerts, deliveries, tenant_cursors, tenant_usage};
use sea_orm::sea_query::{Alias, Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    Statement, TryInsertResult,
};
use uuid::Uuid;

/// An alert to write.
#[derive(Clone, Debug)]
pub struct NewAlert {
    pub tenant: Uuid,
    pub monitor: Uuid,
    pub monitor_version: u64,
    /// The tenant's slug for the network.
    pub network_slug: String,
    pub block_number: u64,
    pub block_hash: String,
    pub transaction_hash: Option<String>,
    pub event_index: Option<u64>,
    pub idempotency_key: String,
    pub payload: serde_json::Value,
    /// The monitor's triggers: one delivery each.
    pub triggers: Vec<Uuid>,
    /// The monitor's severity.
    pub severity: String,
}

/// The idempotency key of a match: one alert per (monitor, network, block, transaction)
/// — a monitor matches a transaction once, whatever events or calls it matched on. The
/// tenant is part of the unique index, so it is not repeated here; the stream key (not
/// the tenant's slug) names the network, so renaming a network cannot duplicate alerts.
/// The first matched event's index is left out on purpose: it can change when the
/// monitor is edited, and a replay must produce the same key.
pub fn idempotency_key(
    monitor: Uuid,
    network_key: &str,
    block_hash: &str,
    transaction_hash: Option<&str>,
) -> String {
    format!(
        "{}:{network_key}:{}:{}",
        monitor.simple(),
        block_hash.to_ascii_lowercase(),
        transaction_hash.unwrap_or("-").to_ascii_lowercase(),
    )
}

/// Writes `batch`; returns the alerts that are new (already-known keys are skipped).
pub async fn write(
    db: &DatabaseConnection,
    batch: Vec<NewAlert>,
) -> Result<Vec<alerts::Model>, DbErr> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let now = Utc::now();
    let mut triggers: BTreeMap<(Uuid, String), Vec<Uuid>> = BTreeMap::new();
    let rows: Vec<alerts::ActiveModel> = batch
        .into_iter()
        .map(|a| {
            triggers.insert((a.tenant, a.idempotency_key.clone()), a.triggers);
            alerts::ActiveModel {
                tenant_id: Set(a.tenant),
                monitor_id: Set(a.monitor),
                monitor_version: Set(a.monitor_version as i64),
                network_slug: Set(a.network_slug),
                block_number: Set(a.block_number as i64),
                block_hash: Set(a.block_hash),
                transaction_hash: Set(a.transaction_hash),
                event_index: Set(a.event_index.map(|i| i as i64)),
                idempotency_key: Set(a.idempotency_key),
                payload: Set(a.payload),
                created_at: Set(now),
                severity: Set(a.severity),
                ..Default::default()
            }
        })
        .collect();
    let txn = SystemTxn::begin(db).await?;
    lock_tenants(&txn, triggers.keys().map(|(tenant, _)| *tenant)).await?;
    let inserted = match alerts::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([alerts::Column::TenantId, alerts::Column::IdempotencyKey])
                .do_nothing()
                .to_owned(),
        )
        .do_nothing()
        .exec_with_returning_many(txn.conn())
        .await?
    {
        TryInsertResult::Inserted(rows) => rows,
        TryInsertResult::Conflicted | TryInsertResult::Empty => Vec::new(),
    };
    let mut outbox = Vec::new();
    let mut per_tenant: BTreeMap<Uuid, i64> = BTreeMap::new();
    for alert in &inserted {
        *per_tenant.entry(alert.tenant_id).or_default() += 1;
        for trigger in triggers
            .get(&(alert.tenant_id, alert.idempotency_key.clone()))
            .into_iter()
            .flatten()
        {
            outbox.push(deliveries::ActiveModel {
                id: Set(Uuid::now_v7()),
                tenant_id: Set(alert.tenant_id),
                alert_id: Set(alert.id),
                trigger_id: Set(*trigger),
                status: Set("pending".to_owned()),
                attempts: Set(0),
                next_attempt_at: Set(now),
                locked_until: Set(None),
                last_error: Set(None),
                last_status_code: Set(None),
                delivered_at: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            });
        }
    }
    for chunk in outbox.chunks(1_000) {
        deliveries::Entity::insert_many(chunk.to_vec())
            .on_conflict(
                OnConflict::columns([
                    deliveries::Column::TenantId,
                    deliveries::Column::AlertId,
                    deliveries::Column::TriggerId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .do_nothing()
            .exec_without_returning(txn.conn())
            .await?;
    }
    let day = now.format("%Y-%m-%d").to_string();
    for (tenant, count) in per_tenant {
        tenant_usage::Entity::insert(tenant_usage::ActiveModel {
            tenant_id: Set(tenant),
            day: Set(day.clone()),
            alerts: Set(count),
            notifications: Set(0),
        })
        .on_conflict(
            OnConflict::columns([tenant_usage::Column::TenantId, tenant_usage::Column::Day])
                .value(
                    tenant_usage::Column::Alerts,
                    Expr::col((tenant_usage::Entity, tenant_usage::Column::Alerts)).add(Expr::col(
                        (Alias::new("excluded"), tenant_usage::Column::Alerts),
                    )),
                )
                .to_owned(),
        )
        .exec_without_returning(txn.conn())
        .await?;
    }
    txn.commit().await?;
    Ok(inserted)
}

/// The advisory-lock key of a tenant's alert writers (a fixed namespace folded into
/// the id, so it does not meet other advisory locks by accident).
fn alert_lock_key(tenant: Uuid) -> i64 {
    let v = tenant.as_u128();
    (((v >> 64) as u64) ^ (v as u64) ^ 0x5354_454c_4c41_5231) as i64
}

/// Serialises alert writers per tenant until the transaction ends (PostgreSQL).
async fn lock_tenants(txn: &SystemTxn, tenants: impl Iterator<Item = Uuid>) -> Result<(), DbErr> {
    if txn.conn().get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let mut keys: Vec<i64> = tenants.map(alert_lock_key).collect();
    keys.sort_unstable();
    keys.dedup();
    // `unnest` yields the array in order: every writer locks in the same order.
    txn.conn()
        .execute(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT count(pg_advisory_xact_lock(k)) FROM unnest($1::bigint[]) AS k",
            [keys.into()],
        ))
        .await?;
    Ok(())
}

/// Announces new alerts on the alerts channel (live feeds wake up on these; a lost
/// announcement is caught by their periodic check).
pub async fn announce(bus: &dyn bus::Bus, written: &[alerts::Model]) {
    for alert in written {
        let event = bus::events::AlertCreated {
            tenant: alert.tenant_id,
            alert_id: alert.id,
            monitor_id: alert.monitor_id,
            network: alert.network_slug.clone(),
            block_number: alert.block_number.max(0) as u64,
            transaction_hash: alert.transaction_hash.clone(),
        };
        bus::events::publish_json(bus, &bus.keys().alerts_channel(), &event).await;
    }
}

/// A tenant's position on a network.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    /// Stream position of the last message fully processed.
    pub seq: u64,
    pub block_number: u64,
    pub block_hash: String,
}

/// The stored cursors of `tenants` on `network_key`.
pub async fn load_cursors(
    db: &DatabaseConnection,
    network_key: &str,
    tenants: &[Uuid],
) -> Result<BTreeMap<Uuid, Cursor>, DbErr> {
    use sea_orm::{ColumnTrait, QueryFilter};
    if tenants.is_empty() {
        return Ok(BTreeMap::new());
    }
    let txn = SystemTxn::begin(db).await?;
    let rows = tenant_cursors::Entity::find()
        .filter(tenant_cursors::Column::NetworkKey.eq(network_key))
        .filter(tenant_cursors::Column::TenantId.is_in(tenants.to_vec()))
        .all(txn.conn())
        .await?;
    txn.commit().await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.tenant_id,
                Cursor {
                    seq: r.stream_seq.max(0) as u64,
                    block_number: r.block_number.max(0) as u64,
                    block_hash: r.block_hash,
                },
            )
        })
        .collect())
}

/// Forgets a tenant's position on a network.
pub async fn delete_cursor(
    db: &DatabaseConnection,
    network_key: &str,
    tenant: Uuid,
) -> Result<(), DbErr> {
    use sea_orm::{ColumnTrait, QueryFilter};
    let txn = SystemTxn::begin(db).await?;
    tenant_cursors::Entity::delete_many()
        .filter(tenant_cursors::Column::TenantId.eq(tenant))
        .filter(tenant_cursors::Column::NetworkKey.eq(network_key))
        .exec(txn.conn())
        .await?;
    txn.commit().await
}

/// Stores cursors; a stored cursor never moves back (a worker that lost a tenant and
/// flushes late cannot undo its successor's progress).
pub async fn save_cursors(
    db: &DatabaseConnection,
    network_key: &str,
    cursors: &[(Uuid, Cursor)],
) -> Result<(), DbErr> {
    if cursors.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    let txn = SystemTxn::begin(db).await?;
    for chunk in cursors.chunks(500) {
        let rows = chunk.iter().map(|(tenant, c)| tenant_cursors::ActiveModel {
            tenant_id: Set(*tenant),
            network_key: Set(network_key.to_owned()),
            block_number: Set(c.block_number as i64),
            block_hash: Set(c.block_hash.clone()),
            stream_seq: Set(c.seq as i64),
            updated_at: Set(now),
        });
        tenant_cursors::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([
                    tenant_cursors::Column::TenantId,
                    tenant_cursors::Column::NetworkKey,
                ])
                .update_columns([
                    tenant_cursors::Column::BlockNumber,
                    tenant_cursors::Column::BlockHash,
                    tenant_cursors::Column::StreamSeq,
                    tenant_cursors::Column::UpdatedAt,
                ])
                .action_and_where(
                    Expr::col((tenant_cursors::Entity, tenant_cursors::Column::StreamSeq)).lt(
                        Expr::col((Alias::new("excluded"), tenant_cursors::Column::StreamSeq)),
                    ),
                )
                .to_owned(),
            )
            .do_nothing()
            .exec_without_returning(txn.conn())
            .await?;
    }
    txn.commit().await
}
