//! Email notifications against a local SMTP server (aiosmtpd from PyPI, installed by
//! scripts/test.sh): STARTTLS, implicit TLS and plain, with authentication, checking the
//! subject, the HTML rendered from the Markdown body and that TLS was in use. Skips with a
//! message where Python's aiosmtpd is not available.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::delivery::setup;
use crate::fleet::Process;
use crate::helpers::spawn_app_with;

/// The Python with aiosmtpd: `SMTP_PYTHON`, else the test script's venv.
fn python(test: &str) -> Option<PathBuf> {
    let candidate = std::env::var("SMTP_PYTHON")
        .map(PathBuf::from)
        .ok()
        .or_else(|| {
            let home = std::env::var("HOME").ok()?;
            Some(PathBuf::from(format!(
                "{home}/.cache/stellar-monitor/py/bin/python3"
            )))
        })?;
    let ok = Command::new(&candidate)
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!(
            "skipping {test}: Python's aiosmtpd is not installed (scripts/test.sh installs it)"
        );
        return None;
    }
    Some(candidate)
}

/// A test CA and a `localhost` certificate it signed: (ca.pem, cert.pem, key.pem).
fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "stellar-monitor test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca, &ca_key)
        .unwrap();
    let paths = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&paths.0, ca.pem()).unwrap();
    std::fs::write(&paths.1, leaf.pem()).unwrap();
    std::fs::write(&paths.2, leaf_key.serialize_pem()).unwrap();
    paths
}

struct SmtpServer {
    _process: Process,
    port: u16,
    out: PathBuf,
}

fn start_server(python: &Path, mode: &str, dir: &Path, cert: &Path, key: &Path) -> SmtpServer {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = dir.join(format!("{mode}.jsonl"));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/smtp_server.py");
    let mut child = Command::new(python)
        .arg(script)
        .args([mode, &port.to_string()])
        .arg(&out)
        .arg(cert)
        .arg(key)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the SMTP server starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready", "the SMTP server did not start");
    SmtpServer {
        _process: Process(child),
        port,
        out,
    }
}

fn received(out: &Path) -> Vec<Value> {
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

async fn wait_mail(out: &Path) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(m) = received(out).into_iter().next() {
            return m;
        }
        assert!(Instant::now() < deadline, "no mail arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn email_trigger(port: u16, tls: &str, password: &str) -> Value {
    json!({"name": "mail", "trigger_type": "email", "config": {
        "host": "localhost", "port": port, "tls": tls,
        "username": {"type": "plain", "value": "user"}, "password": {"type": "plain", "value": password},
        "sender": "alerts@example.com", "recipients": ["ops@example.com", "oncall@example.com"],
        "message": {"title": "${monitor.name} fired", "body": "**Value** ${events.0.args.value}\n\n- tx `${transaction.hash}`"}}})
}

async fn delivers_over(mode: &str) {
    let test = format!("email_{mode}");
    let Some(python) = python(&test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path());
    let server = start_server(&python, mode, dir.path(), &cert, &key);
    let app = spawn_app_with(|s| s.notify.notify_smtp_ca_file = Some(ca.clone())).await;
    let Some(s) = setup(&test, app, email_trigger(server.port, mode, "pass")).await else {
        return;
    };
    let tx = s.fire(5_000).await;
    let d = s.wait_status("delivered").await;
    assert_eq!(d["attempts"], 1);
    let mail = wait_mail(&server.out).await;
    assert_eq!(mail["subject"], "Big transfers fired");
    assert_eq!(mail["from"], "alerts@example.com");
    assert_eq!(mail["to"], json!(["ops@example.com", "oncall@example.com"]));
    let html = mail["html"].as_str().unwrap();
    assert!(html.contains("<strong>Value</strong> 5000"), "{html}");
    assert!(
        html.contains(&format!("<li>tx <code>{tx}</code></li>")),
        "{html}"
    );
    assert!(mail["text"].as_str().unwrap().contains("**Value** 5000"));
    assert_eq!(mail["tls"], mode != "none", "{mail}");
    assert_eq!(mail["authenticated"], true);
    assert!(
        mail["message_id"]
            .as_str()
            .unwrap()
            .ends_with("@stellar-monitor>")
    );
}

#[tokio::test]
async fn email_over_starttls() {
    delivers_over("starttls").await;
}

#[tokio::test]
async fn email_over_implicit_tls() {
    delivers_over("implicit").await;
}

#[tokio::test]
async fn email_over_plain_smtp_when_allowed() {
    delivers_over("none").await;
}

/// aiosmtpd never answers a failed login: the attempt is cut at the outbox's limit,
/// retried on the schedule, and ends dead — the loop is never held.
#[tokio::test]
async fn an_smtp_server_that_stops_answering_is_retried_then_dead() {
    let Some(python) = python("an_smtp_server_that_stops_answering") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path());
    let server = start_server(&python, "starttls", dir.path(), &cert, &key);
    let app = spawn_app_with(|s| s.notify.notify_smtp_ca_file = Some(ca.clone())).await;
    let mut trigger = email_trigger(server.port, "starttls", "wrong");
    trigger["config"]["retry_policy"] = json!({"max_retries": 0});
    let Some(s) = setup("an_smtp_server_that_stops_answering", app, trigger).await else {
        return;
    };
    s.fire(5_000).await;
    let d = s.wait_status("dead").await;
    // One attempt, then the (compressed, two-step) long schedule.
    assert_eq!(d["attempts"], 3, "{d}");
    assert!(
        d["lastError"]
            .as_str()
            .unwrap()
            .starts_with("no answer within"),
        "{d}"
    );
    assert!(received(&server.out).is_empty());
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused() {
    let Some(python) = python("an_untrusted_certificate_is_refused") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_, cert, key) = certificates(dir.path());
    let server = start_server(&python, "implicit", dir.path(), &cert, &key);
    // The app does not trust the test CA.
    let app = spawn_app_with(|_| {}).await;
    let Some(s) = setup(
        "an_untrusted_certificate",
        app,
        email_trigger(server.port, "implicit", "pass"),
    )
    .await
    else {
        return;
    };
    s.fire(5_000).await;
    let d = s.wait_status("dead").await;
    assert!(
        d["lastError"]
            .as_str()
            .unwrap_or("")
            .to_lowercase()
            .contains("certificate"),
        "{d}"
    );
    assert!(received(&server.out).is_empty());
}
