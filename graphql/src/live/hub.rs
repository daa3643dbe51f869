//! The fan-out of live events inside one API process. One hub per process listens on the
//! bus's alerts, deliveries and progress channels and hands each event to the
//! subscriptions it concerns through a bounded buffer per subscription. Publishers never
//! wait on subscribers: a full buffer cuts that subscriber's connection off (it resumes
//! from its last cursor), and nobody else notices.
//!
//! Alerts are not taken from the bus events themselves: an event only wakes the hub,
//! which reads the tenant's alerts after the last one it handed out (ids grow in the
//! order alerts become visible, per tenant: see the worker's alert writer). So a lost
//! or reordered event never loses or reorders an alert, and a periodic check of each
//! followed tenant's newest id catches what no event announced.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bus::events::{AlertCreated, BlockProcessed, DeliveryChanged};
use entities::{SystemTxn, alerts};
use sea_orm::sea_query::{Alias, Expr, Order, Query, UnionType};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    FromQueryResult, QueryFilter, QueryOrder, QuerySelect,
};
use tokio::sync::{mpsc, watch};
use uuid::Uuid;

/// Tenants per database read of the hub (bounded statements; SQLite allows at most 500
/// members in a compound SELECT).
const QUERY_TENANTS: usize = 200;

/// Tuning of live feeds.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    /// Server keep-alive messages on idle connections (`ping` / `ka`).
    pub keepalive: Duration,
    /// A write to a client that takes longer than this closes its connection.
    pub write_timeout: Duration,
    /// A connection that has not initialised within this is closed (4408).
    pub init_timeout: Duration,
    /// Events buffered per subscription before its connection is cut off.
    pub buffer: usize,
    /// How often followed tenants' newest alert ids are checked (catches lost events).
    pub poll: Duration,
    /// How often this replica shares its subscription counts (per-tenant quotas hold
    /// across replicas), and how long a share lives.
    pub share: Duration,
    /// Alerts read per query.
    pub page: u64,
    /// How often an open connection's credentials are checked again: an expired token,
    /// a revoked key or a removed member closes it (4401 / 4403) within this.
    pub reauth: Duration,
    /// Open websocket connections this process accepts; more are refused (503) so a
    /// flood cannot exhaust its memory.
    pub max_connections: u64,
}

impl Default for LiveOptions {
    fn default() -> Self {
        Self {
            keepalive: Duration::from_secs(15),
            write_timeout: Duration::from_secs(10),
            init_timeout: Duration::from_secs(10),
            buffer: 1_024,
            poll: Duration::from_secs(2),
            share: Duration::from_secs(5),
            page: 500,
            reauth: Duration::from_secs(60),
            max_connections: 20_000,
        }
    }
}

/// Why the server closes a websocket connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseReason {
    pub code: u16,
    pub reason: String,
}

/// Close code: the subscriber did not keep up and its buffer filled.
pub const CLOSE_SLOW_CONSUMER: u16 = 4008;

/// One websocket connection, as subscriptions see it: they can ask for it to be closed,
/// and they count themselves against its limit.
#[derive(Debug)]
pub struct Connection {
    close: watch::Sender<Option<CloseReason>>,
    active: AtomicU64,
}

impl Default for Connection {
    fn default() -> Self {
        Self {
            close: watch::channel(None).0,
            active: AtomicU64::new(0),
        }
    }
}

impl Connection {
    /// Asks the connection to close (the first reason wins).
    pub fn close(&self, code: u16, reason: impl Into<String>) {
        let reason = reason.into();
        self.close.send_if_modified(|current| {
            if current.is_some() {
                return false;
            }
            *current = Some(CloseReason { code, reason });
            true
        });
    }

    /// Resolves when the connection was asked to close.
    pub async fn closed(&self) -> CloseReason {
        let mut rx = self.close.subscribe();
        loop {
            if let Some(r) = rx.borrow_and_update().clone() {
                return r;
            }
            if rx.changed().await.is_err() {
                // The sender lives in `self`: unreachable while we borrow it.
                std::future::pending::<()>().await;
            }
        }
    }

