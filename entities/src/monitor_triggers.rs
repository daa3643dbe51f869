//! `monitor_triggers`: which of its tenant's triggers a monitor fires. Composite
//! foreign keys on `(tenant_id, ...)` make a cross-tenant reference impossible.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "monitor_triggers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub monitor_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub trigger_id: Uuid,
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
        belongs_to = "super::tenant_triggers::Entity",
        from = "Column::TriggerId",
        to = "super::tenant_triggers::Column::Id"
    )]
    TenantTriggers,
}

impl Related<super::tenant_monitors::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::TenantMonitors.def()
    }
}

impl Related<super::tenant_triggers::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::TenantTriggers.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
