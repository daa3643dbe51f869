//! A local HTTP receiver for notifications: records every request (method, path,
//! headers, exact body bytes) and answers as told — succeed, fail the first N, fail
//! forever, or misbehave.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// One received request.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    /// The status the receiver answered (or would have, for a slow answer).
    pub answered: u16,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// How the receiver answers.
#[derive(Clone, Copy, Debug)]
pub enum Behaviour {
    Ok,
    /// 503 for the first `n` requests, then 200.
    FailFirst(usize),
    /// Always this status.
    Always(u16),
    /// 200 after a pause (to trip client timeouts).
    Slow(Duration),
    /// 500 with a large, binary body.
    Garbage,
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    behaviour: Option<Behaviour>,
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let behaviour = inner.lock().unwrap().behaviour.unwrap_or(Behaviour::Ok);
    let seen = inner.lock().unwrap().received.len();
    let (status, reply, pause): (u16, Vec<u8>, Option<Duration>) = match behaviour {
        Behaviour::Ok => (200, b"ok".to_vec(), None),
        Behaviour::FailFirst(n) if seen < n => (503, b"down".to_vec(), None),
        Behaviour::FailFirst(_) => (200, b"ok".to_vec(), None),
        Behaviour::Always(s) => (s, b"no".to_vec(), None),
        Behaviour::Slow(d) => (200, b"late".to_vec(), Some(d)),
        Behaviour::Garbage => (
            500,
            (0..200_000u32).map(|i| (i % 251) as u8).collect(),
            None,
        ),
    };
    // Recorded on arrival: a slow answer may never be read by the sender.
    inner.lock().unwrap().received.push(Received {
        method: method.to_string(),
        path: uri.path().to_owned(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
        body: body.to_vec(),
        answered: status,
    });
    if let Some(d) = pause {
        tokio::time::sleep(d).await;
    }
    (StatusCode::from_u16(status).unwrap(), reply).into_response()
}

impl Receiver {
    pub async fn start(behaviour: Behaviour) -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            received: Vec::new(),
            behaviour: Some(behaviour),
        }));
        let router = axum::Router::new()
            .fallback(handle)
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { url, inner }
    }

    pub fn set(&self, behaviour: Behaviour) {
        self.inner.lock().unwrap().behaviour = Some(behaviour);
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// Waits until `done` holds for what was received.
    pub async fn wait(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let got = self.received();
            if done(&got) {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "receiver never got {what}; got {} requests",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}
