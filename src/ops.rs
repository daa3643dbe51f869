//! Operational endpoints every process serves: `/healthz` (alive), `/readyz` (database
//! and bus answer) and `/metrics` (Prometheus text), plus the HTTP request metrics.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use sea_orm::DatabaseConnection;
use serde_json::json;

/// How long each readiness check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// What `/readyz` checks.
#[derive(Clone)]
pub struct Readiness {
    pub db: DatabaseConnection,
    pub bus: Arc<dyn bus::Bus>,
    /// The workers of this process, when it runs any: one too far behind makes the
    /// process not ready.
    pub fleet: Option<Arc<orchestrator::FleetHealth>>,
}

pub fn router(readiness: Readiness) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render_metrics))
        .with_state(readiness)
}

async fn readyz(State(r): State<Readiness>) -> Response {
    let database = match tokio::time::timeout(CHECK_TIMEOUT, r.db.ping()).await {
        Ok(Ok(())) => "ok".to_owned(),
        Ok(Err(e)) => format!("error: {e}"),
        Err(_) => "error: timed out".to_owned(),
    };
    let bus = match tokio::time::timeout(CHECK_TIMEOUT, r.bus.ping()).await {
        Ok(Ok(())) => "ok".to_owned(),
        Ok(Err(e)) => format!("error: {e}"),
        Err(_) => "error: timed out".to_owned(),
    };
    let lagging = r.fleet.as_ref().map(|f| f.lagging()).unwrap_or_default();
    let workers = r.fleet.as_ref().map(|f| {
        json!({
            "maxLag": f.max_lag,
            "workers": f.snapshot().into_values().map(|hb| json!({
                "id": hb.worker, "epoch": hb.epoch, "tenants": hb.tenants, "lag": hb.lag,
                "errors": hb.errors, "blocksProcessed": hb.blocks_processed,
            })).collect::<Vec<_>>(),
            "lagging": lagging.iter().map(|(w, n, lag)| json!({"worker": w, "network": n, "lag": lag})).collect::<Vec<_>>(),
        })
    });
    let ready = database == "ok" && bus == "ok" && lagging.is_empty();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    metrics::gauge!("stellar_monitor_process_ready").set(if ready { 1.0 } else { 0.0 });
    (
        status,
        Json(json!({
            "database": database, "bus": bus, "bus_kind": r.bus.kind(), "workers": workers,
        })),
    )
        .into_response()
}

async fn render_metrics() -> impl IntoResponse {
    (
        [("content-type", "text/plain; version=0.0.4")],
        crate::telemetry::metrics().render(),
    )
}

/// Counts requests and their latency by matched route (bounded: never the raw path).
pub async fn track_http(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("stellar_monitor_http_requests_total",
        "method" => method.clone(), "route" => route.clone(), "status" => status)
    .increment(1);
    metrics::histogram!("stellar_monitor_http_request_duration_seconds",
        "method" => method, "route" => route)
    .record(started.elapsed().as_secs_f64());
    response
}
