//! Quotas hold under concurrency: 50 concurrent creates with room for 5: exactly 5 win.

use serde_json::json;

use crate::gql::{code, monitor};
use crate::helpers::{TestApp, spawn_app, spawn_app_sqlite};

async fn only_room_for_five(app: &TestApp) {
    let owner = app.owner("quota").await;
    app.network(&owner, "eth").await;
    // The free plan allows 10 monitors: fill 5.
    for i in 0..5 {
        let r = app
            .create_monitor(&owner, monitor(&format!("existing {i}"), "eth", &[]))
            .await;
        assert!(r["data"]["createMonitor"]["monitor"].is_object(), "{r}");
    }
    let attempts = (0..50).map(|i| {
        let owner = owner.clone();
        async move {
            app.create_monitor(&owner, monitor(&format!("concurrent {i}"), "eth", &[]))
                .await
        }
    });
    let results = futures::future::join_all(attempts).await;
    let created = results
        .iter()
        .filter(|r| r["data"]["createMonitor"]["monitor"].is_object())
        .count();
    let refused: Vec<_> = results.iter().filter_map(code).collect();
    assert_eq!(created, 5, "{results:#?}");
    assert_eq!(refused.len(), 45);
    assert!(
        refused.iter().all(|c| *c == "QUOTA_EXCEEDED"),
        "{refused:?}"
    );
    let usage = app
        .gql(
            &owner,
            "{ usage { monitors quotas { monitors } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        usage["data"]["usage"],
        json!({"monitors": "10", "quotas": {"monitors": "10"}})
    );
}

#[tokio::test]
async fn concurrent_creates_never_exceed_the_quota_on_postgres() {
    only_room_for_five(&spawn_app().await).await;
}

#[tokio::test]
async fn concurrent_creates_never_exceed_the_quota_on_sqlite() {
    only_room_for_five(&spawn_app_sqlite().await).await;
}

#[tokio::test]
async fn requests_beyond_the_rate_limit_are_refused_with_retry_after() {
    let app = spawn_app().await;
    let owner = app.owner("busy").await;
    // Tighten the tenant's limit through a quota override.
    let txn = entities::SystemTxn::begin(&app.db).await.unwrap();
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    entities::tenants::Entity::update_many()
        .col_expr(
            entities::tenants::Column::QuotaOverrides,
            sea_orm::sea_query::Expr::value(json!({"api_requests_per_minute": 5})),
        )
        .filter(entities::tenants::Column::Slug.eq("busy"))
        .exec(txn.conn())
        .await
        .unwrap();
    txn.commit().await.unwrap();
    let mut limited = None;
    for _ in 0..20 {
        let r = app.gql(&owner, "{ tenant { slug } }", json!({})).await;
        if code(&r) == Some("RATE_LIMITED") {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("the 6th request in a minute is limited");
    let retry = r["errors"][0]["extensions"]["retryAfter"].as_u64().unwrap();
    assert!((1..=60).contains(&retry), "{r}");
}
