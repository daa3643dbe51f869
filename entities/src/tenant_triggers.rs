//! `tenant_triggers`: where a tenant's alerts go (Slack, Discord, Telegram, email,
//! webhook, script), in OZ's trigger JSON shape with secrets encrypted at rest.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant_triggers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// The key monitors reference (the map key in an OZ trigger file); unique per tenant.
    pub slug: String,
    pub name: String,
    /// `slack`, `discord`, `telegram`, `email`, `webhook` or `script`.
    pub trigger_type: String,
    pub definition: Json,
    pub version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
