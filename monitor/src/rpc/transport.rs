//! JSON-RPC 2.0 over HTTP: single calls and batches, endpoints in weight order, rotating
//! to the next on HTTP 400/408/410/429/5xx, a JSON-RPC error envelope or a network
//! error; each attempt bounded by a timeout; whole-list retries with exponential backoff.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// One RPC endpoint.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub url: String,
    /// Higher is tried first; 0 disables.
    pub weight: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    #[error("no enabled RPC endpoint")]
    NoEndpoint,
    #[error("{url}: HTTP {status}")]
    Http { url: String, status: u16 },
    #[error("{url}: {reason}")]
    Network { url: String, reason: String },
    #[error("{method}: JSON-RPC error {code}: {message}")]
    Rpc {
        method: String,
        code: i64,
        message: String,
    },
    #[error("{method}: malformed response: {reason}")]
    Malformed { method: String, reason: String },
    #[error("every endpoint failed; last: {0}")]
    Exhausted(Box<RpcError>),
}

impl RpcError {
    /// A JSON-RPC "method not found" (or unsupported) answer.
    pub fn is_unsupported(&self) -> bool {
        match self {
            RpcError::Rpc { code, message, .. } => {
                *code == -32601
                    || message.to_ascii_lowercase().contains("not supported")
                    || message.contains("not found")
            }
            RpcError::Exhausted(inner) => inner.is_unsupported(),
            _ => false,
        }
    }
}

/// Timeouts and retries.
#[derive(Clone, Debug)]
pub struct TransportOptions {
    pub timeout: Duration,
    /// Passes over the whole endpoint list before giving up.
    pub attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for TransportOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            attempts: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// A JSON-RPC client over a list of endpoints.
#[derive(Debug)]
pub struct Transport {
    endpoints: Vec<Endpoint>,
    http: reqwest::Client,
    options: TransportOptions,
    /// Index of the endpoint to try first (the last one that worked).
    current: AtomicUsize,
    next_id: AtomicU64,
    /// Label for metrics (the network).
    label: String,
    rotations: AtomicU64,
}

impl Transport {
    /// Endpoints with weight 0 are dropped; the rest are tried highest weight first.
    pub fn new(
        mut endpoints: Vec<Endpoint>,
        options: TransportOptions,
        label: &str,
    ) -> Result<Self, RpcError> {
        endpoints.retain(|e| e.weight > 0);
        endpoints.sort_by_key(|e| std::cmp::Reverse(e.weight));
        if endpoints.is_empty() {
            return Err(RpcError::NoEndpoint);
        }
        let http = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.timeout.min(Duration::from_secs(5)))
            .build()
            .map_err(|e| RpcError::Network {
                url: String::new(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            endpoints,
            http,
            options,
            current: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
            label: label.to_owned(),
            rotations: AtomicU64::new(0),
        })
    }

    /// How many times this transport moved to another endpoint.
    pub fn rotations(&self) -> u64 {
        self.rotations.load(Ordering::Relaxed)
    }

    /// One call.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        params: Value,
    ) -> Result<T, RpcError> {
        let mut results = self.batch(&[(method, params)]).await?;
        let value = results.pop().ok_or_else(|| RpcError::Malformed {
            method: method.into(),
            reason: "empty batch".into(),
        })??;
        decode(method, value)
    }

