//! The `/alerts` page in headless Chromium (playwright-core driving the Debian
//! `chromium`): an alert written during the test appears on the page, as text.

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::helpers::spawn_app_sqlite;
use crate::live::{Tenant, alerts_for, tenant};

fn browser() -> Option<(String, String)> {
    let chromium = std::env::var("CHROMIUM_BIN").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let playwright = std::env::var("PLAYWRIGHT_CORE").ok();
    match playwright {
        Some(p)
            if std::path::Path::new(&chromium).exists() && std::path::Path::new(&p).exists() =>
        {
            Some((chromium, p))
        }
        _ => {
            eprintln!(
                "skipping: needs Chromium ({chromium}) and PLAYWRIGHT_CORE (playwright-core's folder); scripts/test.sh installs both"
            );
            None
        }
    }
}

#[tokio::test]
async fn the_alerts_page_shows_an_alert_written_while_it_is_open() {
    let Some((chromium, playwright)) = browser() else {
        return;
    };
    let app = spawn_app_sqlite().await;
    // The page itself: HTML with a policy that allows only its own scripts.
    let page = app.get("/alerts").await;
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(page.text().await.unwrap().contains("/alerts/app.js"));

    let t: Tenant = tenant(&app, "pageviewer").await;
    let token = t.client.bearer.clone().unwrap();
    let mut node = tokio::process::Command::new("node")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/alerts_page.cjs"
        ))
        .arg(format!("http://{}", app.addr))
        .arg(&token)
        .arg("pageviewer")
        .arg("0xpage-0")
        .env("CHROMIUM_BIN", chromium)
        .env("PLAYWRIGHT_CORE", playwright)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let mut lines = BufReader::new(node.stdout.take().unwrap()).lines();
    assert_eq!(next_line(&mut lines).await, "READY");
    // Written while the page is open; markup in it must show as text.
    let payload = json!({"EVM": {}});
    let written = alerts_for(&app, &t, "page", 1, &payload).await;
    assert_eq!(written.len(), 1);
    let found = next_line(&mut lines).await;
    assert!(found.starts_with("FOUND "), "{found}");
    assert!(found.contains("0xpage-0"), "{found}");
    let status = tokio::time::timeout(Duration::from_secs(30), node.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
}

async fn next_line(lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>) -> String {
    tokio::time::timeout(Duration::from_secs(90), lines.next_line())
        .await
        .expect("the browser answers in time")
        .unwrap()
        .unwrap_or_default()
}
