//! The Redis transport, over `fred`.

use std::time::Duration;

use fred::prelude::*;
use fred::types::streams::{XCapKind, XCapTrim, XID};
use fred::types::{CustomCommand, Expiration, SetOptions};

use crate::keys::Keys;
use crate::{Bus, BusError, StreamEntry, Subscription};

/// How long connecting, and each health round trip, may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a waiting stream reader looks again (reads do not hold a connection
/// blocked, so one connection serves every reader of the process).
const POLL: Duration = Duration::from_millis(50);

const RENEW: &str = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";
const RELEASE: &str = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/// Redis-backed transport.
pub struct RedisBus {
    client: Client,
    config: Config,
    keys: Keys,
}

fn build(config: &Config) -> Result<Client, BusError> {
    Builder::from_config(config.clone())
        .with_connection_config(|c| {
            c.connection_timeout = CONNECT_TIMEOUT;
            c.internal_command_timeout = CONNECT_TIMEOUT;
        })
        .set_policy(ReconnectPolicy::new_exponential(0, 100, 5_000, 2))
        .build()
        .map_err(|e| BusError::InvalidUrl(e.to_string()))
}

async fn init(client: &Client) -> Result<(), BusError> {
    match tokio::time::timeout(CONNECT_TIMEOUT, client.init()).await {
        Ok(Ok(_task)) => Ok(()),
        Ok(Err(e)) => Err(BusError::Unreachable(e.to_string())),
        Err(_) => Err(BusError::Unreachable(format!(
            "no answer within {CONNECT_TIMEOUT:?}"
        ))),
    }
}

fn entry_id(seq: u64) -> String {
    format!("{seq}-0")
}

fn parse_entry(
    stream: &str,
    id: String,
    mut fields: std::collections::HashMap<String, Vec<u8>>,
) -> Result<StreamEntry, BusError> {
    let seq = id
        .split('-')
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| BusError::Malformed(stream.to_owned()))?;
    let payload = fields
        .remove("d")
        .ok_or_else(|| BusError::Malformed(stream.to_owned()))?;
    Ok(StreamEntry { seq, payload })
}

impl RedisBus {
    /// Connects and checks the server answers; fails fast rather than retrying forever,
    /// so a wrong `REDIS_URL` is one clear error at start.
    pub async fn connect(url: &str, keys: Keys) -> Result<Self, BusError> {
        let config = Config::from_url(url).map_err(|e| BusError::InvalidUrl(e.to_string()))?;
        let client = build(&config)?;
        init(&client).await?;
        let bus = Self {
            client,
            config,
            keys,
        };
        bus.ping().await?;
        Ok(bus)
    }

    async fn read_once(
        &self,
        stream: &str,
        after: u64,
        count: usize,
    ) -> Result<Vec<StreamEntry>, BusError> {
        let values: Vec<(String, std::collections::HashMap<String, Vec<u8>>)> = self
            .client
            .xrange_values(
                stream,
                format!("({}", entry_id(after)),
                "+",
                Some(count as u64),
            )
            .await?;
        values
            .into_iter()
            .map(|(id, fields)| parse_entry(stream, id, fields))
            .collect()
    }
}