    /// Several calls in one HTTP request; each result in order (a JSON-RPC error for
    /// one call is that call's `Err`, not a failure of the batch).
    pub async fn batch(
        &self,
        calls: &[(&str, Value)],
    ) -> Result<Vec<Result<Value, RpcError>>, RpcError> {
        let first_id = self
            .next_id
            .fetch_add(calls.len() as u64, Ordering::Relaxed);
        let body: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(i, (method, params))| json!({"jsonrpc": "2.0", "id": first_id + i as u64, "method": method, "params": params}))
            .collect();
        let methods: Vec<&str> = calls.iter().map(|(m, _)| *m).collect();
        let mut backoff = self.options.initial_backoff;
        let mut last = RpcError::NoEndpoint;
        for attempt in 0..self.options.attempts.max(1) {
            if attempt > 0 {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(self.options.max_backoff);
            }
            for step in 0..self.endpoints.len() {
                let index = (self.current.load(Ordering::Relaxed) + step) % self.endpoints.len();
                match self
                    .send(&self.endpoints[index], &body, &methods, first_id)
                    .await
                {
                    Ok(results) => {
                        if step > 0 {
                            self.current.store(index, Ordering::Relaxed);
                        }
                        return Ok(results);
                    }
                    Err(e) => {
                        tracing::debug!(network = %self.label, endpoint = index, error = %e, "RPC endpoint failed; rotating");
                        self.rotations.fetch_add(1, Ordering::Relaxed);
                        metrics::counter!("stellar_monitor_rpc_endpoint_rotations_total", "network" => self.label.clone()).increment(1);
                        last = e;
                    }
                }
            }
        }
        Err(RpcError::Exhausted(Box::new(last)))
    }

    async fn send(
        &self,
        endpoint: &Endpoint,
        body: &[Value],
        methods: &[&str],
        first_id: u64,
    ) -> Result<Vec<Result<Value, RpcError>>, RpcError> {
        let started = Instant::now();
        let method_label = if methods.len() == 1 {
            methods[0].to_owned()
        } else {
            "batch".to_owned()
        };
        let outcome = |ok: &str| {
            metrics::counter!("stellar_monitor_rpc_requests_total",
                "network" => self.label.clone(), "method" => method_label.clone(), "outcome" => ok.to_owned())
            .increment(1);
            metrics::histogram!("stellar_monitor_rpc_request_duration_seconds", "network" => self.label.clone())
                .record(started.elapsed().as_secs_f64());
        };
        let payload = if body.len() == 1 {
            body[0].clone()
        } else {
            Value::Array(body.to_vec())
        };
        let response = match self.http.post(&endpoint.url).json(&payload).send().await {
            Ok(r) => r,
            Err(e) => {
                outcome("network_error");
                return Err(RpcError::Network {
                    url: redact(&endpoint.url),
                    reason: e.to_string(),
                });
            }
        };
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            // 400/408/410/429/5xx and every other non-success: this endpoint is not
            // serving us now; rotate.
            outcome("http_error");
            return Err(RpcError::Http {
                url: redact(&endpoint.url),
                status,
            });
        }
        let text = match response.text().await {
            Ok(t) => t,
            Err(e) => {
                outcome("network_error");
                return Err(RpcError::Network {
                    url: redact(&endpoint.url),
                    reason: e.to_string(),
                });
            }
        };
        let parsed: Value = serde_json::from_str(&text).map_err(|e| {
            outcome("malformed");
            RpcError::Malformed {
                method: method_label.clone(),
                reason: format!("not JSON: {e}"),
            }
        })?;
        let items = match parsed {
            Value::Array(items) => items,
            single => vec![single],
        };
        let mut results: Vec<Option<Result<Value, RpcError>>> =
            (0..methods.len()).map(|_| None).collect();
        for item in items {
            let id = item.get("id").and_then(Value::as_u64);
            let slot = id
                .and_then(|id| id.checked_sub(first_id))
                .map(|i| i as usize)
                .filter(|i| *i < methods.len());
            let Some(slot) = slot.or(if methods.len() == 1 { Some(0) } else { None }) else {
                outcome("malformed");
                return Err(RpcError::Malformed {
                    method: method_label,
                    reason: format!("response id {id:?} matches no request"),
                });
            };
            let method = methods[slot];
            results[slot] = Some(match (item.get("error"), item.get("result")) {
                (Some(err), _) if !err.is_null() => Err(RpcError::Rpc {
                    method: method.to_owned(),
                    code: err.get("code").and_then(Value::as_i64).unwrap_or(0),
                    message: err
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("(no message)")
                        .to_owned(),
                }),
                (_, Some(result)) => Ok(result.clone()),
                _ => Err(RpcError::Malformed {
                    method: method.to_owned(),
                    reason: "neither result nor error".into(),
                }),
            });
        }
        let results: Vec<Result<Value, RpcError>> = results
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                r.unwrap_or_else(|| {
                    Err(RpcError::Malformed {
                        method: methods[i].to_owned(),
                        reason: "no response for this call".into(),
                    })
                })
            })
            .collect();
        // A server that fails every call of the request (rate limiting in a JSON-RPC
        // envelope, an overloaded node) is a failing endpoint: rotate.
        if results
            .iter()
            .all(|r| matches!(r, Err(RpcError::Rpc { code, .. }) if is_server_side(*code)))
        {
            outcome("rpc_error");
            return Err(results
                .into_iter()
                .next()
                .and_then(Result::err)
                .unwrap_or(RpcError::NoEndpoint));
        }
        outcome("ok");
        Ok(results)
    }
}

/// JSON-RPC error codes that speak of the server, not of the call.
fn is_server_side(code: i64) -> bool {
    matches!(
        code,
        -32603 | -32005 | -32000 | -32001 | -32002 | -32003 | -32004
    ) || (-32099..=-32006).contains(&code)
}

/// Decodes a result into `T` with the method in the error.
pub fn decode<T: DeserializeOwned>(method: &str, value: Value) -> Result<T, RpcError> {
    if value.is_null() {
        return Err(RpcError::Malformed {
            method: method.into(),
            reason: "null result".into(),
        });
    }
    serde_json::from_value(value).map_err(|e| RpcError::Malformed {
        method: method.into(),
        reason: e.to_string(),
    })
}

/// An endpoint URL for logs: query strings and user info (API keys) removed.
fn redact(url: &str) -> String {
    let base = url.split(['?', '#']).next().unwrap_or(url);
    match base.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
            let host = host.split('/').next().unwrap_or(host);
            format!("{scheme}://{host}")
        }
        None => "<endpoint>".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_endpoint_secrets() {
        assert_eq!(
            redact("https://user:key@rpc.example/v2/abc123?apikey=x"),
            "https://rpc.example"
        );
        assert_eq!(redact("http://127.0.0.1:8545"), "http://127.0.0.1:8545");
    }

    #[test]
    fn weight_zero_is_disabled_and_order_is_by_weight() {
        let t = Transport::new(
            vec![
                Endpoint {
                    url: "http://a".into(),
                    weight: 10,
                },
                Endpoint {
                    url: "http://b".into(),
                    weight: 0,
                },
                Endpoint {
                    url: "http://c".into(),
                    weight: 90,
                },
            ],
            TransportOptions::default(),
            "n",
        )
        .unwrap();
        let urls: Vec<&str> = t.endpoints.iter().map(|e| e.url.as_str()).collect();
        assert_eq!(urls, ["http://c", "http://a"]);
        assert!(matches!(
            Transport::new(
                vec![Endpoint {
                    url: "http://b".into(),
                    weight: 0
                }],
                TransportOptions::default(),
                "n"
            ),
            Err(RpcError::NoEndpoint)
        ));
    }
}
