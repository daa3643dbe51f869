//! Live feeds over the websocket at `/graphql/ws`: the caller's tenant only (TENANCY: the
//! tenant comes from the connection's credentials, never from arguments).

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, SimpleObject, Subscription};
use chrono::{DateTime, TimeZone, Utc};
use futures::Stream;

use super::types::{Alert, Severity};
use crate::auth::principal::TenantCtx;
use crate::connection;
use crate::context::{ApiState, Perm, authorize, state};
use crate::error::{ApiError, ApiResult};
use crate::live::{Connection, SubscribeError};
use crate::quotas::quotas_of;
use crate::services::alerts::{self, AlertFilter};

/// Backlog alerts read per query when a feed resumes.
const REPLAY_PAGE: usize = 200;

pub struct Subscription;

/// What a live alert feed sends.
#[derive(SimpleObject)]
pub struct AlertFeedItem {
    /// Resume after this alert: pass it as `after` when reconnecting. The same cursor as
    /// the `alerts` query's edges; increasing within the feed.
    pub cursor: String,
    /// True for alerts written before the subscription started (the backlog after
    /// `after`), false for live ones.
    pub replayed: bool,
    pub alert: Alert,
}

#[derive(InputObject, Default)]
pub struct AlertFeedFilter {
    /// Only these monitors' alerts.
    #[graphql(default)]
    pub monitor_ids: Vec<ID>,
    /// Only alerts on these networks (the tenant's slugs).
    #[graphql(default)]
    pub networks: Vec<String>,
    /// Only alerts of these severities (e.g. `[WARNING, CRITICAL]`).
    #[graphql(default)]
    pub severities: Vec<Severity>,
}

#[derive(InputObject, Default)]
pub struct DeliveryFeedFilter {
    /// Only these statuses (`pending`, `in_progress`, `delivered`, `failed`, `dead`...).
    #[graphql(default)]
    pub statuses: Vec<String>,
    /// Only this alert's deliveries.
    pub alert_id: Option<ID>,
}

/// A delivery's status changed.
#[derive(SimpleObject)]
pub struct DeliveryUpdate {
    pub delivery_id: ID,
    pub alert_id: ID,
    pub status: String,
    /// Attempts in the current round.
    pub attempts: i32,
    pub last_error: Option<String>,
    pub at: DateTime<Utc>,
}

/// The fleet finished a block of one of the tenant's networks.
#[derive(SimpleObject)]
pub struct BlockProgress {
    /// The tenant's slug of the network.
    pub network: String,
    /// Decimal string (block numbers exceed GraphQL's 32-bit Int).
    pub block_number: String,
    pub block_hash: String,
    /// When the watcher published the block.
    pub published_at: Option<DateTime<Utc>>,
    /// When monitors had been evaluated on it and alerts written.
    pub processed_at: DateTime<Utc>,
    /// From publication to processed, in milliseconds.
    pub latency_ms: Option<i64>,
}

fn millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// The websocket connection the subscription runs on.
fn connection<'a>(ctx: &Context<'a>) -> ApiResult<&'a Arc<Connection>> {
    ctx.data_opt::<Arc<Connection>>().ok_or_else(|| {
        ApiError::bad_input("subscriptions run over the websocket at /graphql/ws").into()
    })
}

/// The tenant's live subscription limits: (per connection, per tenant).
fn limits(st: &ApiState, tenant: &TenantCtx) -> (u64, u64) {
    let quotas = quotas_of(&st.plans, tenant);
    (quotas.subscriptions_per_connection, quotas.subscriptions)
}

fn refused(e: SubscribeError) -> async_graphql::Error {
    match e {
        SubscribeError::Db(e) => ApiError::internal(e).into(),
        other => ApiError::QuotaExceeded(other.to_string()).into(),
    }
}