#[async_trait::async_trait]
impl Bus for RedisBus {
    fn kind(&self) -> &'static str {
        "redis"
    }

    fn keys(&self) -> &Keys {
        &self.keys
    }

    async fn ping(&self) -> Result<(), BusError> {
        let ping = self.client.ping::<String>(None);
        match tokio::time::timeout(CONNECT_TIMEOUT, ping).await {
            Ok(result) => result.map(drop).map_err(BusError::from),
            Err(_) => Err(BusError::Timeout(CONNECT_TIMEOUT)),
        }
    }

    async fn incr(&self, key: &str, ttl: Duration) -> Result<u64, BusError> {
        // INCR then PEXPIRE NX in one transaction: the window starts with its first hit.
        let tx = self.client.multi();
        let _: () = tx.incr(key).await?;
        let _: () = tx
            .pexpire(
                key,
                ttl.as_millis() as i64,
                Some(fred::types::ExpireOptions::NX),
            )
            .await?;
        let (count, _): (u64, i64) = tx.exec(true).await?;
        Ok(count)
    }

    async fn stream_append(
        &self,
        stream: &str,
        seq: u64,
        payload: &[u8],
        max_len: usize,
    ) -> Result<(), BusError> {
        let result: Result<String, fred::error::Error> = self
            .client
            .xadd(
                stream,
                false,
                (
                    XCapKind::MaxLen,
                    XCapTrim::AlmostExact,
                    max_len.max(1) as i64,
                ),
                XID::Manual(entry_id(seq).into()),
                vec![("d", payload.to_vec())],
            )
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.details().contains("equal or smaller") => {
                let last = self.stream_last(stream).await?.map_or(0, |e| e.seq);
                Err(BusError::Conflict {
                    stream: stream.to_owned(),
                    seq,
                    last,
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn stream_read(
        &self,
        stream: &str,
        after: u64,
        count: usize,
        wait: Duration,
    ) -> Result<Vec<StreamEntry>, BusError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let found = self.read_once(stream, after, count).await?;
            if !found.is_empty() || tokio::time::Instant::now() + POLL > deadline {
                return Ok(found);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn stream_last(&self, stream: &str) -> Result<Option<StreamEntry>, BusError> {
        let values: Vec<(String, std::collections::HashMap<String, Vec<u8>>)> = self
            .client
            .xrevrange_values(stream, "+", "-", Some(1))
            .await?;
        values
            .into_iter()
            .next()
            .map(|(id, f)| parse_entry(stream, id, f))
            .transpose()
    }

    async fn lease_acquire(
        &self,
        key: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, BusError> {
        let set: Option<String> = self
            .client
            .set(
                key,
                holder,
                Some(Expiration::PX(ttl.as_millis() as i64)),
                Some(SetOptions::NX),
                false,
            )
            .await?;
        if set.is_some() {
            return Ok(true);
        }
        self.lease_renew(key, holder, ttl).await
    }

    async fn lease_renew(&self, key: &str, holder: &str, ttl: Duration) -> Result<bool, BusError> {
        let renewed: i64 = self
            .client
            .eval(
                RENEW,
                vec![key],
                vec![holder.to_owned(), ttl.as_millis().to_string()],
            )
            .await?;
        Ok(renewed == 1)
    }

    async fn lease_release(&self, key: &str, holder: &str) -> Result<(), BusError> {
        let _: i64 = self
            .client
            .eval(RELEASE, vec![key], vec![holder.to_owned()])
            .await?;
        Ok(())
    }

    async fn lease_holder(&self, key: &str) -> Result<Option<String>, BusError> {
        Ok(self.client.get(key).await?)
    }

    async fn publish(&self, channel: &str, payload: &[u8]) -> Result<(), BusError> {
        let _: i64 = self.client.publish(channel, payload.to_vec()).await?;
        Ok(())
    }

    async fn subscribe(&self, channel: &str) -> Result<Subscription, BusError> {
        // A connection of its own: a subscribed connection takes no other commands. It is
        // named after the channel (CLIENT LIST shows who listens where).
        let subscriber = build(&self.config)?;
        init(&subscriber).await?;
        let _: Result<(), _> = subscriber
            .custom(
                CustomCommand::new_static("CLIENT", None, false),
                vec!["SETNAME", channel],
            )
            .await;
        let mut messages = subscriber.message_rx();
        let mut reconnects = subscriber.reconnect_rx();
        subscriber.subscribe(channel).await?;
        let (tx, rx) = tokio::sync::mpsc::channel(4096);
        let channel = channel.to_owned();
        tokio::spawn(async move {
            use tokio::sync::broadcast::error::RecvError;
            loop {
                tokio::select! {
                    message = messages.recv() => match message {
                        Ok(message) => {
                            let bytes: Vec<u8> = message.value.convert().unwrap_or_default();
                            if tx.send(bytes).await.is_err() {
                                break;
                            }
                        }
                        Err(RecvError::Lagged(_)) => continue,
                        Err(RecvError::Closed) => break,
                    },
                    // The client reconnects by itself but forgets its subscriptions:
                    // subscribe again (what was published meanwhile is lost; readers of
                    // channels catch up from the database or streams).
                    reconnected = reconnects.recv() => match reconnected {
                        Ok(_) | Err(RecvError::Lagged(_)) => {
                            if let Err(e) = subscriber.subscribe(channel.as_str()).await {
                                tracing::warn!(channel, error = %e, "resubscribing after a reconnect failed");
                            }
                        }
                        Err(RecvError::Closed) => break,
                    },
                    _ = tx.closed() => break,
                }
            }
            let _ = subscriber.quit().await;
        });
        Ok(Subscription::new(rx))
    }

    async fn set_value(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<(), BusError> {
        let _: () = self
            .client
            .set(
                key,
                value.to_vec(),
                ttl.map(|t| Expiration::PX(t.as_millis() as i64)),
                None,
                false,
            )
            .await?;
        Ok(())
    }

    async fn get_value(&self, key: &str) -> Result<Option<Vec<u8>>, BusError> {
        Ok(self.client.get(key).await?)
    }

    async fn scan_values(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, BusError> {
        let mut cursor = "0".to_owned();
        let mut keys: Vec<String> = Vec::new();
        loop {
            let (next, page): (String, Vec<String>) = self
                .client
                .custom(
                    CustomCommand::new_static("SCAN", None, false),
                    vec![
                        cursor.clone(),
                        "MATCH".into(),
                        format!("{prefix}*"),
                        "COUNT".into(),
                        "500".into(),
                    ],
                )
                .await?;
            keys.extend(page);
            if next == "0" {
                break;
            }
            cursor = next;
        }
        keys.sort();
        keys.dedup();
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let values: Vec<Option<Vec<u8>>> = self.client.mget(keys.clone()).await?;
        Ok(keys
            .into_iter()
            .zip(values)
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect())
    }
}
