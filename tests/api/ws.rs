//! A real websocket client for the live feeds (tokio-tungstenite), speaking
//! `graphql-transport-ws` or the legacy `graphql-ws`.

use std::net::SocketAddr;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const TRANSPORT_WS: &str = "graphql-transport-ws";
pub const LEGACY_WS: &str = "graphql-ws";

pub const ALERTS: &str = "subscription($after: String, $filter: AlertFeedFilter) { alerts(after: $after, filter: $filter) { cursor replayed alert { id monitorId network transactionHash } } }";

/// How a read ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// A close frame with this code and reason.
    Closed(u16, String),
    /// The connection ended without a close frame (or with an error).
    Dropped,
    /// Nothing arrived in time.
    Timeout,
}

pub struct Ws {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub protocol: &'static str,
}

impl Ws {
    /// Opens `/graphql/ws` on `addr` with `protocol`.
    pub async fn open(addr: SocketAddr, protocol: &'static str) -> Ws {
        Self::open_with(addr, protocol, None).await
    }

    /// Opens with a small receive buffer (so a client that stops reading pushes back
    /// on the server quickly).
    pub async fn open_with(
        addr: SocketAddr,
        protocol: &'static str,
        recv_buffer: Option<u32>,
    ) -> Ws {
        let mut request = format!("ws://{addr}/graphql/ws")
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("sec-websocket-protocol", protocol.parse().unwrap());
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        if let Some(size) = recv_buffer {
            socket.set_recv_buffer_size(size).unwrap();
        }
        let tcp = socket.connect(addr).await.expect("connects");
        let (stream, response) =
            tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(tcp))
                .await
                .expect("websocket handshake");
        assert_eq!(
            response
                .headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok()),
            Some(protocol)
        );
        Ws { stream, protocol }
    }

    /// Opens offering several subprotocols; the connection speaks the one the server
    /// picked.
    pub async fn open_offering(addr: SocketAddr, offered: &str) -> Ws {
        let mut request = format!("ws://{addr}/graphql/ws")
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("sec-websocket-protocol", offered.parse().unwrap());
        let (stream, response) = tokio_tungstenite::connect_async(request)
            .await
            .expect("websocket handshake");
        let picked = response
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok())
            .expect("the server picks a subprotocol");
        let protocol = [TRANSPORT_WS, LEGACY_WS]
            .into_iter()
            .find(|p| *p == picked)
            .expect("one of ours");
        Ws { stream, protocol }
    }

    pub async fn send(&mut self, message: Value) {
        self.stream
            .send(Message::Text(message.to_string().into()))
            .await
            .expect("sends");
    }

    pub async fn send_raw(&mut self, text: &str) {
        let _ = self
            .stream
            .send(Message::Text(text.to_owned().into()))
            .await;
    }

    /// The next protocol message (answering pings, skipping keep-alives), or how the
    /// connection ended.
    pub async fn next(&mut self, wait: Duration) -> Result<Value, Ended> {
        // One deadline for the whole wait: keep-alives do not extend it.
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let message = match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Err(_) => return Err(Ended::Timeout),
                Ok(None) | Ok(Some(Err(_))) => return Err(Ended::Dropped),
                Ok(Some(Ok(m))) => m,
            };
            match message {
                Message::Text(t) => {
                    let v: Value = serde_json::from_str(t.as_str()).expect("server sends JSON");
                    match v["type"].as_str() {
                        Some("ping") => self.send(json!({"type": "pong"})).await,
                        Some("ka") | Some("pong") => {}
                        _ => return Ok(v),
                    }
                }
                Message::Close(frame) => {
                    return Err(match frame {
                        Some(f) => Ended::Closed(u16::from(f.code), f.reason.to_string()),
                        None => Ended::Closed(1005, String::new()),
                    });
                }
                _ => {}
            }
        }
    }

    /// The next text message as it came, keep-alives included.
    pub async fn next_raw(&mut self, wait: Duration) -> Value {
        loop {
            match tokio::time::timeout(wait, self.stream.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => {
                    return serde_json::from_str(t.as_str()).expect("server sends JSON");
                }
                Ok(Some(Ok(_))) => continue,
                other => panic!("no message: {other:?}"),
            }
        }
    }

    /// Sends `connection_init` with `payload`; returns the answer.
    pub async fn init(&mut self, payload: Value) -> Result<Value, Ended> {
        self.send(json!({"type": "connection_init", "payload": payload}))
            .await;
        self.next(Duration::from_secs(10)).await
    }

    /// Initialises with credentials and expects the acknowledgement.
    pub async fn ready(&mut self, payload: Value) {
        let ack = self.init(payload).await.expect("connection acknowledged");
        assert_eq!(ack["type"], "connection_ack", "{ack}");
    }

    /// Starts subscription `id`.
    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        let kind = if self.protocol == LEGACY_WS {
            "start"
        } else {
            "subscribe"
        };
        self.send(
            json!({"id": id, "type": kind, "payload": {"query": query, "variables": variables}}),
        )
        .await;
    }

    /// The next result of any subscription: `(id, data or errors)`.
    pub async fn result(&mut self, wait: Duration) -> Result<(String, Value), Ended> {
        loop {
            let m = self.next(wait).await?;
            let id = m["id"].as_str().unwrap_or_default().to_owned();
            match m["type"].as_str() {
                Some("next") | Some("data") => return Ok((id, m["payload"].clone())),
                Some("error") => return Ok((id, json!({"errors": m["payload"]}))),
                Some("complete") => continue,
                _ => panic!("unexpected message {m}"),
            }
        }
    }

    /// The next `n` alert items of subscription `id` (panics on errors or a timeout).
    pub async fn alerts(&mut self, n: usize, wait: Duration) -> Vec<Value> {
        let mut items = Vec::new();
        while items.len() < n {
            match self.result(wait).await {
                Ok((_, payload)) => {
                    let item = &payload["data"]["alerts"];
                    assert!(item.is_object(), "not an alert: {payload}");
                    items.push(item.clone());
                }
                Err(e) => panic!("after {} of {n} alerts: {e:?}", items.len()),
            }
        }
        items
    }

    /// Waits until the connection closes; returns how.
    pub async fn closed(&mut self, wait: Duration) -> Ended {
        loop {
            match self.next(wait).await {
                Ok(_) => continue,
                Err(e) => return e,
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
    }
}

/// The `alerts` items' alert ids, as numbers.
pub fn ids(items: &[Value]) -> Vec<i64> {
    items
        .iter()
        .map(|i| i["alert"]["id"].as_str().unwrap().parse().unwrap())
        .collect()
}
