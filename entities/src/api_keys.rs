//! `api_keys`: credentials for scripts. The key is shown once as
//! `smk_<id>_<secret>`; only a SHA-256 of the secret is stored, looked up by `id`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// An API key belongs to exactly one tenant.
    pub tenant_id: Uuid,
    /// Whose rights bound the key's scopes (a key never exceeds its creator's role).
    pub created_by: Option<Uuid>,
    pub name: String,
    /// Hex SHA-256 of the secret part; the secret itself is never stored.
    pub secret_hash: String,
    /// `["monitors:read", ...]` or `["*"]`.
    pub scopes: Json,
    pub expires_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
    /// Updated at most once a minute per key, not on every request.
    pub last_used_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
