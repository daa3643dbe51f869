//! `tenant_monitors`: a tenant's monitor, stored in OZ Monitor's JSON shape.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant_monitors")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// Unique per tenant, case-insensitively (as OZ compares names).
    pub name: String,
    pub paused: bool,
    /// The OZ monitor JSON; network and trigger references are mirrored in
    /// `monitor_networks` / `monitor_triggers` so the database can check them.
    pub definition: Json,
    /// Increases on every change; workers apply configs by version.
    pub version: i64,
    /// `info`, `warning` or `critical`; copied into each alert the monitor raises.
    pub severity: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::monitor_networks::Entity")]
    MonitorNetworks,
    #[sea_orm(has_many = "super::monitor_triggers::Entity")]
    MonitorTriggers,
}

impl Related<super::monitor_networks::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::MonitorNetworks.def()
    }
}

impl Related<super::monitor_triggers::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::MonitorTriggers.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
