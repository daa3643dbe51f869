//! The schema root.

use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};

use crate::ApiState;

pub type ApiSchema = Schema<Query, EmptyMutation, EmptySubscription>;

pub fn build_schema(state: ApiState) -> ApiSchema {
    Schema::build(Query, EmptyMutation, EmptySubscription)
        .data(state)
        .limit_depth(12)
        .limit_complexity(500)
        .finish()
}

pub struct Query;

#[Object]
impl Query {
    /// The server's version.
    async fn api_version(&self) -> &'static str {
        env!("CARGO_PKG_VERSION")
    }
}
