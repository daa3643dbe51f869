//! Sending prepared notifications: HTTP (Slack, Discord, Telegram, webhooks) and SMTP.
//! Every outcome is classified for the outbox: delivered, worth retrying (network
//! errors, timeouts, 408, 429, 5xx) or permanent (any other refusal).

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use lettre::message::MultiPart;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use monitor::config::SmtpTls;

use super::payload::{EmailMessage, HttpRequest};

/// How a send went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Delivered {
        status: Option<u16>,
    },
    Retryable {
        status: Option<u16>,
        error: String,
        retry_after: Option<Duration>,
    },
    Permanent {
        status: Option<u16>,
        error: String,
    },
}

impl Outcome {
    pub fn status(&self) -> Option<u16> {
        match self {
            Outcome::Delivered { status }
            | Outcome::Retryable { status, .. }
            | Outcome::Permanent { status, .. } => *status,
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Delivered { .. } => "success",
            Outcome::Retryable { .. } => "retryable",
            Outcome::Permanent { .. } => "permanent",
        }
    }
}

/// Operator settings of the senders.
#[derive(Clone, Debug)]
pub struct SendSettings {
    /// How long one request (or SMTP session) may take.
    pub timeout: Duration,
    /// Allow targets on loopback, private, link-local or otherwise internal addresses.
    /// Off by default: a tenant must not reach the platform's own network.
    pub allow_private_targets: bool,
    /// Allow SMTP without TLS (`"tls": "none"`), for trusted local relays.
    pub allow_smtp_plaintext: bool,
    /// Extra root certificate (PEM) trusted for SMTP TLS.
    pub smtp_ca_file: Option<PathBuf>,
}

impl Default for SendSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            allow_private_targets: false,
            allow_smtp_plaintext: false,
            smtp_ca_file: None,
        }
    }
}

/// Most bytes of a response body kept for the attempt's error text.
const ERROR_BODY_LIMIT: usize = 512;

fn internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_multicast()
                // 0.0.0.0/8 ("this network"), 100.64.0.0/10 (carrier-grade NAT),
                // 192.0.0.0/24 (protocol assignments), 198.18.0.0/15 (benchmarking),
                // 240.0.0.0/4 (reserved).
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 198 && (o[1] == 18 || o[1] == 19))
                || o[0] >= 240
        }
        IpAddr::V6(v6) => {
            let seg = v6.segments();
            let o = v6.octets();
            let embedded = IpAddr::V4(std::net::Ipv4Addr::new(o[12], o[13], o[14], o[15]));
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80
                || v6.to_ipv4_mapped().is_some_and(|v4| internal(IpAddr::V4(v4)))
                // IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::/96) forms of internal
                // IPv4 addresses.
                || (seg[..6] == [0, 0, 0, 0, 0, 0] && internal(embedded))
                || (seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] && internal(embedded))
        }
    }
}

/// A resolver that only ever hands public addresses to the HTTP client: the address
/// checked is the address connected to (no window for a DNS answer that changes
/// between a check and the connection).
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<std::net::SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<std::net::SocketAddr> =
                found.into_iter().filter(|a| !internal(a.ip())).collect();
            if public.is_empty() {
                return Err(format!(
                    "{host} resolves only to internal addresses, which notifications may not reach"
                )
                .into());
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Refuses hosts that resolve to internal addresses (unless allowed).
async fn check_target(host: &str, port: u16, settings: &SendSettings) -> Result<(), String> {
    if settings.allow_private_targets {
        return Ok(());
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<IpAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| format!("cannot resolve {host}: {e}"))?
            .map(|a| a.ip())
            .collect(),
    };
    if let Some(ip) = addrs.iter().find(|ip| internal(**ip)) {
        return Err(format!(
            "{host} resolves to the internal address {ip}, which notifications may not reach"
        ));
    }
    Ok(())
}

/// The HTTP client notifications use: no redirects (a redirect could lead anywhere),
/// bounded time.
pub fn http_client(settings: &SendSettings) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout.min(Duration::from_secs(5)))
        .user_agent(concat!("stellar-monitor/", env!("CARGO_PKG_VERSION")));
    if !settings.allow_private_targets {
        builder = builder.dns_resolver(std::sync::Arc::new(PublicOnly));
    }
    builder.build().expect("the HTTP client builds")
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let text = response.headers().get("retry-after")?.to_str().ok()?;
    text.trim()
        .parse::<u64>()
        .ok()
        .map(|s| Duration::from_secs(s.min(24 * 3600)))
}

