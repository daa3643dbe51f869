//! Tenant scripts: trigger conditions and script triggers in Lua run in the sandbox;
//! runaway, memory-hungry and I/O-attempting scripts are stopped with a clear error while
//! the worker keeps working; host languages are refused unless the operator allows them.

use serde_json::{Value, json};

use crate::delivery::setup;
use crate::fleet::{all_alerts, transfer_monitor};
use crate::helpers::spawn_app;

fn webhook(url: &str) -> Value {
    json!({"name": "hook", "trigger_type": "webhook", "config": {
        "url": {"type": "plain", "value": url}, "message": {"title": "t", "body": "${transaction.hash}"}}})
}

fn with_condition(
    mut monitor: Value,
    name: &str,
    source: &str,
    args: &[&str],
    timeout_ms: u32,
) -> Value {
    monitor["name"] = name.into();
    monitor["trigger_conditions"] =
        json!([{"language": "Lua", "script": source, "arguments": args, "timeout_ms": timeout_ms}]);
    monitor
}

#[tokio::test]
async fn lua_conditions_drop_matches_and_runaway_scripts_never_stop_the_worker() {
    let rx = crate::receiver::Receiver::start(crate::receiver::Behaviour::Ok).await;
    let Some(s) = setup("lua_conditions", spawn_app().await, webhook(&rx.url)).await else {
        return;
    };
    let base = transfer_monitor("x", "chain", &s.c.token, "value > 1000");
    // Drops transfers below args[1] (OZ's rule: `true` drops the match).
    let filtered = with_condition(
        base.clone(),
        "filtered",
        "return tonumber(monitor_match.EVM.matched_on_args.events[1].args[3].value) < tonumber(args[1])",
        &["3000"],
        500,
    );
    let runaway = with_condition(base.clone(), "runaway", "while true do end", &[], 200);
    let hungry = with_condition(
        base.clone(),
        "hungry",
        "local s = 'x' while true do s = s .. s end",
        &[],
        500,
    );
    let snooping = with_condition(
        base.clone(),
        "snooping",
        "return io.open('/etc/passwd') ~= nil",
        &[],
        500,
    );
    for m in [&filtered, &runaway, &hungry, &snooping] {
        let r = s.app.create_monitor(&s.owner, m.clone()).await;
        assert!(
            r["data"]["createMonitor"]["monitor"]["id"].is_string(),
            "{r}"
        );
    }
    let small = s.fire(2_000).await;
    let big = s.fire(5_000).await;
    // Alerts of the first two blocks: "Big transfers" (no condition) fires on both;
    // "filtered" only on 5,000; the three broken conditions fail and keep their matches.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let alerts = loop {
        let a = all_alerts(&s.app.db).await;
        if a.len() >= 2 + 1 + 3 * 2 {
            break a;
        }
        assert!(std::time::Instant::now() < deadline, "{} alerts", a.len());
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let of = |name: &str| -> Vec<String> {
        alerts
            .iter()
            .filter(|a| a.payload["EVM"]["monitor"]["name"] == name)
            .map(|a| a.transaction_hash.clone().unwrap())
            .collect()
    };
    assert_eq!(
        of("filtered"),
        vec![big.clone()],
        "the condition dropped the 2,000 transfer"
    );
    for name in ["runaway", "hungry", "snooping"] {
        assert_eq!(
            of(name).len(),
            2,
            "{name}: a failing condition keeps the match"
        );
    }
    assert_eq!(of("Big transfers").len(), 2);
    let _ = small;
    let metrics = s.app.get("/metrics").await.text().await.unwrap();
    let errors: f64 = metrics
        .lines()
        .filter(|l| {
            l.starts_with("stellar_monitor_trigger_conditions_total") && l.contains("error")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(errors >= 6.0, "{metrics}");
    // The worker is still working.
    let later = s.fire(6_000).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !all_alerts(&s.app.db)
        .await
        .iter()
        .any(|a| a.transaction_hash.as_deref() == Some(later.as_str()))
    {
        assert!(std::time::Instant::now() < deadline, "the worker stopped");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn the_api_refuses_host_languages_and_broken_lua_with_field_paths() {
    let app = spawn_app().await;
    let owner = app.owner("scripts").await;
    let id = app.network(&owner, "chain").await;
    assert!(!id.is_empty());
    let base = crate::gql::monitor("m", "chain", &[]);
    let python = {
        let mut m = base.clone();
        m["trigger_conditions"] =
            json!([{"language": "Python", "script": "print(True)", "timeout_ms": 500}]);
        m
    };
    let r = app.create_monitor(&owner, python).await;
    let errors = &r["data"]["createMonitor"]["userErrors"];
    assert!(
        errors.to_string().contains("trigger_conditions") && errors.to_string().contains("Lua"),
        "{r}"
    );
    let broken = {
        let mut m = base.clone();
        m["trigger_conditions"] =
            json!([{"language": "Lua", "script": "return (", "timeout_ms": 500}]);
        m
    };
    let r = app.create_monitor(&owner, broken).await;
    let errors = r["data"]["createMonitor"]["userErrors"].to_string();
    assert!(errors.contains("syntax error at line 1"), "{r}");
    let path_only = {
        let mut m = base.clone();
        m["trigger_conditions"] =
            json!([{"language": "Lua", "script_path": "./filters/x.lua", "timeout_ms": 500}]);
        m
    };
    let r = app.create_monitor(&owner, path_only).await;
    assert!(
        r["data"]["createMonitor"]["userErrors"]
            .to_string()
            .contains("inline"),
        "{r}"
    );
    // A script trigger in Bash is refused the same way.
    let r = app
        .gql(
            &owner,
            "mutation($t: JSON!) { createTrigger(input: {slug: \"sh\", ozJson: $t}) { trigger { id } userErrors { field message } } }",
            json!({"t": {"name": "sh", "trigger_type": "script", "config": {"language": "Bash", "script": "echo hi", "timeout_ms": 500}}}),
        )
        .await;
    assert!(
        r["data"]["createTrigger"]["userErrors"]
            .to_string()
            .contains("Lua"),
        "{r}"
    );
    // Nothing was stored.
    let r = app
        .gql(
            &owner,
            "{ monitors(first: 5) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(r["data"]["monitors"]["edges"], json!([]), "{r}");
}

#[tokio::test]
async fn lua_script_triggers_are_delivered_and_failing_ones_end_dead() {
    let trigger = json!({"name": "lua", "trigger_type": "script", "config": {
        "language": "Lua", "timeout_ms": 500, "arguments": ["5000"],
        "script": "if monitor_match.EVM.matched_on_args.events[1].args[3].value ~= args[1] then error('unexpected value') end return true"}});
    let Some(s) = setup("lua_script_triggers", spawn_app().await, trigger).await else {
        return;
    };
    s.fire(5_000).await;
    let d = s.wait_status("delivered").await;
    assert_eq!(d["attemptLog"][0]["outcome"], "success");
    s.fire(7_000).await;
    let dead = s.wait_status("dead").await;
    assert!(
        dead["lastError"]
            .as_str()
            .unwrap()
            .contains("unexpected value"),
        "{dead}"
    );
    assert_eq!(dead["attempts"], 1);
}
