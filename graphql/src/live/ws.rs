//! The websocket endpoint `/graphql/ws`: `graphql-transport-ws` and the legacy
//! `graphql-ws` (subscriptions-transport-ws) subprotocols. Credentials come in the
//! `connection_init` payload (`{"authorization": "Bearer …"}`, `{"apiKey": "smk_…"}`,
//! `{"tenant": "slug"}`; the upgrade request's headers are the fallback). Bad credentials
//! close with 4401, credentials without access with 4403, a rate-limited tenant with
//! 4429, no `connection_init` in time with 4408, a client that does not keep up with 4008. Idle connections get keep-alive
//! messages (`ping` / `ka`).
//!
//! The server writes through one loop per connection that also watches for a close
//! request, so a client that stopped reading is dropped even while a write is stuck.

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::Data;
use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, WebSocket, WebSocketProtocols, WsMessage};
use axum::extract::ws::{CloseFrame, Message, WebSocket as Socket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};

use super::hub::Connection;
use crate::auth::principal::{Credentials, Resolver};
use crate::context::RequestCtx;
use crate::error::ApiError;
use crate::{RouteState, credentials};

/// Largest message a client may send.
const MAX_CLIENT_MESSAGE: usize = 64 * 1024;

/// Read buffer per connection (grows for larger messages, up to MAX_CLIENT_MESSAGE).
const READ_BUFFER: usize = 4 * 1024;

/// Close codes of the graphql-transport-ws protocol (and ours).
pub const CLOSE_UNAUTHORIZED: u16 = 4401;
pub const CLOSE_FORBIDDEN: u16 = 4403;
pub const CLOSE_INIT_TIMEOUT: u16 = 4408;
/// The server is shutting down (standard code): reconnect.
pub const CLOSE_GOING_AWAY: u16 = 1001;
/// The tenant's request rate limit was reached: retry later (not a refusal).
pub const CLOSE_RATE_LIMITED: u16 = 4429;

pub(crate) async fn upgrade(
    State(route): State<RouteState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    // The protocol spoken is the one the handshake answers with (axum picks it from our
    // list among those the client offers).
    let ws = ws.protocols(ALL_WEBSOCKET_PROTOCOLS);
    let protocol = ws
        .selected_protocol()
        .and_then(|v| v.to_str().ok())
        .and_then(|p| WebSocketProtocols::from_str(p).ok());
    let Some(protocol) = protocol else {
        return (
            StatusCode::BAD_REQUEST,
            "use the graphql-transport-ws or graphql-ws websocket subprotocol",
        )
            .into_response();
    };
    let Some(slot) = route.api.live.connect() else {
        metrics::counter!("stellar_monitor_live_connections_refused_total").increment(1);
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(axum::http::header::RETRY_AFTER, "5")],
            "this replica holds its maximum of live connections; retry (another replica may have room)",
        )
            .into_response();
    };
    ws.max_message_size(MAX_CLIENT_MESSAGE)
        // Clients send small messages; the default 128 KiB read buffer, allocated up
        // front for every connection, would dominate the memory of idle subscribers.
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |socket| async move {
            serve(route, socket, protocol, peer, headers).await;
            drop(slot);
        })
}

/// Credentials from the `connection_init` payload, with the upgrade request's headers
/// behind them.
fn init_credentials(
    payload: &serde_json::Value,
    headers: &HeaderMap,
    peer: SocketAddr,
    request_id: &str,
) -> Credentials {
    let mut creds = credentials(headers, Some(peer), request_id);
    let field = |names: &[&str]| -> Option<String> {
        let object = payload.as_object()?;
        let nested = object.get("headers").and_then(|h| h.as_object());
        names.iter().find_map(|n| {
            [Some(object), nested].into_iter().flatten().find_map(|o| {
                o.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(n))
                    .and_then(|(_, v)| v.as_str())
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned)
            })
        })
    };
    // Credentials in the payload replace the headers' (a token and a key together are
    // both kept, as over HTTP).
    let token = field(&["authorization", "token", "accessToken"]);
    let key = field(&["apiKey", "x-api-key"]);
    if token.is_some() || key.is_some() {
        creds.bearer = token.map(|auth| match auth.split_once(' ') {
            Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") => t.trim().to_owned(),
            _ => auth,
        });
        creds.api_key = key;
    }
    if let Some(tenant) = field(&["tenant", "x-tenant"]) {
        creds.tenant = Some(tenant.to_lowercase());
    }
    creds
}

