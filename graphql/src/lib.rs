//! The GraphQL API: schema, resolvers, auth, guards, quotas, audit, and the HTTP routes
//! that serve them (`POST /graphql`, `GET /graphql` for GraphiQL).

pub mod audit;
pub mod auth;
pub mod connection;
pub mod context;
pub mod error;
pub mod live;
pub mod quotas;
pub mod ratelimit;
pub mod schema;
/// Sealing secrets at rest lives with the data layer; re-exported for the API's users.
pub use entities::secrets;
pub mod services;

use std::net::SocketAddr;

use async_graphql::http::GraphiQLSource;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

pub use context::{ApiState, RequestCtx};
pub use schema::{ApiSchema, build_schema, sdl};

use auth::principal::{Credentials, Resolver};
use error::ApiError;
use tracing::Instrument;

#[derive(Clone)]
pub(crate) struct RouteState {
    schema: ApiSchema,
    api: ApiState,
}

/// The API's routes, ready to be merged into a process's router. Serve the router with
/// `into_make_service_with_connect_info::<SocketAddr>()` so rate limits see addresses.
pub fn router(state: ApiState) -> Router {
    let schema = build_schema(state.clone());
    state.live.start();
    Router::new()
        .route("/graphql", get(graphiql).post(graphql))
        .route("/graphql/ws", get(live::ws::upgrade))
        .route("/alerts", get(live::page))
        .route("/alerts/app.js", get(live::script))
        .route("/alerts/app.css", get(live::style))
        .with_state(RouteState { schema, api: state })
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

pub(crate) fn credentials(
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
    request_id: &str,
) -> Credentials {
    let bearer = header(headers, "authorization").and_then(|v| {
        let (scheme, token) = v.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_owned())
    });
    Credentials {
        bearer,
        api_key: header(headers, "x-api-key"),
        tenant: header(headers, "x-tenant").map(|t| t.to_lowercase()),
        ip: peer.map(|p| p.ip().to_string()),
        request_id: Some(request_id.to_owned()),
    }
}

/// A response made of one error.
fn error_response(e: ApiError, request_id: &str) -> Response {
    let mut response = async_graphql::Response::from_errors(vec![
        async_graphql::ErrorExtensions::extend(&e).into_server_error(async_graphql::Pos::default()),
    ]);
    response.errors.iter_mut().for_each(|err| {
        err.locations.clear();
        err.extensions
            .get_or_insert_with(Default::default)
            .set("requestId", request_id);
    });
    let mut http = GraphQLResponse::from(response).into_response();
    if let Ok(v) = request_id.parse() {
        http.headers_mut().insert("x-request-id", v);
    }
    http
}

async fn graphql(
    State(route): State<RouteState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> Response {
    let request_id = uuid::Uuid::new_v4().simple().to_string();
    let span = tracing::info_span!(
        "graphql",
        request_id = %request_id,
        tenant = tracing::field::Empty,
        tenant_id = tracing::field::Empty
    );
    handle(route, peer, headers, request, request_id)
        .instrument(span)
        .await
}

async fn handle(
    route: RouteState,
    peer: SocketAddr,
    headers: HeaderMap,
    request: GraphQLRequest,
    request_id: String,
) -> Response {
    let span = tracing::Span::current();
    let creds = credentials(&headers, Some(peer), &request_id);
    let api = &route.api;
    let resolver = Resolver {
        db: &api.db,
        jwt: &api.jwt,
        usage: &api.key_usage,
    };
    let principal = match resolver.resolve(&creds).await {
        Ok(p) => p,
        Err(e) => {
            metrics::counter!("stellar_monitor_api_auth_failures_total", "reason" => "credentials")
                .increment(1);
            return error_response(e, &request_id);
        }
    };
    if let Some(t) = principal.as_ref().and_then(|p| p.tenant.as_ref()) {
        span.record("tenant", t.slug.as_str());
        span.record("tenant_id", tracing::field::display(t.id));
    }
    if let Err(e) = ratelimit::admit(api, principal.as_ref(), &creds).await {
        return error_response(e, &request_id);
    }
    let ctx = RequestCtx { creds, principal };
    let request = request.into_inner();
    let operation = request.operation_name.clone().unwrap_or_default();
    let started = std::time::Instant::now();
    let mut response = route.schema.execute(request.data(ctx)).await;
    mask_uncoded_errors(&mut response, &request_id);
    // The access log (request id and tenant come from the span).
    tracing::info!(
        operation,
        errors = response.errors.len(),
        duration_ms = started.elapsed().as_millis() as u64,
        "graphql request"
    );
    let mut http = GraphQLResponse::from(response).into_response();
    if let Ok(v) = request_id.parse() {
        http.headers_mut().insert("x-request-id", v);
    }
    http
}

/// Every error leaves with a code. Errors raised by our code carry one; errors from the
/// GraphQL layer itself (syntax, validation, limits, input coercion) are the client's
/// (BAD_USER_INPUT / GRAPHQL_VALIDATION_FAILED); anything else is masked as internal.
fn mask_uncoded_errors(response: &mut async_graphql::Response, request_id: &str) {
    for err in &mut response.errors {
        let coded = err
            .extensions
            .as_ref()
            .is_some_and(|e| e.get("code").is_some());
        if !coded {
            let request_level = err.path.is_empty();
            let input = err.message.starts_with("Failed to parse")
                || err.message.starts_with("Invalid value");
            if request_level {
                err.extensions
                    .get_or_insert_with(Default::default)
                    .set("code", "GRAPHQL_VALIDATION_FAILED");
            } else if input {
                err.extensions
                    .get_or_insert_with(Default::default)
                    .set("code", "BAD_USER_INPUT");
            } else {
                tracing::error!(request_id, error = %err.message, "uncoded error masked");
                err.message = "internal error".into();
                err.extensions
                    .get_or_insert_with(Default::default)
                    .set("code", "INTERNAL_SERVER_ERROR");
            }
        }
        err.extensions
            .get_or_insert_with(Default::default)
            .set("requestId", request_id);
    }
}

async fn graphiql() -> impl IntoResponse {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql/ws")
            .finish(),
    )
}
