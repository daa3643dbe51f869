//! `networks`: the platform's catalog of shared networks (one watcher each across the
//! fleet). Tenants enable them through `tenant_networks`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "networks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// OZ network slug (`[a-z0-9_]`), unique in the catalog.
    pub slug: String,
    pub name: String,
    /// `EVM` or `Stellar`.
    pub network_type: String,
    /// The network in OZ Monitor's JSON shape, RPC secrets encrypted.
    pub definition: Json,
    /// Increases on every change so watchers and workers can reconcile by version.
    pub version: i64,
    pub enabled: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