/// Authenticates a connection; the error's code is the close code. `first`: the
/// connection's initialisation (counted against the rate limit), not a re-check.
async fn authenticate(
    route: &RouteState,
    creds: Credentials,
    first: bool,
) -> Result<RequestCtx, (u16, String)> {
    let api = &route.api;
    if creds.bearer.is_none() && creds.api_key.is_none() {
        return Err((
            CLOSE_UNAUTHORIZED,
            "credentials required: send {\"authorization\": \"Bearer <token>\"} or {\"apiKey\": \"smk_…\"} in connection_init".into(),
        ));
    }
    let resolver = Resolver {
        db: &api.db,
        jwt: &api.jwt,
        usage: &api.key_usage,
    };
    let principal = match resolver.resolve(&creds).await {
        Ok(Some(p)) => p,
        Ok(None) | Err(ApiError::Unauthenticated) => {
            metrics::counter!("stellar_monitor_api_auth_failures_total", "reason" => "websocket")
                .increment(1);
            return Err((CLOSE_UNAUTHORIZED, "credentials invalid or expired".into()));
        }
        Err(ApiError::Internal(e)) => {
            tracing::error!(error = %e, "authenticating a websocket failed");
            return Err((1011, "internal error".into()));
        }
        Err(e) => return Err((CLOSE_FORBIDDEN, e.message())),
    };
    if principal.tenant.is_none() {
        return Err((
            CLOSE_FORBIDDEN,
            "name the tenant: {\"tenant\": \"slug\"} in connection_init".into(),
        ));
    }
    if first && let Err(e) = crate::ratelimit::admit(api, Some(&principal), &creds).await {
        let code = match e {
            ApiError::RateLimited { .. } => CLOSE_RATE_LIMITED,
            ApiError::Internal(_) => 1011,
            _ => CLOSE_FORBIDDEN,
        };
        return Err((code, e.message()));
    }
    Ok(RequestCtx {
        creds,
        principal: Some(principal),
    })
}

async fn serve(
    route: RouteState,
    socket: Socket,
    protocol: WebSocketProtocols,
    peer: SocketAddr,
    headers: HeaderMap,
) {
    let options = route.api.live.options().clone();
    let conn = Arc::new(Connection::default());
    metrics::gauge!("stellar_monitor_live_connections").increment(1.0);
    let _connected = {
        let conn = conn.clone();
        scopeguard(move || {
            metrics::gauge!("stellar_monitor_live_connections").decrement(1.0);
            // However the connection ends, its background work (the credential
            // re-check) ends with it.
            conn.close(1000, "");
        })
    };
    let (mut sink, source) = socket.split();
    let input = source
        .take_while(|m| futures::future::ready(m.is_ok()))
        .filter_map(|m| {
            futures::future::ready(match m {
                Ok(Message::Text(t)) => Some(t.as_str().as_bytes().to_vec()),
                Ok(Message::Binary(b)) => Some(b.to_vec()),
                _ => None,
            })
        });
    // Why initialisation failed, to pick the close code.
    let refused: Arc<Mutex<Option<(u16, String)>>> = Arc::default();
    let init = {
        let (route, refused, conn) = (route.clone(), refused.clone(), conn.clone());
        move |payload: serde_json::Value| async move {
            let request_id = uuid::Uuid::new_v4().simple().to_string();
            let creds = init_credentials(&payload, &headers, peer, &request_id);
            match authenticate(&route, creds.clone(), true).await {
                Ok(ctx) => {
                    tokio::spawn(recheck(route.clone(), creds, conn.clone()));
                    let mut data = Data::default();
                    data.insert(ctx);
                    data.insert(conn);
                    Ok(data)
                }
                Err((code, reason)) => {
                    *refused.lock().expect("lock") = Some((code, reason.clone()));
                    Err(async_graphql::Error::new(reason))
                }
            }
        }
    };
    let mut messages =
        WebSocket::new(route.schema.clone(), input, protocol).on_connection_init(init);
    let keepalive_text = match protocol {
        WebSocketProtocols::GraphQLWS => r#"{"type":"ping"}"#,
        WebSocketProtocols::SubscriptionsTransportWS => r#"{"type":"ka"}"#,
    };
    let mut keepalive = tokio::time::interval(options.keepalive);
    keepalive.reset();
    let init_deadline = tokio::time::sleep(options.init_timeout);
    tokio::pin!(init_deadline);
    let mut acked = false;
    let close_to = |refused: &Arc<Mutex<Option<(u16, String)>>>, code: u16, reason: String| {
        refused
            .lock()
            .expect("lock")
            .clone()
            .unwrap_or((code, reason))
    };
    let (code, reason) = loop {
        tokio::select! {
            biased;
            r = conn.closed() => break (r.code, r.reason),
            _ = route.api.live.going_away() => {
                break (CLOSE_GOING_AWAY, "server shutting down; reconnect and resume from your last cursor".into());
            }
            _ = &mut init_deadline, if !acked => {
                break (CLOSE_INIT_TIMEOUT, "connection initialisation timeout".into());
            }
            _ = keepalive.tick(), if acked => {
                match send(&mut sink, &conn, Message::Text(keepalive_text.into()), options.write_timeout).await {
                    Ok(()) => {}
                    Err(Unsent::Broken) => return,
                    Err(Unsent::Closing(code, reason)) => break (code, reason),
                }
            }
            m = messages.next() => match m {
                Some(WsMessage::Text(text)) => {
                    if !acked && text.contains(r#""connection_ack""#) {
                        acked = true;
                        keepalive.reset();
                    }
                    match send(&mut sink, &conn, Message::Text(text.into()), options.write_timeout).await {
                        Ok(()) => {}
                        Err(Unsent::Broken) => return,
                        Err(Unsent::Closing(code, reason)) => break (code, reason),
                    }
                    // The legacy protocol reports a refused init as a message; then close.
                    if let Some(r) = refused.lock().expect("lock").clone() {
                        break r;
                    }
                }
                Some(WsMessage::Close(code, reason)) => {
                    let (code, reason) = if code == 1011 && !acked {
                        (CLOSE_UNAUTHORIZED, "Unauthorized: send connection_init first".to_owned())
                    } else {
                        close_to(&refused, code, reason)
                    };
                    break (code, reason);
                }
                None => break close_to(&refused, 1000, String::new()),
            }
        }
    };
    if code != 1000 && code != 4008 {
        tracing::debug!(code, reason, "closing a websocket");
    }
    let frame = Message::Close(Some(CloseFrame {
        code,
        reason: truncate(&reason, 120).into(),
    }));
    // A client that stopped reading cannot take the close frame either: give it a moment,
    // then drop the connection.
    let _ = tokio::time::timeout(Duration::from_secs(1), sink.send(frame)).await;
}

