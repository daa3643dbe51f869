//! `tenant_networks`: a network as one tenant sees it: either a catalog network it
//! enabled (`catalog_network_id`) or a private one with its own RPC URLs (`definition`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant_networks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// The slug monitors of this tenant reference; unique per tenant, case-insensitively.
    pub slug: String,
    pub name: String,
    pub network_type: String,
    /// Set when this is an enabled catalog network (exactly one of this and `definition`).
    pub catalog_network_id: Option<Uuid>,
    /// Set for a private network: OZ network JSON, RPC URL secrets encrypted.
    pub definition: Option<Json>,
    pub version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::networks::Entity",
        from = "Column::CatalogNetworkId",
        to = "super::networks::Column::Id"
    )]
    Networks,
}

impl Related<super::networks::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Networks.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// The key of the block stream this network's blocks arrive on: the catalog slug
    /// (one stream shared by every tenant that enabled it), or `private-<id>`.
    /// `catalog_slug` is the slug of the catalog row when this is a catalog network.
    pub fn stream_key(&self, catalog_slug: Option<&str>) -> String {
        match catalog_slug {
            Some(slug) if self.catalog_network_id.is_some() => slug.to_owned(),
            _ => format!("private-{}", self.id.simple()),
        }
    }
}
