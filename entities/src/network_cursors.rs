//! `network_cursors`: the last block a watcher published per network, so a restart or a
//! takeover resumes with no gap and no duplicate.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "network_cursors")]
pub struct Model {
    /// The stream key of the network (catalog slug, or the private network's id).
    #[sea_orm(primary_key, auto_increment = false)]
    pub network_key: String,
    pub block_number: i64,
    pub block_hash: String,
    /// Position in the network's block stream of this block's message.
    pub stream_seq: i64,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