/// Checks the connection's credentials again every `reauth` (the first time after a
/// random part of it, so connections opened together do not check together); closes the
/// connection when they no longer hold. Ends with the connection.
async fn recheck(route: RouteState, creds: Credentials, conn: Arc<Connection>) {
    let every = route.api.live.options().reauth;
    let mut wait = every.mul_f64(0.5 + rand::random::<f64>() * 0.5);
    // An access token is also checked right after it expires, past the tolerated skew
    // (it was verified at init: its `exp` claim only schedules that check).
    let leeway = Duration::from_secs(crate::auth::tokens::LEEWAY_SECS);
    let expires = creds
        .bearer
        .as_deref()
        .and_then(token_expiry)
        .map(|at| at + leeway + Duration::from_millis(200));
    loop {
        if let Some(at) = expires {
            let left = at
                .duration_since(std::time::SystemTime::now())
                .unwrap_or_default();
            wait = wait.min(left);
        }
        tokio::select! {
            _ = conn.closed() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        wait = every;
        // Boxed: the check's future (several KB) exists only while it runs, not in every
        // idle connection's task.
        match Box::pin(authenticate(&route, creds.clone(), false)).await {
            Ok(_) => {}
            // A database hiccup is not the client's fault: try again next time.
            Err((1011, _)) => {}
            Err((code, reason)) => {
                metrics::counter!("stellar_monitor_live_reauth_closed_total").increment(1);
                conn.close(code, reason);
                return;
            }
        }
    }
}

/// When a JWT expires (its `exp` claim), if it is one.
fn token_expiry(token: &str) -> Option<std::time::SystemTime> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let exp = serde_json::from_slice::<serde_json::Value>(&bytes).ok()?["exp"].as_u64()?;
    Some(std::time::UNIX_EPOCH + Duration::from_secs(exp))
}

/// Sends one message unless it takes longer than `limit` or the connection is asked to
/// close meanwhile (the caller then drops the connection).
async fn send(
    sink: &mut futures::stream::SplitSink<Socket, Message>,
    conn: &Connection,
    message: Message,
    limit: Duration,
) -> Result<(), Unsent> {
    tokio::select! {
        r = tokio::time::timeout(limit, sink.send(message)) => match r {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(Unsent::Broken),
            Err(_) => {
                metrics::counter!("stellar_monitor_live_subscriptions_cut_total", "feed" => "write_timeout").increment(1);
                Err(Unsent::Broken)
            }
        },
        r = conn.closed() => Err(Unsent::Closing(r.code, r.reason)),
    }
}

/// Why a message was not sent.
enum Unsent {
    /// The connection failed or the client stopped reading: nothing more can be sent.
    Broken,
    /// The connection was asked to close (code, reason): try to say so.
    Closing(u16, String),
}

/// A close reason fits in a control frame (125 bytes).
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Runs `f` when dropped.
fn scopeguard(f: impl FnOnce()) -> impl Drop {
    struct G<F: FnOnce()>(Option<F>);
    impl<F: FnOnce()> Drop for G<F> {
        fn drop(&mut self) {
            if let Some(f) = self.0.take() {
                f();
            }
        }
    }
    G(Some(f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_come_from_the_init_payload_first() {
        let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-tenant", "fromheader".parse().unwrap());
        let c = init_credentials(
            &serde_json::json!({"Authorization": "Bearer abc", "tenant": "Acme"}),
            &headers,
            peer,
            "r",
        );
        assert_eq!(c.bearer.as_deref(), Some("abc"));
        assert_eq!(c.tenant.as_deref(), Some("acme"));
        let c = init_credentials(
            &serde_json::json!({"headers": {"x-api-key": "smk_1_2"}}),
            &headers,
            peer,
            "r",
        );
        assert_eq!(c.api_key.as_deref(), Some("smk_1_2"));
        assert_eq!(c.bearer, None);
        assert_eq!(c.tenant.as_deref(), Some("fromheader"));
        let c = init_credentials(&serde_json::json!("junk"), &HeaderMap::new(), peer, "r");
        assert!(c.bearer.is_none() && c.api_key.is_none());
        assert_eq!(truncate("ééé", 3), "é");
    }
}
