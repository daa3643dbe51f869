//! The operational endpoints and GraphiQL, on the embedded default and on
//! PostgreSQL + Redis.

use sea_orm::EntityTrait;

use crate::helpers::{TestApp, spawn_app, spawn_app_sqlite};

async fn serves_health_graphiql_and_graphql(app: &TestApp, bus_kind: &str) {
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok");

    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["database"], "ok");
    assert_eq!(body["bus"], "ok");
    assert_eq!(body["bus_kind"], bus_kind);

    let graphiql = app.get("/graphql").await;
    assert_eq!(graphiql.status(), 200);
    let page = graphiql.text().await.unwrap();
    assert!(page.contains("graphiql"), "GraphiQL page expected");

    let answer = app.graphql("{ apiVersion }", serde_json::json!({})).await;
    assert_eq!(answer["data"]["apiVersion"], env!("CARGO_PKG_VERSION"));

    // First start bootstrapped the admin into this app's own database.
    let admins = entities::users::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(admins.len(), 1);
    assert_eq!(admins[0].email, crate::helpers::ADMIN_EMAIL);
    assert_eq!(app.redis_prefix.is_some(), bus_kind == "redis");

    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("stellar_monitor_http_requests_total"),
        "{metrics}"
    );
    assert!(metrics.contains(r#"route="/healthz""#), "{metrics}");
}

#[tokio::test]
async fn embedded_default_serves_health_and_graphiql() {
    let app = spawn_app_sqlite().await;
    serves_health_graphiql_and_graphql(&app, "memory").await;
}

#[tokio::test]
async fn postgres_and_redis_serve_health_and_graphiql() {
    let app = spawn_app().await;
    serves_health_graphiql_and_graphql(&app, "redis").await;
}

#[tokio::test]
async fn oversize_bodies_are_refused() {
    let app = spawn_app_sqlite().await;
    let body = format!(
        r#"{{"query": "{{ apiVersion }}", "x": "{}"}}"#,
        "a".repeat(2 * 1024 * 1024)
    );
    let response = app
        .http
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    // The server is still fine afterwards.
    assert_eq!(app.get("/healthz").await.status(), 200);
}
