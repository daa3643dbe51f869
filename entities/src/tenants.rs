//! `tenants`: one customer organisation; the casbin domain and the RLS key.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// URL-safe handle used in the `X-Tenant` header; unique platform-wide.
    pub slug: String,
    pub name: String,
    /// Key into `policies/plans.toml`.
    pub plan: String,
    /// Per-tenant quota overrides on top of the plan, `{"monitors": 500, ...}`.
    pub quota_overrides: Option<Json>,
    /// `active` or `suspended`.
    pub status: String,
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