pub async fn http(client: &reqwest::Client, req: &HttpRequest, settings: &SendSettings) -> Outcome {
    let url = match reqwest::Url::parse(&req.url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => u,
        Ok(u) => {
            return Outcome::Permanent {
                status: None,
                error: format!("unsupported URL scheme {:?}", u.scheme()),
            };
        }
        Err(e) => {
            return Outcome::Permanent {
                status: None,
                error: format!("invalid URL: {e}"),
            };
        }
    };
    let host = url.host_str().unwrap_or_default().to_owned();
    if let Err(error) =
        check_target(&host, url.port_or_known_default().unwrap_or(443), settings).await
    {
        return Outcome::Permanent {
            status: None,
            error,
        };
    }
    let method = match reqwest::Method::from_bytes(req.method.as_bytes()) {
        Ok(m) => m,
        Err(_) => {
            return Outcome::Permanent {
                status: None,
                error: format!("invalid HTTP method {:?}", req.method),
            };
        }
    };
    let mut builder = client.request(method, url).body(req.body.clone());
    for (k, v) in &req.headers {
        builder = builder.header(k, v);
    }
    match builder.send().await {
        Ok(response) => {
            let status = response.status();
            let code = Some(status.as_u16());
            if status.is_success() {
                return Outcome::Delivered { status: code };
            }
            let after = retry_after(&response);
            // Only the start of the body is read; the rest is never downloaded.
            let mut response = response;
            let mut body = Vec::new();
            while body.len() < ERROR_BODY_LIMIT {
                match response.chunk().await {
                    Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                    _ => break,
                }
            }
            body.truncate(ERROR_BODY_LIMIT);
            let mut text = String::from_utf8_lossy(&body).into_owned();
            text = text.chars().filter(|c| !c.is_control()).collect();
            let error = format!("HTTP {}: {text}", status.as_u16());
            if status.as_u16() == 408 || status.as_u16() == 429 || status.is_server_error() {
                Outcome::Retryable {
                    status: code,
                    error,
                    retry_after: after,
                }
            } else {
                Outcome::Permanent {
                    status: code,
                    error,
                }
            }
        }
        Err(e) => Outcome::Retryable {
            status: None,
            error: if e.is_timeout() {
                format!("timed out after {:?}", settings.timeout)
            } else {
                // The chain of causes, without the URL (it may hold a secret path).
                let e = e.without_url();
                let mut text = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    text.push_str(": ");
                    text.push_str(&s.to_string());
                    source = s.source();
                }
                text
            },
            retry_after: None,
        },
    }
}

fn tls_parameters(host: &str, settings: &SendSettings) -> Result<TlsParameters, String> {
    let mut builder = TlsParameters::builder(host.to_owned());
    if let Some(path) = &settings.smtp_ca_file {
        let pem = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        let cert = Certificate::from_pem(&pem).map_err(|e| format!("{}: {e}", path.display()))?;
        builder = builder.add_root_certificate(cert);
    }
    builder.build().map_err(|e| e.to_string())
}

/// Sends an email: implicit TLS, required STARTTLS, or (when the operator allows)
/// plaintext; HTML body with the Markdown text as the alternative part.
pub async fn email(m: &EmailMessage, alert_id: &str, settings: &SendSettings) -> Outcome {
    if let Err(error) = check_target(&m.host, m.port, settings).await {
        return Outcome::Permanent {
            status: None,
            error,
        };
    }
    let permanent = |error: String| Outcome::Permanent {
        status: None,
        error,
    };
    let tls = match m.tls {
        SmtpTls::None if !settings.allow_smtp_plaintext => {
            return permanent(
                "SMTP without TLS is not allowed on this platform (NOTIFY_SMTP_ALLOW_PLAINTEXT)"
                    .to_owned(),
            );
        }
        SmtpTls::None => Tls::None,
        SmtpTls::Implicit => match tls_parameters(&m.host, settings) {
            Ok(p) => Tls::Wrapper(p),
            Err(e) => return permanent(e),
        },
        SmtpTls::Starttls => match tls_parameters(&m.host, settings) {
            Ok(p) => Tls::Required(p),
            Err(e) => return permanent(e),
        },
    };
    let mut builder = Message::builder().subject(m.subject.clone()).header(
        lettre::message::header::MessageId::from(format!("<{alert_id}@stellar-monitor>")),
    );
    match m.sender.parse() {
        Ok(from) => builder = builder.from(from),
        Err(e) => return permanent(format!("sender {:?}: {e}", m.sender)),
    }
    for r in &m.recipients {
        match r.parse() {
            Ok(to) => builder = builder.to(to),
            Err(e) => return permanent(format!("recipient {r:?}: {e}")),
        }
    }
    let message = match builder.multipart(MultiPart::alternative_plain_html(
        m.text.clone(),
        m.html.clone(),
    )) {
        Ok(msg) => msg,
        Err(e) => return permanent(format!("building the message: {e}")),
    };
    let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(m.host.clone())
        .port(m.port)
        .tls(tls)
        .timeout(Some(settings.timeout));
    if !m.username.is_empty() {
        transport = transport.credentials(Credentials::new(m.username.clone(), m.password.clone()));
    }
    match transport.build().send(message).await {
        Ok(response) => Outcome::Delivered {
            status: Some(response.code().into()),
        },
        // A 5xx answer, or a mismatch no retry fixes (no common auth mechanism, a
        // malformed address).
        Err(e) if e.is_permanent() || e.is_client() => Outcome::Permanent {
            status: e.status().map(u16::from),
            error: e.to_string(),
        },
        Err(e) => Outcome::Retryable {
            status: e.status().map(u16::from),
            error: e.to_string(),
            retry_after: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "172.16.5.5",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "0.1.2.3",
            "198.18.0.1",
            "240.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::10.0.0.1",
        ] {
            assert!(internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700::1111"] {
            assert!(!internal(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn internal_targets_are_refused_unless_allowed() {
        let s = SendSettings::default();
        assert!(check_target("127.0.0.1", 80, &s).await.is_err());
        assert!(check_target("[::1]", 80, &s).await.is_err());
        assert!(check_target("localhost", 80, &s).await.is_err());
        let allowed = SendSettings {
            allow_private_targets: true,
            ..SendSettings::default()
        };
        assert!(check_target("127.0.0.1", 80, &allowed).await.is_ok());
    }

    #[tokio::test]
    async fn the_client_itself_never_connects_to_a_name_that_resolves_inside() {
        // A name past the up-front check (as a rebinding answer would be): the client's
        // own resolver refuses it.
        let client = http_client(&SendSettings::default());
        let err = client.get("http://localhost:9/").send().await.unwrap_err();
        let mut text = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(s) = source {
            text.push_str(&s.to_string());
            source = s.source();
        }
        assert!(text.contains("internal addresses"), "{text}");
    }
}
