//! `alerts`: one row per match. `id` is monotonic (the cursor of live feeds); the
//! idempotency key makes re-processing a block after a crash a no-op.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "alerts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: Uuid,
    pub monitor_id: Uuid,
    /// The monitor version that produced the match.
    pub monitor_version: i64,
    /// The tenant's network slug the block came from.
    pub network_slug: String,
    pub block_number: i64,
    pub block_hash: String,
    pub transaction_hash: Option<String>,
    /// Log index (EVM) or event index (Stellar) when the match is on one.
    pub event_index: Option<i64>,
    /// Derived from (tenant, monitor, network, block hash, transaction, event index).
    pub idempotency_key: String,
    /// The match in OZ's JSON shape (`{"EVM": {...}}` / `{"Stellar": {...}}`).
    pub payload: Json,
    pub created_at: DateTimeUtc,
    /// The monitor's severity when it fired (`info`, `warning`, `critical`).
    pub severity: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