    /// Subscriptions open on this connection.
    pub fn active(&self) -> u64 {
        self.active.load(Ordering::Relaxed)
    }
}

/// A subscriber's end of its buffer.
struct Sink<T> {
    id: u64,
    tx: mpsc::Sender<Arc<T>>,
    conn: Arc<Connection>,
}

/// Subscribers by key.
struct Fanout<K, T> {
    sinks: HashMap<K, Vec<Sink<T>>>,
}

impl<K: std::hash::Hash + Eq + Clone, T> Fanout<K, T> {
    fn new() -> Self {
        Self {
            sinks: HashMap::new(),
        }
    }

    fn add(&mut self, key: K, sink: Sink<T>) {
        self.sinks.entry(key).or_default().push(sink);
    }

    fn remove(&mut self, key: &K, id: u64) {
        if let Some(list) = self.sinks.get_mut(key) {
            list.retain(|s| s.id != id);
            if list.is_empty() {
                self.sinks.remove(key);
            }
        }
    }

    fn has(&self, key: &K) -> bool {
        self.sinks.contains_key(key)
    }

    /// Hands `item` to every subscriber of `key`; a full buffer closes its connection
    /// and drops it.
    fn push(&mut self, key: &K, item: &Arc<T>, what: &str) {
        let Some(list) = self.sinks.get_mut(key) else {
            return;
        };
        list.retain(|s| match s.tx.try_send(item.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                metrics::counter!("stellar_monitor_live_subscriptions_cut_total", "feed" => what.to_owned())
                    .increment(1);
                s.conn.close(
                    CLOSE_SLOW_CONSUMER,
                    format!(
                        "subscriber too slow: {} {what} events waiting; reconnect with your last cursor",
                        s.tx.max_capacity()
                    ),
                );
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        });
        if list.is_empty() {
            self.sinks.remove(key);
        }
    }
}

/// Alert subscribers of one tenant, and the newest alert id handed to them.
struct Tail {
    last: i64,
}

struct AlertState {
    fanout: Fanout<Uuid, alerts::Model>,
    tails: HashMap<Uuid, Tail>,
}

struct Inner {
    db: DatabaseConnection,
    bus: Arc<dyn bus::Bus>,
    options: LiveOptions,
    /// This replica's name in shared subscription counts.
    replica: String,
    next_id: AtomicU64,
    alerts: tokio::sync::Mutex<AlertState>,
    deliveries: Mutex<Fanout<Uuid, DeliveryChanged>>,
    progress: Mutex<Fanout<String, BlockProcessed>>,
    /// Open subscriptions per tenant, here and (last shared) on the other replicas.
    local: Mutex<HashMap<Uuid, u64>>,
    remote: Mutex<HashMap<Uuid, u64>>,
    started: std::sync::Once,
    /// Set when the process shuts down: every connection closes with 1001.
    going_away: watch::Sender<bool>,
    /// Open websocket connections.
    connections: AtomicU64,
}

/// The process's hub. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

/// A live subscription's buffer; dropping it unsubscribes and releases its quota.
///
/// Only reachable through [`Registration::recv`], so a stream holding it holds the whole
/// registration (a closure capturing just a public receiver field would drop the guard
/// and unsubscribe at once).
pub struct Registration<T> {
    rx: mpsc::Receiver<Arc<T>>,
    _guard: Guard,
}

impl<T> Registration<T> {
    /// The next event; `None` once the hub dropped this subscription (connection cut).
    pub async fn recv(&mut self) -> Option<Arc<T>> {
        self.rx.recv().await
    }

    /// Closes the subscription's connection (the client resumes from its cursor).
    pub fn close(&self, code: u16, reason: &str) {
        self._guard.conn.close(code, reason);
    }
}

