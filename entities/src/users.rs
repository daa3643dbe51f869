//! `users`: people who log in. Not tenant-owned: membership lives in `tenant_users`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Stored lower-cased (a check constraint enforces it) so lookups need no folding.
    pub email: String,
    /// Argon2id PHC string; never leaves the API layer.
    pub password_hash: String,
    pub display_name: Option<String>,
    /// Operator of the whole platform (its own casbin domain), not of one tenant.
    pub is_platform_admin: bool,
    pub disabled_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::tenant_users::Entity")]
    TenantUsers,
}

impl Related<super::tenant_users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::TenantUsers.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
