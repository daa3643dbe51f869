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

#[tokio::test]
async fn readiness_lists_the_workers_and_fails_when_one_falls_behind() {
    let app = spawn_app().await;
    // The app's own workers report in /readyz.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let body = loop {
        let body: serde_json::Value = app.get("/readyz").await.json().await.unwrap();
        if body["workers"]["workers"]
            .as_array()
            .is_some_and(|w| w.len() == 2)
        {
            break body;
        }
        assert!(std::time::Instant::now() < deadline, "{body}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(body["workers"]["maxLag"], 100);

    // A process whose worker is past the limit is not ready, and says which and where.
    let (db, _dir) = crate::helpers::sqlite_db().await;
    let fleet = std::sync::Arc::new(orchestrator::FleetHealth::new(5));
    let mut hb = orchestrator::membership::Heartbeat {
        worker: "w-slow".into(),
        hostname: "h".into(),
        started_at: chrono::Utc::now(),
        at: chrono::Utc::now(),
        draining: false,
        epoch: 3,
        tenants: 7,
        lag: [("eth".to_owned(), 6u64)].into_iter().collect(),
        errors: 0,
        blocks_processed: 10,
    };
    fleet.report(&hb);
    let router = stellar_monitor::ops::router(stellar_monitor::ops::Readiness {
        db,
        bus: bus::connect(None, "t").await.unwrap(),
        fleet: Some(fleet.clone()),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/readyz", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let r = reqwest::get(&url).await.unwrap();
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        body["workers"]["lagging"],
        serde_json::json!([{"worker": "w-slow", "network": "eth", "lag": 6}])
    );
    hb.lag.insert("eth".into(), 5);
    fleet.report(&hb);
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 200);
    app.stop().await;
}
