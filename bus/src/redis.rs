//! The Redis transport, over `fred`.

use std::time::Duration;

use fred::prelude::*;

use crate::keys::Keys;
use crate::{Bus, BusError};

/// How long connecting, and each health round trip, may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Redis-backed transport.
pub struct RedisBus {
    client: Client,
    keys: Keys,
}

impl RedisBus {
    /// Connects and checks the server answers; fails fast rather than retrying forever,
    /// so a wrong `REDIS_URL` is one clear error at start.
    pub async fn connect(url: &str, keys: Keys) -> Result<Self, BusError> {
        let config = Config::from_url(url).map_err(|e| BusError::InvalidUrl(e.to_string()))?;
        let client = Builder::from_config(config)
            .with_connection_config(|c| {
                c.connection_timeout = CONNECT_TIMEOUT;
                c.internal_command_timeout = CONNECT_TIMEOUT;
            })
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 5_000, 2))
            .build()
            .map_err(|e| BusError::InvalidUrl(e.to_string()))?;
        match tokio::time::timeout(CONNECT_TIMEOUT, client.init()).await {
            Ok(Ok(_task)) => {}
            Ok(Err(e)) => return Err(BusError::Unreachable(e.to_string())),
            Err(_) => {
                return Err(BusError::Unreachable(format!(
                    "no answer within {CONNECT_TIMEOUT:?}"
                )));
            }
        }
        let bus = Self { client, keys };
        bus.ping().await?;
        Ok(bus)
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

    async fn ping(&self) -> Result<(), BusError> {
        let ping = self.client.ping::<String>(None);
        match tokio::time::timeout(CONNECT_TIMEOUT, ping).await {
            Ok(result) => result.map(drop).map_err(BusError::from),
            Err(_) => Err(BusError::Timeout(CONNECT_TIMEOUT)),
        }
    }
}