#[Subscription]
impl Subscription {
    /// The tenant's new alerts as they are written. With `after` (the cursor of the last
    /// alert received), first every alert written since then, oldest first, then the live
    /// ones: no gap, no duplicate. A connection that cannot keep up is closed (code 4008)
    /// and resumes from its last cursor.
    #[graphql(guard = "Perm::new(\"alerts\", \"read\")")]
    async fn alerts(
        &self,
        ctx: &Context<'_>,
        filter: Option<AlertFeedFilter>,
        after: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = AlertFeedItem> + use<>> {
        let st = state(ctx).clone();
        let (_, tenant) = authorize(ctx, "alerts", "read")?;
        let tenant = tenant.clone();
        let conn = connection(ctx)?;
        let filter = filter.unwrap_or_default();
        let filter = AlertFilter {
            monitor_ids: filter
                .monitor_ids
                .iter()
                .map(|id| {
                    uuid::Uuid::try_parse(id.as_str()).map_err(|_| {
                        ApiError::bad_input(format!("monitorIds: {} is not an id", id.as_str()))
                    })
                })
                .collect::<Result<_, _>>()?,
            networks: filter.networks.iter().map(|n| n.to_lowercase()).collect(),
            severities: filter
                .severities
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect(),
            since: None,
        };
        let after = match after {
            Some(c) => Some(
                connection::decode(&c)?
                    .parse::<i64>()
                    .map_err(|_| ApiError::bad_input("invalid cursor"))?,
            ),
            None => None,
        };
        let limits = limits(&st, &tenant);
        let registration = st
            .live
            .alerts(tenant.id, conn, limits)
            .await
            .map_err(refused)?;
        let watermark = registration.watermark;
        let mut live = registration.live;
        Ok(async_stream::stream! {
            let mut last = after.unwrap_or(watermark);
            // The backlog: stored alerts after the cursor, up to where the live feed
            // starts.
            while last < watermark {
                // Boxed: the read's future exists only while it runs, not in every
                // live subscription's state.
                let page = match Box::pin(alerts::alerts_between(&st, &tenant, &filter, last, watermark, REPLAY_PAGE)).await {
                    Ok(page) => page,
                    Err(e) => {
                        tracing::warn!(error = ?e, "reading an alert backlog failed");
                        live.close(1011, "reading the backlog failed; reconnect with your last cursor");
                        return;
                    }
                };
                let done = page.len() < REPLAY_PAGE;
                for alert in page {
                    last = alert.id;
                    yield item(alert, true);
                }
                if done {
                    last = last.max(watermark);
                }
            }
            while let Some(alert) = live.recv().await {
                if alert.id <= last {
                    continue;
                }
                last = alert.id;
                if filter.matches(&alert) {
                    yield item(Arc::unwrap_or_clone(alert), false);
                }
            }
        })
    }

    /// The tenant's deliveries as their status changes (live only).
    #[graphql(guard = "Perm::new(\"deliveries\", \"read\")")]
    async fn delivery_updated(
        &self,
        ctx: &Context<'_>,
        filter: Option<DeliveryFeedFilter>,
    ) -> async_graphql::Result<impl Stream<Item = DeliveryUpdate> + use<>> {
        let st = state(ctx).clone();
        let (_, tenant) = authorize(ctx, "deliveries", "read")?;
        let conn = connection(ctx)?;
        let filter = filter.unwrap_or_default();
        let alert_id = match &filter.alert_id {
            Some(id) => Some(super::int_id(id)?),
            None => None,
        };
        let statuses = filter.statuses;
        let limits = limits(&st, tenant);
        let live = st
            .live
            .deliveries(tenant.id, conn, limits)
            .map_err(refused)?;
        Ok(async_stream::stream! {
            let mut live = live;
            while let Some(e) = live.recv().await {
                if alert_id.is_some_and(|a| a != e.alert_id)
                    || (!statuses.is_empty() && !statuses.contains(&e.status))
                {
                    continue;
                }
                yield DeliveryUpdate {
                    delivery_id: ID(e.delivery.to_string()),
                    alert_id: ID(e.alert_id.to_string()),
                    status: e.status.clone(),
                    attempts: e.attempts,
                    last_error: e.last_error.clone(),
                    at: millis(e.at_ms),
                };
            }
        })
    }

    /// The fleet's progress on one of the tenant's networks: each block once its
    /// monitors were evaluated (for dashboards; live only).
    #[graphql(guard = "Perm::new(\"networks\", \"read\")")]
    async fn block_processed(
        &self,
        ctx: &Context<'_>,
        network: String,
    ) -> async_graphql::Result<impl Stream<Item = BlockProgress> + use<>> {
        let st = state(ctx).clone();
        let (_, tenant) = authorize(ctx, "networks", "read")?;
        let conn = connection(ctx)?;
        let key = crate::services::networks::stream_key(&st, tenant, &network).await?;
        let slug = network.to_lowercase();
        let limits = limits(&st, tenant);
        let live = st
            .live
            .progress(tenant.id, key, conn, limits)
            .map_err(refused)?;
        Ok(async_stream::stream! {
            let mut live = live;
            // Several workers finish each block (one per share of the tenants): report
            // a block once.
            let mut seen: std::collections::VecDeque<(u64, String)> = Default::default();
            while let Some(e) = live.recv().await {
                let this = (e.block_number, e.block_hash.clone());
                if seen.contains(&this) {
                    continue;
                }
                if seen.len() == 256 {
                    seen.pop_front();
                }
                seen.push_back(this);
                yield BlockProgress {
                    network: slug.clone(),
                    block_number: e.block_number.to_string(),
                    block_hash: e.block_hash.clone(),
                    published_at: e.published_at_ms.map(millis),
                    processed_at: millis(e.processed_at_ms),
                    latency_ms: e.published_at_ms.map(|p| (e.processed_at_ms - p).max(0)),
                };
            }
        })
    }
}

fn item(alert: entities::alerts::Model, replayed: bool) -> AlertFeedItem {
    AlertFeedItem {
        cursor: connection::encode(&alert.id.to_string()),
        replayed,
        alert: Alert::from(alert),
    }
}
