//! The GraphQL API: schema, resolvers and the HTTP routes that serve them
//! (`POST /graphql`, `GET /graphql` for GraphiQL).

pub mod auth;
mod schema;

use std::sync::Arc;

use async_graphql::http::GraphiQLSource;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::Router;
use axum::extract::State;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use sea_orm::DatabaseConnection;

pub use schema::{ApiSchema, build_schema};

/// What every resolver can reach. Cloned per request (cheap: all handles).
#[derive(Clone)]
pub struct ApiState {
    /// The source of truth.
    pub db: DatabaseConnection,
    /// The transport to workers and other API replicas.
    pub bus: Arc<dyn bus::Bus>,
}

#[derive(Clone)]
struct RouteState {
    schema: ApiSchema,
}

/// The API's routes, ready to be merged into a process's router.
pub fn router(state: ApiState) -> Router {
    let schema = build_schema(state);
    Router::new()
        .route("/graphql", get(graphiql).post(graphql))
        .with_state(RouteState { schema })
}

async fn graphql(State(state): State<RouteState>, request: GraphQLRequest) -> GraphQLResponse {
    state.schema.execute(request.into_inner()).await.into()
}

async fn graphiql() -> impl IntoResponse {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql/ws")
            .finish(),
    )
}
