//! `monitor_networks`: which of its tenant's networks a monitor watches. Composite
//! foreign keys on `(tenant_id, ...)` make a cross-tenant reference impossible.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "monitor_networks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub monitor_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub network_id: Uuid,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::tenant_monitors::Entity",
        from = "Column::MonitorId",
        to = "super::tenant_monitors::Column::Id"
    )]
    TenantMonitors,
    #[sea_orm(
        belongs_to = "super::tenant_networks::Entity",
        from = "Column::NetworkId",
        to = "super::tenant_networks::Column::Id"
    )]
    TenantNetworks,
}

impl Related<super::tenant_monitors::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::TenantMonitors.def()
    }
}

impl Related<super::tenant_networks::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::TenantNetworks.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