/// What an alert subscription starts from.
pub struct AlertRegistration {
    pub live: Registration<alerts::Model>,
    /// Every alert of the tenant up to this id is stored and readable; every later one
    /// arrives on `live`, in order.
    pub watermark: i64,
}

enum Feed {
    Alerts(Uuid),
    Deliveries(Uuid),
    Progress(String),
}

struct Guard {
    hub: Hub,
    tenant: Uuid,
    conn: Arc<Connection>,
    id: u64,
    feed: Feed,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let inner = &self.hub.inner;
        self.conn.active.fetch_sub(1, Ordering::Relaxed);
        if let Some(n) = inner.local.lock().expect("lock").get_mut(&self.tenant) {
            *n = n.saturating_sub(1);
        }
        metrics::gauge!("stellar_monitor_live_subscriptions").decrement(1.0);
        match &self.feed {
            Feed::Alerts(t) => {
                // The alert state is behind an async lock: clean up on a task (or on the
                // next push, which drops closed buffers anyway).
                let (hub, t, id) = (self.hub.clone(), *t, self.id);
                if let Ok(handle) = tokio::runtime::Handle::try_current() {
                    handle.spawn(async move {
                        let mut st = hub.inner.alerts.lock().await;
                        st.fanout.remove(&t, id);
                        if !st.fanout.has(&t) {
                            st.tails.remove(&t);
                        }
                    });
                }
            }
            Feed::Deliveries(t) => inner.deliveries.lock().expect("lock").remove(t, self.id),
            Feed::Progress(n) => inner.progress.lock().expect("lock").remove(n, self.id),
        }
    }
}

