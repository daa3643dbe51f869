//! The delivery outbox: `deliveries` rows (one per alert and trigger, written with the
//! alert) worked by delivery loops on every worker.
//!
//! - A loop claims due rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL) by marking them
//!   `in_progress` with a lease; a loop that dies mid-send leaves the lease to expire and
//!   another loop sends again — with the same `X-Alert-Id`, so receivers deduplicate
//!   (at-least-once delivery).
//! - Failures worth retrying follow the trigger's `retry_policy` (exponential backoff
//!   with jitter), then a longer schedule (up to about a day) before the delivery is
//!   `dead`; refusals that retrying cannot fix make it `dead` at once. Every attempt is
//!   recorded. Dead deliveries are redelivered on request (API).
//! - Per tenant: a rate limit per minute (over it, deliveries wait for the next minute)
//!   and the plan's notifications per day (over it, deliveries are `skipped`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bus::Bus;
use chrono::{DateTime, SubsecRound, Utc};
use entities::secrets::Sealer;
use entities::{
    SystemTxn, alerts, deliveries, delivery_attempts, tenant_triggers, tenant_usage, tenants,
};
use futures::StreamExt;
use monitor::config::{Jitter, RetryPolicy, Trigger, TriggerConfig};
use policies::{Plans, QuotaOverrides};
use rand::Rng;
use sea_orm::sea_query::{Alias, Expr, LockBehavior, LockType, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, DatabaseConnection,
    DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::notify::payload::{self, ChannelSettings, Prepared};
use crate::notify::send::{self, Outcome, SendSettings};

/// After the trigger's own retries: about a day of further attempts.
pub fn default_long_schedule() -> Vec<Duration> {
    [
        60, 300, 900, 1_800, 3_600, 7_200, 14_400, 14_400, 14_400, 14_400, 14_400,
    ]
    .into_iter()
    .map(Duration::from_secs)
    .collect()
}

#[derive(Clone, Debug)]
pub struct OutboxOptions {
    /// Deliveries claimed at once (at most `concurrency`: every claimed delivery is sent
    /// at once, so each finishes well within its lease).
    pub batch: usize,
    /// Sends in flight at once.
    pub concurrency: usize,
    /// How long a claim lasts; an unfinished claim is taken over after it.
    pub lease: Duration,
    /// Pause when nothing is due (new alerts wake the loop earlier).
    pub poll: Duration,
    /// Delays after the trigger's retry policy is used up; then the delivery is dead.
    pub long_schedule: Vec<Duration>,
    /// Notifications per tenant per minute.
    pub tenant_per_minute: u64,
    pub channels: ChannelSettings,
    pub send: SendSettings,
    /// Script triggers: the sandbox, and whether host scripts may run.
    pub scripts: crate::scripts::ScriptSettings,
}

impl Default for OutboxOptions {
    fn default() -> Self {
        Self {
            batch: 16,
            concurrency: 16,
            lease: Duration::from_secs(60),
            poll: Duration::from_millis(200),
            long_schedule: default_long_schedule(),
            tenant_per_minute: 600,
            channels: ChannelSettings::default(),
            send: SendSettings::default(),
            scripts: crate::scripts::ScriptSettings::default(),
        }
    }
}

#[derive(Clone)]
pub struct OutboxContext {
    pub db: DatabaseConnection,
    pub bus: Arc<dyn Bus>,
    pub sealer: Arc<Sealer>,
    pub plans: Arc<Plans>,
    pub options: OutboxOptions,
}

pub use bus::events::DeliveryChanged;

/// The id receivers see in `X-Alert-Id`: stable for an alert, however often it is sent.
pub fn public_alert_id(tenant: Uuid, idempotency_key: &str) -> String {
    let digest = Sha256::digest(format!("{tenant}:{idempotency_key}").as_bytes());
    hex::encode(&digest[..16])
}

/// The delay before the next attempt after `failures` failed attempts in this round, or
/// `None` when the schedule is used up (dead).
pub fn next_delay(
    failures: u32,
    policy: &RetryPolicy,
    long: &[Duration],
    rng: &mut impl Rng,
) -> Option<Duration> {
    if failures == 0 {
        return Some(Duration::ZERO);
    }
    if failures <= policy.max_retries {
        let base = f64::from(policy.base_for_backoff.max(1));
        let exp = policy.initial_backoff.as_secs_f64() * base.powi(failures as i32 - 1);
        let capped = exp.min(policy.max_backoff.as_secs_f64()).max(0.0);
        let delay = match policy.jitter {
            Jitter::Full => rng.gen_range(0.0..=capped),
            Jitter::None => capped,
        };
        return Some(Duration::from_secs_f64(delay));
    }
    long.get((failures - policy.max_retries - 1) as usize)
        .copied()
}

fn retry_policy(trigger: &Trigger) -> RetryPolicy {
    match &trigger.config {
        TriggerConfig::Slack(c) => c.retry_policy,
        TriggerConfig::Discord(c) => c.retry_policy,
        TriggerConfig::Telegram(c) => c.retry_policy,
        TriggerConfig::Email(c) => c.retry_policy,
        TriggerConfig::Webhook(c) => c.retry_policy,
        TriggerConfig::Script(c) => c.retry_policy,
    }
    .unwrap_or_default()
}

/// Runs until `shutdown`, delivering whatever is due.
pub async fn run(ctx: OutboxContext, shutdown: CancellationToken) {
    // Series exist from the start (a rate over "no series" is no rate at all).
    for channel in CHANNELS {
        metrics::counter!("stellar_monitor_delivery_dead_total", "channel" => channel).increment(0);
    }
    let client = send::http_client(&ctx.options.send);
    let mut wake = ctx
        .bus
        .subscribe(&ctx.bus.keys().alerts_channel())
        .await
        .ok();
    while !shutdown.is_cancelled() {
        match claim(&ctx).await {
            Ok(batch) if !batch.is_empty() => {
                let mut subjects = match load(&ctx, &batch).await {
                    Ok(s) => s,
                    Err(e) => {
                        // The claims expire and are retried.
                        tracing::warn!(error = %e, "loading claimed deliveries failed");
                        tokio::time::sleep(ctx.options.poll).await;
                        continue;
                    }
                };
                let work: Vec<(deliveries::Model, Option<Subject>)> = batch
                    .into_iter()
                    .map(|d| {
                        let s = subjects.remove(&d.id);
                        (d, s)
                    })
                    .collect();
                futures::stream::iter(work)
                    .for_each_concurrent(ctx.options.concurrency.max(1), |(d, subject)| {
                        let (ctx, client) = (&ctx, &client);
                        async move {
                            if let Err(e) = attempt(ctx, client, d, subject).await {
                                tracing::warn!(error = %e, "recording a delivery attempt failed");
                            }
                        }
                    })
                    .await;
                continue;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "claiming deliveries failed"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = async {
                match wake.as_mut() {
                    Some(w) => { w.recv().await; }
                    None => std::future::pending::<()>().await,
                }
            } => {}
            _ = tokio::time::sleep(ctx.options.poll) => {}
        }
    }
}

/// Claims due deliveries: pending ones whose time came, and claims whose lease expired.
pub async fn claim(ctx: &OutboxContext) -> Result<Vec<deliveries::Model>, DbErr> {
    let now = Utc::now();
    let txn = SystemTxn::begin(&ctx.db).await?;
    let mut query = deliveries::Entity::find()
        .filter(
            Condition::any()
                .add(
                    Condition::all()
                        .add(deliveries::Column::Status.eq("pending"))
                        .add(deliveries::Column::NextAttemptAt.lte(now)),
                )
                .add(
                    Condition::all()
                        .add(deliveries::Column::Status.eq("in_progress"))
                        .add(deliveries::Column::LockedUntil.lt(now)),
                ),
        )
        .order_by_asc(deliveries::Column::NextAttemptAt)
        .limit(ctx.options.batch.min(ctx.options.concurrency).max(1) as u64);
    if ctx.db.get_database_backend() == DatabaseBackend::Postgres {
        query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let rows = query.all(txn.conn()).await?;
    if rows.is_empty() {
        txn.commit().await?;
        return Ok(rows);
    }
    // The lease's end is also the claim's token (whole milliseconds, so it compares
    // equal after a round trip through either database).
    let until =
        (now + chrono::Duration::from_std(ctx.options.lease).unwrap_or_default()).trunc_subsecs(3);
    deliveries::Entity::update_many()
        .col_expr(deliveries::Column::Status, Expr::value("in_progress"))
        .col_expr(deliveries::Column::LockedUntil, Expr::value(until))
        .col_expr(deliveries::Column::UpdatedAt, Expr::value(now))
        .filter(deliveries::Column::Id.is_in(rows.iter().map(|d| d.id)))
        .exec(txn.conn())
        .await?;
    txn.commit().await?;
    Ok(rows
        .into_iter()
        .map(|mut d| {
            d.locked_until = Some(until);
            d
        })
        .collect())
}

/// What one attempt needs besides the delivery.
struct Subject {
    alert: alerts::Model,
    trigger: Option<tenant_triggers::Model>,
    notifications_per_day: u64,
    sent_today: u64,
}

/// Loads what the claimed deliveries need, in a handful of queries for the batch.
async fn load(
    ctx: &OutboxContext,
    batch: &[deliveries::Model],
) -> Result<HashMap<Uuid, Subject>, DbErr> {
    let alert_ids: Vec<i64> = batch.iter().map(|d| d.alert_id).collect();
    let trigger_ids: Vec<Uuid> = batch.iter().map(|d| d.trigger_id).collect();
    let tenant_ids: Vec<Uuid> = batch.iter().map(|d| d.tenant_id).collect();
    let txn = SystemTxn::begin(&ctx.db).await?;
    let c = txn.conn();
    let alerts: HashMap<(Uuid, i64), alerts::Model> = alerts::Entity::find()
        .filter(alerts::Column::Id.is_in(alert_ids))
        .all(c)
        .await?
        .into_iter()
        .map(|a| ((a.tenant_id, a.id), a))
        .collect();
    let triggers: HashMap<(Uuid, Uuid), tenant_triggers::Model> = tenant_triggers::Entity::find()
        .filter(tenant_triggers::Column::Id.is_in(trigger_ids))
        .all(c)
        .await?
        .into_iter()
        .map(|t| ((t.tenant_id, t.id), t))
        .collect();
    let tenants: HashMap<Uuid, tenants::Model> = tenants::Entity::find()
        .filter(tenants::Column::Id.is_in(tenant_ids.clone()))
        .all(c)
        .await?
        .into_iter()
        .map(|t| (t.id, t))
        .collect();
    let usage: HashMap<Uuid, i64> = tenant_usage::Entity::find()
        .filter(tenant_usage::Column::TenantId.is_in(tenant_ids))
        .filter(tenant_usage::Column::Day.eq(Utc::now().format("%Y-%m-%d").to_string()))
        .all(c)
        .await?
        .into_iter()
        .map(|u| (u.tenant_id, u.notifications))
        .collect();
    txn.commit().await?;
    let mut out = HashMap::new();
    for d in batch {
        let (Some(alert), Some(tenant)) = (
            alerts.get(&(d.tenant_id, d.alert_id)),
            tenants.get(&d.tenant_id),
        ) else {
            continue;
        };
        let notifications_per_day = ctx
            .plans
            .get(&tenant.plan)
            .map(|q| {
                let o: QuotaOverrides = tenant
                    .quota_overrides
                    .clone()
                    .and_then(|j| serde_json::from_value(j).ok())
                    .unwrap_or_default();
                q.with_overrides(&o).notifications_per_day
            })
            .unwrap_or(0);
        out.insert(
            d.id,
            Subject {
                alert: alert.clone(),
                trigger: triggers.get(&(d.tenant_id, d.trigger_id)).cloned(),
                notifications_per_day,
                sent_today: usage.get(&d.tenant_id).map_or(0, |n| (*n).max(0) as u64),
            },
        );
    }
    Ok(out)
}

/// The channel name of a trigger row, for metrics.
/// The trigger types deliveries go out on (metric labels).
const CHANNELS: [&str; 6] = ["webhook", "slack", "discord", "telegram", "email", "script"];

fn channel(t: Option<&tenant_triggers::Model>) -> String {
    t.map_or_else(|| "unknown".to_owned(), |t| t.trigger_type.clone())
}

async fn attempt(
    ctx: &OutboxContext,
    client: &reqwest::Client,
    d: deliveries::Model,
    subject: Option<Subject>,
) -> Result<(), DbErr> {
    let Some(subject) = subject else {
        // The alert or tenant is gone (cascades will remove the row too).
        return finish(
            ctx,
            &d,
            "skipped",
            None,
            Some("the alert no longer exists".into()),
            None,
        )
        .await;
    };
    if subject.sent_today >= subject.notifications_per_day {
        return finish(
            ctx,
            &d,
            "skipped",
            None,
            Some(format!(
                "the plan's {} notifications per day are used up",
                subject.notifications_per_day
            )),
            None,
        )
        .await;
    }
    // Per-tenant rate: over the limit, wait for the next minute (not an attempt).
    let minute = (Utc::now().timestamp() / 60) as u64;
    let key = ctx
        .bus
        .keys()
        .rate_limit(&format!("notify:{}", d.tenant_id), minute);
    if let Ok(n) = ctx.bus.incr(&key, Duration::from_secs(60)).await
        && n > ctx.options.tenant_per_minute
    {
        metrics::counter!("stellar_monitor_delivery_deferred_total").increment(1);
        let next =
            DateTime::<Utc>::from_timestamp(((minute + 1) * 60) as i64, 0).unwrap_or_else(Utc::now);
        return reschedule(ctx, &d, next).await;
    }
    let channel = channel(subject.trigger.as_ref());
    let started_at = Utc::now();
    let started = Instant::now();
    let (outcome, policy) = match prepare(ctx, &subject) {
        Err(error) => (
            Outcome::Permanent {
                status: None,
                error,
            },
            RetryPolicy::default(),
        ),
        Ok((prepared, policy)) => {
            let alert_id = public_alert_id(d.tenant_id, &subject.alert.idempotency_key);
            let send = async {
                match &prepared {
                    Prepared::Http(req) => send::http(client, req, &ctx.options.send).await,
                    Prepared::Email(m) => send::email(m, &alert_id, &ctx.options.send).await,
                    Prepared::Script {
                        language,
                        source,
                        arguments,
                        timeout_ms,
                    } => {
                        script_trigger(
                            *language,
                            source,
                            arguments,
                            *timeout_ms,
                            &subject.alert.payload,
                            &ctx.options.scripts,
                        )
                        .await
                    }
                }
            };
            // Whatever a receiver does, one attempt ends: a hung peer must not hold the
            // loop.
            let limit = ctx.options.send.timeout * 2 + Duration::from_secs(1);
            let outcome =
                tokio::time::timeout(limit, send)
                    .await
                    .unwrap_or_else(|_| Outcome::Retryable {
                        status: None,
                        error: format!("no answer within {limit:?}"),
                        retry_after: None,
                    });
            (outcome, policy)
        }
    };
    let duration = started.elapsed();
    metrics::counter!("stellar_monitor_delivery_attempts_total",
        "channel" => channel.clone(), "outcome" => outcome.label())
    .increment(1);
    metrics::histogram!("stellar_monitor_delivery_seconds", "channel" => channel.clone())
        .record(duration.as_secs_f64());
    let status = record(ctx, &d, &outcome, &policy, started_at, duration).await?;
    if status == Some("dead") {
        metrics::counter!("stellar_monitor_delivery_dead_total", "channel" => channel).increment(1);
    }
    Ok(())
}

/// Runs a script trigger: done when the script finishes; an error, a limit or a refused
/// host language is permanent (running it again would do the same).
async fn script_trigger(
    language: monitor::config::ScriptLanguage,
    source: &str,
    arguments: &[String],
    timeout_ms: u32,
    matched: &serde_json::Value,
    settings: &crate::scripts::ScriptSettings,
) -> Outcome {
    let script = match crate::scripts::Compiled::new(
        language,
        source,
        arguments.to_vec(),
        timeout_ms,
        settings,
    ) {
        Ok(s) => s,
        Err(error) => {
            return Outcome::Permanent {
                status: None,
                error,
            };
        }
    };
    match crate::scripts::run(&script, matched, settings).await {
        Ok(_) => Outcome::Delivered { status: None },
        Err(error) => Outcome::Permanent {
            status: None,
            error,
        },
    }
}

fn prepare(ctx: &OutboxContext, s: &Subject) -> Result<(Prepared, RetryPolicy), String> {
    let row = s
        .trigger
        .as_ref()
        .ok_or_else(|| "the trigger was deleted".to_owned())?;
    let mut definition = row.definition.clone();
    ctx.sealer
        .open_config(&mut definition)
        .map_err(|e| format!("cannot open the trigger's secrets: {e}"))?;
    let trigger: Trigger = serde_json::from_value(definition)
        .map_err(|e| format!("the stored trigger does not parse: {e}"))?;
    let prepared = payload::prepare(
        &trigger,
        &s.alert.payload,
        &public_alert_id(s.alert.tenant_id, &s.alert.idempotency_key),
        Utc::now().timestamp_millis(),
        &ctx.options.channels,
    )
    .map_err(|e| e.0)?;
    Ok((prepared, retry_policy(&trigger)))
}

/// Records the attempt and moves the delivery on. The update is fenced on the claim (its
/// lease end): if the lease ran out and another loop claimed the delivery meanwhile, the
/// newer claim's outcome stands.
async fn record(
    ctx: &OutboxContext,
    d: &deliveries::Model,
    outcome: &Outcome,
    policy: &RetryPolicy,
    started_at: DateTime<Utc>,
    duration: Duration,
) -> Result<Option<&'static str>, DbErr> {
    let now = Utc::now();
    let failures = d.attempts.max(0) as u32 + 1;
    let (status, next, error) = match outcome {
        Outcome::Delivered { .. } => ("delivered", None, None),
        Outcome::Permanent { error, .. } => ("dead", None, Some(error.clone())),
        Outcome::Retryable {
            error, retry_after, ..
        } => {
            match next_delay(
                failures,
                policy,
                &ctx.options.long_schedule,
                &mut rand::thread_rng(),
            ) {
                Some(delay) => {
                    let delay = retry_after.map_or(delay, |r| r.max(delay));
                    let at = now + chrono::Duration::from_std(delay).unwrap_or_default();
                    ("pending", Some(at), Some(error.clone()))
                }
                None => ("dead", None, Some(error.clone())),
            }
        }
    };
    let txn = SystemTxn::begin(&ctx.db).await?;
    delivery_attempts::Entity::insert(delivery_attempts::ActiveModel {
        tenant_id: Set(d.tenant_id),
        delivery_id: Set(d.id),
        attempt: Set(failures as i32),
        started_at: Set(started_at),
        duration_ms: Set(duration.as_millis() as i64),
        status_code: Set(outcome.status().map(i32::from)),
        error: Set(error.clone()),
        outcome: Set(outcome.label().to_owned()),
        ..Default::default()
    })
    .exec_without_returning(txn.conn())
    .await?;
    let mut update = deliveries::Entity::update_many()
        .col_expr(deliveries::Column::Status, Expr::value(status))
        .col_expr(deliveries::Column::Attempts, Expr::value(failures as i32))
        .col_expr(
            deliveries::Column::LockedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(deliveries::Column::LastError, Expr::value(error.clone()))
        .col_expr(
            deliveries::Column::LastStatusCode,
            Expr::value(outcome.status().map(i32::from)),
        )
        .col_expr(deliveries::Column::UpdatedAt, Expr::value(now));
    if let Some(at) = next {
        update = update.col_expr(deliveries::Column::NextAttemptAt, Expr::value(at));
    }
    if status == "delivered" {
        update = update.col_expr(deliveries::Column::DeliveredAt, Expr::value(now));
    }
    let done = update
        .filter(deliveries::Column::Id.eq(d.id))
        .filter(deliveries::Column::Status.eq("in_progress"))
        .filter(deliveries::Column::LockedUntil.eq(d.locked_until))
        .exec(txn.conn())
        .await?;
    if done.rows_affected == 1 && status == "delivered" {
        count_notification(&txn, d.tenant_id).await?;
    }
    txn.commit().await?;
    if done.rows_affected != 1 {
        // Another claim took it over: its result, not this one, stands.
        return Ok(None);
    }
    announce(ctx, d, status, failures as i32, error).await;
    Ok(Some(status))
}

async fn count_notification(txn: &SystemTxn, tenant: Uuid) -> Result<(), DbErr> {
    tenant_usage::Entity::insert(tenant_usage::ActiveModel {
        tenant_id: Set(tenant),
        day: Set(Utc::now().format("%Y-%m-%d").to_string()),
        alerts: Set(0),
        notifications: Set(1),
    })
    .on_conflict(
        OnConflict::columns([tenant_usage::Column::TenantId, tenant_usage::Column::Day])
            .value(
                tenant_usage::Column::Notifications,
                Expr::col((tenant_usage::Entity, tenant_usage::Column::Notifications)).add(
                    Expr::col((Alias::new("excluded"), tenant_usage::Column::Notifications)),
                ),
            )
            .to_owned(),
    )
    .exec_without_returning(txn.conn())
    .await?;
    Ok(())
}

/// Ends a delivery without an attempt (skipped).
async fn finish(
    ctx: &OutboxContext,
    d: &deliveries::Model,
    status: &str,
    code: Option<i32>,
    error: Option<String>,
    at: Option<DateTime<Utc>>,
) -> Result<(), DbErr> {
    let txn = SystemTxn::begin(&ctx.db).await?;
    let now = Utc::now();
    deliveries::Entity::update_many()
        .col_expr(deliveries::Column::Status, Expr::value(status))
        .col_expr(
            deliveries::Column::LockedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(deliveries::Column::LastError, Expr::value(error.clone()))
        .col_expr(deliveries::Column::LastStatusCode, Expr::value(code))
        .col_expr(
            deliveries::Column::NextAttemptAt,
            Expr::value(at.unwrap_or(now)),
        )
        .col_expr(deliveries::Column::UpdatedAt, Expr::value(now))
        .filter(deliveries::Column::Id.eq(d.id))
        .filter(deliveries::Column::Status.eq("in_progress"))
        .filter(deliveries::Column::LockedUntil.eq(d.locked_until))
        .exec(txn.conn())
        .await?;
    txn.commit().await?;
    announce(ctx, d, status, d.attempts, error).await;
    Ok(())
}

/// Puts a claimed delivery back to wait until `at` (not an attempt).
async fn reschedule(
    ctx: &OutboxContext,
    d: &deliveries::Model,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    finish(ctx, d, "pending", None, d.last_error.clone(), Some(at)).await
}

async fn announce(
    ctx: &OutboxContext,
    d: &deliveries::Model,
    status: &str,
    attempts: i32,
    last_error: Option<String>,
) {
    let event = DeliveryChanged {
        tenant: d.tenant_id,
        delivery: d.id,
        alert_id: d.alert_id,
        status: status.to_owned(),
        attempts,
        last_error,
        at_ms: Utc::now().timestamp_millis(),
    };
    bus::events::publish_json(&*ctx.bus, &ctx.bus.keys().deliveries_channel(), &event).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn the_schedule_backs_off_then_goes_long_then_ends() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let policy = RetryPolicy {
            max_retries: 3,
            base_for_backoff: 2,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_millis(600),
            jitter: Jitter::None,
        };
        let long = [Duration::from_secs(60), Duration::from_secs(300)];
        let delays: Vec<Option<Duration>> = (1..=6)
            .map(|n| next_delay(n, &policy, &long, &mut rng))
            .collect();
        assert_eq!(
            delays,
            vec![
                Some(Duration::from_millis(250)),
                Some(Duration::from_millis(500)),
                Some(Duration::from_millis(600)),
                Some(Duration::from_secs(60)),
                Some(Duration::from_secs(300)),
                None,
            ]
        );
        let full = RetryPolicy {
            jitter: Jitter::Full,
            ..policy
        };
        for _ in 0..1_000 {
            let d = next_delay(2, &full, &long, &mut rng).unwrap();
            assert!(d <= Duration::from_millis(500));
        }
        // The default long schedule spans about a day.
        let total: Duration = default_long_schedule().iter().sum();
        assert!(total > Duration::from_secs(23 * 3600) && total < Duration::from_secs(25 * 3600));
    }

    #[test]
    fn public_ids_are_stable_and_distinct() {
        let t = Uuid::nil();
        assert_eq!(public_alert_id(t, "k"), public_alert_id(t, "k"));
        assert_ne!(public_alert_id(t, "k"), public_alert_id(t, "k2"));
        assert_eq!(public_alert_id(t, "k").len(), 32);
    }
}
