//! `workers`: the fleet's workers as last seen, for the API and dashboards. Liveness
//! itself is decided from heartbeats on the bus, not from this table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "workers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub hostname: String,
    pub version: Option<String>,
    pub started_at: DateTimeUtc,
    pub last_heartbeat_at: DateTimeUtc,
    /// `active`, `draining` or `dead`.
    pub status: String,
    pub info: Option<Json>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