/// One counted websocket connection (see [`Hub::connect`]).
pub struct ConnectionSlot(Hub);

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.inner.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Refusals when subscribing.
#[derive(Debug, thiserror::Error)]
pub enum SubscribeError {
    #[error("this connection already has {0} live subscriptions (its limit)")]
    ConnectionLimit(u64),
    #[error("the tenant already has {0} live subscriptions (its limit)")]
    TenantLimit(u64),
    #[error(transparent)]
    Db(#[from] DbErr),
}

#[derive(FromQueryResult)]
struct Newest {
    tenant_id: Uuid,
    newest: Option<i64>,
}

impl Hub {
    pub fn new(db: DatabaseConnection, bus: Arc<dyn bus::Bus>, options: LiveOptions) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                bus,
                options,
                replica: Uuid::new_v4().simple().to_string(),
                next_id: AtomicU64::new(1),
                alerts: tokio::sync::Mutex::new(AlertState {
                    fanout: Fanout::new(),
                    tails: HashMap::new(),
                }),
                deliveries: Mutex::new(Fanout::new()),
                progress: Mutex::new(Fanout::new()),
                local: Mutex::new(HashMap::new()),
                remote: Mutex::new(HashMap::new()),
                started: std::sync::Once::new(),
                going_away: watch::channel(false).0,
                connections: AtomicU64::new(0),
            }),
        }
    }

    /// Closes every websocket connection of this process (1001, "going away"), so
    /// clients reconnect to another replica and resume from their cursors. Called when
    /// the process shuts down.
    pub fn go_away(&self) {
        self.inner.going_away.send_replace(true);
    }

    /// Counts a new websocket connection unless the process holds its maximum; the
    /// returned guard counts it out.
    pub fn connect(&self) -> Option<ConnectionSlot> {
        let inner = &self.inner;
        if inner.connections.fetch_add(1, Ordering::Relaxed) >= inner.options.max_connections {
            inner.connections.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        Some(ConnectionSlot(self.clone()))
    }

    /// Resolves once [`Hub::go_away`] was called.
    pub async fn going_away(&self) {
        let mut rx = self.inner.going_away.subscribe();
        let _ = rx.wait_for(|gone| *gone).await;
    }

    pub fn options(&self) -> &LiveOptions {
        &self.inner.options
    }

    /// Starts the hub's listeners (once; later calls do nothing). Needs a runtime.
    pub fn start(&self) {
        self.inner.started.call_once(|| {
            // Series exist from the start (0 connections is a value, not "no data").
            metrics::gauge!("stellar_monitor_live_connections").increment(0.0);
            metrics::gauge!("stellar_monitor_live_subscriptions").increment(0.0);
            let hub = self.clone();
            tokio::spawn(async move { hub.run_alerts().await });
            let hub = self.clone();
            tokio::spawn(async move {
                let channel = hub.inner.bus.keys().deliveries_channel();
                hub.listen(&channel, |hub, bytes| {
                    if let Ok(e) = serde_json::from_slice::<DeliveryChanged>(bytes) {
                        let tenant = e.tenant;
                        hub.inner.deliveries.lock().expect("lock").push(
                            &tenant,
                            &Arc::new(e),
                            "delivery",
                        );
                    }
                })
                .await
            });
            let hub = self.clone();
            tokio::spawn(async move {
                let channel = hub.inner.bus.keys().progress_channel();
                hub.listen(&channel, |hub, bytes| {
                    if let Ok(e) = serde_json::from_slice::<BlockProcessed>(bytes) {
                        let network = e.network.clone();
                        hub.inner.progress.lock().expect("lock").push(
                            &network,
                            &Arc::new(e),
                            "block",
                        );
                    }
                })
                .await
            });
            let hub = self.clone();
            tokio::spawn(async move { hub.share_counts().await });
        });
    }

    /// Reads `channel` forever (resubscribing after the bus drops it), handing each
    /// message to `handle`. Only holds a weak interest: ends when the hub is gone.
    async fn listen(&self, channel: &str, handle: impl Fn(&Hub, &[u8])) {
        loop {
            match self.inner.bus.subscribe(channel).await {
                Ok(mut sub) => {
                    while let Some(bytes) = sub.recv().await {
                        handle(self, &bytes);
                    }
                }
                Err(e) => tracing::warn!(channel, error = %e, "subscribing to live events failed"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    fn guard(&self, tenant: Uuid, conn: &Arc<Connection>, feed: Feed, id: u64) -> Guard {
        Guard {
            hub: self.clone(),
            tenant,
            conn: conn.clone(),
            id,
            feed,
        }
    }

    /// Counts a new subscription against the connection's and the tenant's limits.
    fn admit(
        &self,
        tenant: Uuid,
        conn: &Arc<Connection>,
        per_connection: u64,
        per_tenant: u64,
    ) -> Result<(), SubscribeError> {
        let inner = &self.inner;
        if conn.active.fetch_add(1, Ordering::Relaxed) >= per_connection {
            conn.active.fetch_sub(1, Ordering::Relaxed);
            return Err(SubscribeError::ConnectionLimit(per_connection));
        }
        let remote = inner
            .remote
            .lock()
            .expect("lock")
            .get(&tenant)
            .copied()
            .unwrap_or(0);
        let mut local = inner.local.lock().expect("lock");
        let mine = local.entry(tenant).or_default();
        if *mine + remote >= per_tenant {
            conn.active.fetch_sub(1, Ordering::Relaxed);
            return Err(SubscribeError::TenantLimit(per_tenant));
        }
        *mine += 1;
        metrics::gauge!("stellar_monitor_live_subscriptions").increment(1.0);
        Ok(())
    }

    /// Subscribes to the tenant's new alerts. `limits`: (per connection, per tenant).
    pub async fn alerts(
        &self,
        tenant: Uuid,
        conn: &Arc<Connection>,
        limits: (u64, u64),
    ) -> Result<AlertRegistration, SubscribeError> {
        self.start();
        self.admit(tenant, conn, limits.0, limits.1)?;
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        // From here the guard undoes the admission whatever happens.
        let guard = self.guard(tenant, conn, Feed::Alerts(tenant), id);
        let (tx, rx) = mpsc::channel(self.inner.options.buffer);
        // A tenant not followed yet starts at its newest alert, read without holding the
        // hub's lock (live delivery for everyone else goes on meanwhile).
        let followed = self.inner.alerts.lock().await.tails.contains_key(&tenant);
        let newest = if followed {
            None
        } else {
            let newest = newest_ids(&self.inner.db, &[tenant]).await?;
            Some(newest.get(&tenant).copied().unwrap_or(0))
        };
        let mut st = self.inner.alerts.lock().await;
        let mut started = false;
        let watermark = st
            .tails
            .entry(tenant)
            .or_insert_with(|| {
                started = true;
                Tail {
                    last: newest.unwrap_or(0),
                }
            })
            .last;
        st.fanout.add(
            tenant,
            Sink {
                id,
                tx,
                conn: conn.clone(),
            },
        );
        drop(st);
        if started {
            // Alerts committed between reading the newest id and following the tenant
            // were announced while nobody followed it: read them now.
            let hub = self.clone();
            tokio::spawn(async move {
                if let Err(e) = hub.deliver(BTreeSet::from([tenant])).await {
                    tracing::warn!(error = %e, "reading new alerts for live feeds failed");
                }
            });
        }
        Ok(AlertRegistration {
            live: Registration { rx, _guard: guard },
            watermark,
        })
    }

    /// Subscribes to the tenant's delivery changes.
    pub fn deliveries(
        &self,
        tenant: Uuid,
        conn: &Arc<Connection>,
        limits: (u64, u64),
    ) -> Result<Registration<DeliveryChanged>, SubscribeError> {
        self.register(tenant, conn, limits, Feed::Deliveries(tenant), |sink| {
            self.inner
                .deliveries
                .lock()
                .expect("lock")
                .add(tenant, sink)
        })
    }

    /// Subscribes to the fleet's progress on the network with stream key `network`
    /// (counted against `tenant`'s limits).
    pub fn progress(
        &self,
        tenant: Uuid,
        network: String,
        conn: &Arc<Connection>,
        limits: (u64, u64),
    ) -> Result<Registration<BlockProcessed>, SubscribeError> {
        let feed = Feed::Progress(network.clone());
        self.register(tenant, conn, limits, feed, |sink| {
            self.inner.progress.lock().expect("lock").add(network, sink)
        })
    }

    /// Admits a subscription of `tenant` on `conn` (limits: per connection, per tenant)
    /// and hands its sink to `add`; the registration undoes both when dropped.
    fn register<T>(
        &self,
        tenant: Uuid,
        conn: &Arc<Connection>,
        limits: (u64, u64),
        feed: Feed,
        add: impl FnOnce(Sink<T>),
    ) -> Result<Registration<T>, SubscribeError> {
        self.start();
        self.admit(tenant, conn, limits.0, limits.1)?;
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let guard = self.guard(tenant, conn, feed, id);
        let (tx, rx) = mpsc::channel(self.inner.options.buffer);
        add(Sink {
            id,
            tx,
            conn: conn.clone(),
        });
        Ok(Registration { rx, _guard: guard })
    }

    /// Follows the alerts channel and the periodic check; hands new alerts out.
    async fn run_alerts(&self) {
        let channel = self.inner.bus.keys().alerts_channel();
        let mut poll = tokio::time::interval(self.inner.options.poll);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut sub = None;
        loop {
            if sub.is_none() {
                match self.inner.bus.subscribe(&channel).await {
                    Ok(s) => sub = Some(s),
                    Err(e) => {
                        tracing::warn!(error = %e, "subscribing to alert events failed");
                    }
                }
            }
            let mut woken = BTreeSet::new();
            tokio::select! {
                message = async {
                    match sub.as_mut() {
                        Some(s) => s.recv().await,
                        None => std::future::pending().await,
                    }
                } => match message {
                    Some(bytes) => {
                        collect(&bytes, &mut woken);
                        // Take every event already waiting: one read serves them all.
                        if let Some(s) = sub.as_mut() {
                            while let Some(bytes) = s.try_recv() {
                                collect(&bytes, &mut woken);
                                if woken.len() >= 1_000 {
                                    break;
                                }
                            }
                        }
                    }
                    None => {
                        sub = None;
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                },
                _ = poll.tick() => {
                    if let Err(e) = self.check_newest().await {
                        tracing::warn!(error = %e, "checking followed tenants' alerts failed");
                    }
                    continue;
                }
            }
            if let Err(e) = self.deliver(woken).await {
                tracing::warn!(error = %e, "reading new alerts for live feeds failed");
            }
        }
    }

    /// Finds followed tenants with alerts past what was handed out, and hands them out.
    async fn check_newest(&self) -> Result<(), DbErr> {
        let followed: Vec<(Uuid, i64)> = {
            let st = self.inner.alerts.lock().await;
            st.tails.iter().map(|(t, tail)| (*t, tail.last)).collect()
        };
        let mut behind = BTreeSet::new();
        for chunk in followed.chunks(1_000) {
            let tenants: Vec<Uuid> = chunk.iter().map(|(t, _)| *t).collect();
            let newest = newest_ids(&self.inner.db, &tenants).await?;
            for (t, last) in chunk {
                if newest.get(t).is_some_and(|n| n > last) {
                    behind.insert(*t);
                }
            }
        }
        if !behind.is_empty() {
            metrics::counter!("stellar_monitor_live_caught_up_by_poll_total")
                .increment(behind.len() as u64);
        }
        self.deliver(behind).await
    }

    /// Reads the alerts of `tenants` after each one's last handed-out id, in id order,
    /// and hands them to the tenants' subscribers.
    async fn deliver(&self, tenants: BTreeSet<Uuid>) -> Result<(), DbErr> {
        let pending: Vec<(Uuid, i64)> = {
            let st = self.inner.alerts.lock().await;
            tenants
                .into_iter()
                .filter_map(|t| st.tails.get(&t).map(|tail| (t, tail.last)))
                .collect()
        };
        for chunk in pending.chunks(QUERY_TENANTS) {
            self.deliver_some(chunk.iter().copied().collect()).await?;
        }
        Ok(())
    }

    /// [`Hub::deliver`] for a few tenants: pages of their alerts, each tenant's from its
    /// own last id (a quiet tenant never makes the read walk a busy one's history).
    async fn deliver_some(&self, mut pending: BTreeMap<Uuid, i64>) -> Result<(), DbErr> {
        let page = self.inner.options.page;
        while !pending.is_empty() {
            let from = pending.values().copied().min().unwrap_or(0);
            let after_last = pending
                .iter()
                .fold(Condition::any(), |any, (tenant, last)| {
                    any.add(
                        Condition::all()
                            .add(alerts::Column::TenantId.eq(*tenant))
                            .add(alerts::Column::Id.gt(*last)),
                    )
                });
            // System scope: the hub serves every tenant of this replica; each row goes
            // only to the subscribers of the tenant it belongs to.
            let txn = SystemTxn::begin(&self.inner.db).await?;
            let rows = alerts::Entity::find()
                .filter(after_last)
                .order_by_asc(alerts::Column::Id)
                .limit(page)
                .all(txn.conn())
                .await?;
            txn.commit().await?;
            let full = rows.len() as u64 == page;
            let upto = rows.last().map(|r| r.id);
            let mut st = self.inner.alerts.lock().await;
            for row in rows {
                let tenant = row.tenant_id;
                let Some(tail) = st.tails.get_mut(&tenant) else {
                    continue;
                };
                if row.id <= tail.last {
                    continue;
                }
                tail.last = row.id;
                st.fanout.push(&tenant, &Arc::new(row), "alert");
                if !st.fanout.has(&tenant) {
                    st.tails.remove(&tenant);
                }
            }
            drop(st);
            if !full {
                break;
            }
            // Everything of the pending tenants up to `upto` was in this page.
            let upto = upto.unwrap_or(from);
            for last in pending.values_mut() {
                *last = (*last).max(upto);
            }
        }
        Ok(())
    }

    /// Shares this replica's subscription counts and reads the others', so per-tenant
    /// limits hold across replicas (within one sharing period).
    async fn share_counts(&self) {
        let inner = &self.inner;
        let prefix = inner.bus.keys().subscription_counts();
        let key = format!("{prefix}{}", inner.replica);
        let mut tick = tokio::time::interval(inner.options.share);
        loop {
            tick.tick().await;
            let mine: HashMap<Uuid, u64> = inner
                .local
                .lock()
                .expect("lock")
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(t, n)| (*t, *n))
                .collect();
            inner.local.lock().expect("lock").retain(|_, n| *n > 0);
            let payload = serde_json::to_vec(&mine).expect("counts serialize");
            if let Err(e) = inner
                .bus
                .set_value(&key, &payload, Some(inner.options.share * 3))
                .await
            {
                tracing::debug!(error = %e, "sharing subscription counts failed");
                continue;
            }
            match inner.bus.scan_values(&prefix).await {
                Ok(values) => {
                    let mut remote: HashMap<Uuid, u64> = HashMap::new();
                    for (k, v) in values {
                        if k == key {
                            continue;
                        }
                        if let Ok(counts) = serde_json::from_slice::<HashMap<Uuid, u64>>(&v) {
                            for (t, n) in counts {
                                *remote.entry(t).or_default() += n;
                            }
                        }
                    }
                    *inner.remote.lock().expect("lock") = remote;
                }
                Err(e) => tracing::debug!(error = %e, "reading subscription counts failed"),
            }
        }
    }
}

fn collect(bytes: &[u8], woken: &mut BTreeSet<Uuid>) {
    if let Ok(e) = AlertCreated::decode(bytes) {
        woken.insert(e.tenant);
    }
}

/// The newest alert id of each of `tenants` that has alerts: one index lookup per
/// tenant (a `max(id) ... GROUP BY` over an IN list would read every alert of every
/// tenant), in one round trip per [`QUERY_TENANTS`] tenants.
async fn newest_ids(
    db: &DatabaseConnection,
    tenants: &[Uuid],
) -> Result<HashMap<Uuid, i64>, DbErr> {
    let mut out = HashMap::new();
    if tenants.is_empty() {
        return Ok(out);
    }
    let txn = SystemTxn::begin(db).await?;
    for chunk in tenants.chunks(QUERY_TENANTS) {
        let branch = |k: usize, tenant: Uuid| {
            let newest = Query::select()
                .columns([alerts::Column::TenantId, alerts::Column::Id])
                .from(alerts::Entity)
                .and_where(alerts::Column::TenantId.eq(tenant))
                .order_by(alerts::Column::Id, Order::Desc)
                .limit(1)
                .to_owned();
            Query::select()
                .column(alerts::Column::TenantId)
                .expr_as(Expr::col(alerts::Column::Id), Alias::new("newest"))
                .from_subquery(newest, Alias::new(format!("n{k}")))
                .to_owned()
        };
        let mut query = branch(0, chunk[0]);
        for (k, tenant) in chunk.iter().enumerate().skip(1) {
            query.union(UnionType::All, branch(k, *tenant));
        }
        let statement = txn.conn().get_database_backend().build(&query);
        let rows = Newest::find_by_statement(statement).all(txn.conn()).await?;
        out.extend(
            rows.into_iter()
                .filter_map(|r| Some((r.tenant_id, r.newest?))),
        );
    }
    txn.commit().await?;
    Ok(out)
}
