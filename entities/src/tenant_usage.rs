//! `tenant_usage`: per-day counters behind the alerts- and notifications-per-day quotas.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant_usage")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    /// UTC day, `YYYY-MM-DD` (text so both PostgreSQL and SQLite compare it the same way).
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: String,
    pub alerts: i64,
    pub notifications: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
