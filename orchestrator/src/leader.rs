//! The orchestrator: one leader among its replicas (a lease on the bus). Each tick the
//! leader reads the live workers (heartbeats) and the tenants with active monitors and
//! their weights (the database), computes the assignment with the ring and, when it
//! differs from the published one, publishes it under the next epoch. Workers that stop
//! heartbeating drop out of the ring when their heartbeat expires, so their tenants move
//! to the survivors; only tenants that must move, move.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bus::Bus;
use chrono::Utc;
use entities::{SystemTxn, tenant_monitors, tenants, workers};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QuerySelect};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::membership::{self, Assignment, MembershipError};
use crate::ring::{self, Load, Ring};

#[derive(Clone, Debug)]
pub struct OrchestratorOptions {
    /// This replica's id (the lease holder name).
    pub id: String,
    /// How long the leader lease lives without renewal.
    pub lease_ttl: Duration,
    /// How often the leader recomputes the assignment.
    pub tick: Duration,
    pub vnodes: usize,
    pub load_factor: f64,
    /// After becoming leader, how long to wait before the first assignment, so workers
    /// starting at the same time have heartbeated (at least one worker heartbeat
    /// interval).
    pub startup_grace: Duration,
}

impl Default for OrchestratorOptions {
    fn default() -> Self {
        Self {
            id: format!("orchestrator-{}", Uuid::new_v4().simple()),
            lease_ttl: Duration::from_secs(10),
            tick: Duration::from_millis(500),
            vnodes: ring::DEFAULT_VNODES,
            load_factor: ring::DEFAULT_LOAD_FACTOR,
            startup_grace: Duration::from_secs(2),
        }
    }
}

#[derive(Clone)]
pub struct OrchestratorContext {
    pub db: DatabaseConnection,
    pub bus: Arc<dyn Bus>,
    pub options: OrchestratorOptions,
}

