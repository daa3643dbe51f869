//! The schema root: queries and mutations, each field guarded.

mod inputs;
mod mutations;
mod queries;
mod subscriptions;
pub mod types;

use async_graphql::{ID, Schema};
use uuid::Uuid;

use crate::context::ApiState;
use crate::error::ApiError;

pub use mutations::Mutation;
pub use queries::Query;
pub use subscriptions::Subscription;

pub type ApiSchema = Schema<Query, Mutation, Subscription>;

/// Deepest query accepted.
pub const MAX_DEPTH: usize = 12;
/// Most complex query accepted (fields, with connections weighted by page size).
pub const MAX_COMPLEXITY: usize = 2_000;

pub fn build_schema(state: ApiState) -> ApiSchema {
    Schema::build(Query, Mutation, Subscription)
        .data(state)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .extension(crate::live::guard::SubscriptionsOnlyOnSockets)
        .finish()
}

/// The SDL, as committed in `graphql/schema.graphql`.
pub fn sdl() -> String {
    Schema::build(Query, Mutation, Subscription).finish().sdl()
}

/// An id of ours. A malformed one is simply not found: ids reveal nothing.
pub(crate) fn uuid(id: &ID) -> Result<Uuid, ApiError> {
    Uuid::try_parse(id.as_str()).map_err(|_| ApiError::NotFound)
}

pub(crate) fn int_id(id: &ID) -> Result<i64, ApiError> {
    id.as_str().parse().map_err(|_| ApiError::NotFound)
}