#[derive(Debug, thiserror::Error)]
enum TickError {
    #[error("database: {0}")]
    Db(#[from] DbErr),
    #[error("bus: {0}")]
    Bus(#[from] bus::BusError),
    #[error("{0}")]
    Membership(#[from] MembershipError),
}

/// Active tenants with at least one unpaused monitor, weighted by that count.
pub async fn tenant_loads(db: &DatabaseConnection) -> Result<Vec<Load>, DbErr> {
    let txn = SystemTxn::begin(db).await?;
    let counts: Vec<(Uuid, i64)> = tenant_monitors::Entity::find()
        .select_only()
        .column(tenant_monitors::Column::TenantId)
        .column_as(Expr::col(tenant_monitors::Column::Id).count(), "n")
        .filter(tenant_monitors::Column::Paused.eq(false))
        .group_by(tenant_monitors::Column::TenantId)
        .into_tuple()
        .all(txn.conn())
        .await?;
    let inactive: Vec<Uuid> = tenants::Entity::find()
        .select_only()
        .column(tenants::Column::Id)
        .filter(tenants::Column::Status.ne("active"))
        .into_tuple()
        .all(txn.conn())
        .await?;
    txn.commit().await?;
    Ok(counts
        .into_iter()
        .filter(|(t, _)| !inactive.contains(t))
        .map(|(tenant, n)| Load {
            tenant,
            weight: n.max(1) as u64,
        })
        .collect())
}

/// Runs until `shutdown`, leading when it holds the lease; releases it on the way out.
pub async fn run(ctx: OrchestratorContext, shutdown: CancellationToken) {
    let o = &ctx.options;
    let lease = ctx.bus.keys().orchestrator_lease();
    let mut leading = false;
    let mut leading_since = tokio::time::Instant::now();
    let mut last_live = None;
    tracing::info!(id = %o.id, "orchestrator starting");
    metrics::counter!("stellar_monitor_orchestrator_workers_lost_total").increment(0);
    loop {
        match ctx.bus.lease_acquire(&lease, &o.id, o.lease_ttl).await {
            Ok(held) => {
                if held != leading {
                    tracing::info!(id = %o.id, leading = held, "orchestrator leadership changed");
                    leading_since = tokio::time::Instant::now();
                }
                leading = held;
            }
            Err(e) => {
                tracing::warn!(error = %e, "orchestrator lease");
                leading = false;
            }
        }
        metrics::gauge!("stellar_monitor_orchestrator_leader").set(if leading { 1.0 } else { 0.0 });
        if leading
            && leading_since.elapsed() >= o.startup_grace
            && let Err(e) = tick(&ctx, &mut last_live).await
        {
            tracing::warn!(error = %e, "orchestrator tick failed");
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(o.tick) => {}
        }
    }
    if leading {
        let _ = ctx.bus.lease_release(&lease, &o.id).await;
    }
}

async fn tick(
    ctx: &OrchestratorContext,
    last_live: &mut Option<Vec<String>>,
) -> Result<(), TickError> {
    let o = &ctx.options;
    let live = membership::live(&*ctx.bus).await?;
    let active: Vec<&str> = live
        .values()
        .filter(|hb| !hb.draining)
        .map(|hb| hb.worker.as_str())
        .collect();
    let loads = tenant_loads(&ctx.db).await?;
    let owners = Ring::new(&active, o.vnodes).assign(&loads, o.load_factor);
    let current = membership::assignment(&*ctx.bus).await?.unwrap_or_default();
    metrics::gauge!("stellar_monitor_orchestrator_workers").set(active.len() as f64);
    metrics::gauge!("stellar_monitor_orchestrator_tenants").set(owners.len() as f64);
    // With no worker alive there is nobody to give tenants to: keep the assignment (its
    // workers process nothing) until one appears.
    if !active.is_empty() && owners != current.owners {
        let moved = ring::moved(&current.owners, &owners);
        let next = Assignment {
            epoch: current.epoch + 1,
            leader: o.id.clone(),
            at: Some(Utc::now()),
            owners,
        };
        membership::publish(&*ctx.bus, &next).await?;
        metrics::counter!("stellar_monitor_orchestrator_rebalances_total").increment(1);
        metrics::counter!("stellar_monitor_orchestrator_tenants_moved_total")
            .increment(moved as u64);
        let mut per_worker: BTreeMap<&str, usize> = active.iter().map(|w| (*w, 0)).collect();
        for w in next.owners.values() {
            *per_worker.entry(w.as_str()).or_default() += 1;
        }
        for (w, n) in &per_worker {
            metrics::gauge!("stellar_monitor_orchestrator_tenants_per_worker", "worker" => (*w).to_owned())
                .set(*n as f64);
        }
        tracing::info!(
            epoch = next.epoch,
            workers = active.len(),
            tenants = next.owners.len(),
            moved,
            "assignment published"
        );
    }
    // Workers whose heartbeat expired are dead for operators too (written when the
    // membership changes, not every tick).
    let ids: Vec<String> = live.keys().cloned().collect();
    if last_live.as_ref() != Some(&ids) {
        let txn = SystemTxn::begin(&ctx.db).await?;
        // Active ones were lost (crashed, killed, cut off); draining ones left cleanly.
        let lost = workers::Entity::update_many()
            .col_expr(workers::Column::Status, Expr::value("dead"))
            .filter(workers::Column::Status.eq("active"))
            .filter(workers::Column::Id.is_not_in(ids.clone()))
            .exec(txn.conn())
            .await?;
        workers::Entity::update_many()
            .col_expr(workers::Column::Status, Expr::value("dead"))
            .filter(workers::Column::Status.eq("draining"))
            .filter(workers::Column::Id.is_not_in(ids.clone()))
            .exec(txn.conn())
            .await?;
        txn.commit().await?;
        metrics::counter!("stellar_monitor_orchestrator_workers_lost_total")
            .increment(lost.rows_affected);
        *last_live = Some(ids);
    }
    Ok(())
}
