//! The fleet as separate processes on loopback: PostgreSQL, Redis, Anvil, one watcher,
//! one orchestrator and three workers. Tenants watch an ERC-20; a script of transfers
//! runs while one worker is killed with SIGKILL. Every expected alert exists exactly
//! once at the end, and the dead worker's tenants were reassigned within the heartbeat
//! timeout.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bus::Bus;
use orchestrator::membership::{self, Assignment};
use uuid::Uuid;

use crate::fleet::{
    Chain, Process, all_alerts, all_deliveries, catalog_network, chain, role_process, seed_tenants,
    transfer_monitor, wait_flowing, wait_processed,
};
use crate::helpers::{redis_url, spawn_app_with};

const HEARTBEAT_INTERVAL_MS: u64 = 200;
const HEARTBEAT_TIMEOUT_MS: u64 = 1_500;
const TICK_MS: u64 = 100;

fn worker(id: &str, database_url: &str, prefix: &str) -> Process {
    role_process(
        "worker",
        database_url,
        prefix,
        &[
            ("WORKER_ID", id.to_owned()),
            (
                "WORKER_HEARTBEAT_INTERVAL_MS",
                HEARTBEAT_INTERVAL_MS.to_string(),
            ),
            (
                "WORKER_HEARTBEAT_TIMEOUT_MS",
                HEARTBEAT_TIMEOUT_MS.to_string(),
            ),
            ("WORKER_POLL_MS", "20".to_owned()),
            ("WORKER_CURSOR_FLUSH_MS", "200".to_owned()),
        ],
    )
}

async fn assignment(bus: &dyn Bus) -> Assignment {
    membership::assignment(bus)
        .await
        .unwrap()
        .unwrap_or_default()
}

/// Waits until the assignment satisfies `done`.
async fn wait_assignment(
    bus: &dyn Bus,
    what: &str,
    done: impl Fn(&Assignment) -> bool,
) -> Assignment {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let a = assignment(bus).await;
        if done(&a) {
            return a;
        }
        assert!(Instant::now() < deadline, "never {what}: {a:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_killed_worker_loses_no_alert_and_duplicates_none() {
    let Some(Chain {
        anvil,
        token,
        accounts,
    }) = chain("a_killed_worker_loses_no_alert_and_duplicates_none").await
    else {
        return;
    };

    // Configure through an app with no fleet of its own, then stop it: only the
    // processes below watch and evaluate.
    let app = spawn_app_with(|s| s.workers = 0).await;
    catalog_network(&app, "chain", &anvil.url).await;
    let tenants = seed_tenants(
        &app.db,
        "chain",
        12,
        2,
        &transfer_monitor("big", "chain", &token, "value > 1000"),
        true,
    )
    .await;
    let ids: Vec<Uuid> = tenants.iter().map(|t| t.id).collect();
    let (url, prefix, db) = crate::fleet::stop_keeping_storage(app, 2).await;
    let bus = bus::connect(Some(&redis_url()), &prefix).await.unwrap();

    let _watcher = role_process(
        "watcher",
        &url,
        &prefix,
        &[("WATCHER_DISCOVERY_SECS", "1".into())],
    );
    let _orchestrator = role_process(
        "orchestrator",
        &url,
        &prefix,
        &[
            ("ORCHESTRATOR_TICK_MS", TICK_MS.to_string()),
            ("ORCHESTRATOR_STARTUP_GRACE_MS", "500".into()),
        ],
    );
    let mut workers: BTreeMap<String, Process> = ["w1", "w2", "w3"]
        .iter()
        .map(|id| (id.to_string(), worker(id, &url, &prefix)))
        .collect();
    let all_three = wait_assignment(&*bus, "spread over three workers", |a| {
        a.owners.len() == ids.len() && a.owners.values().collect::<BTreeSet<_>>().len() == 3
    })
    .await;
    wait_flowing(&anvil, &db, "chain", &ids).await;

    // The script: 24 blocks of 3 transfers, amounts on both sides of the threshold; the
    // busiest worker is killed after the 8th block.
    let victim = {
        let mut count: BTreeMap<&str, usize> = BTreeMap::new();
        for w in all_three.owners.values() {
            *count.entry(w.as_str()).or_default() += 1;
        }
        count
            .into_iter()
            .max_by_key(|(_, n)| *n)
            .unwrap()
            .0
            .to_owned()
    };
    let victim_tenants = all_three.tenants_of(&victim);
    let mut sent: Vec<(String, u64)> = Vec::new();
    let mut killed_at = None;
    for block in 0..24u64 {
        for i in 0..3u64 {
            let amount = 400 + ((block * 7 + i * 13) % 12) * 150;
            let hash = anvil
                .transfer(
                    &token,
                    &accounts[0],
                    &accounts[1 + (i as usize % 3)],
                    amount,
                )
                .await;
            sent.push((hash.to_lowercase(), amount));
        }
        anvil.mine().await;
        if block == 8 {
            let mut p = workers.remove(&victim).unwrap();
            p.0.kill().unwrap();
            p.0.wait().unwrap();
            killed_at = Some(chrono::Utc::now());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let killed_at = killed_at.unwrap();
    // Reassignment: the victim's tenants went to the survivors.
    let after = wait_assignment(&*bus, "reassigned", |a| {
        !a.owners.values().any(|w| *w == victim) && a.owners.len() == ids.len()
    })
    .await;
    let reassigned_in = (after.at.expect("assignments carry their time") - killed_at)
        .to_std()
        .unwrap_or_default();
    for t in &victim_tenants {
        assert_ne!(after.owners[t], victim);
    }
    anvil.mine().await;
    let last = anvil.block_number().await;
    anvil.mine().await;
    anvil.mine().await;
    wait_processed(&db, "chain", &ids, last).await;

    let mut expected = BTreeSet::new();
    for t in &tenants {
        for m in &t.monitors {
            for (hash, amount) in &sent {
                if *amount > 1_000 {
                    expected.insert((t.id, *m, hash.clone()));
                }
            }
        }
    }
    let alerts = all_alerts(&db).await;
    let got: Vec<(Uuid, Uuid, String)> = alerts
        .iter()
        .map(|a| {
            (
                a.tenant_id,
                a.monitor_id,
                a.transaction_hash.clone().unwrap().to_lowercase(),
            )
        })
        .collect();
    let unique: BTreeSet<_> = got.iter().cloned().collect();
    assert_eq!(got.len(), unique.len(), "an alert exists twice");
    let missing: Vec<_> = expected.difference(&unique).take(3).collect();
    let extra: Vec<_> = unique.difference(&expected).take(3).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{} expected, {} stored; missing e.g. {missing:?}, unexpected e.g. {extra:?}",
        expected.len(),
        unique.len()
    );
    assert_eq!(all_deliveries(&db).await.len(), expected.len());
    eprintln!(
        "{} alerts for {} tenants across the kill of {victim} ({} tenants); reassigned {:?} after the kill",
        expected.len(),
        ids.len(),
        victim_tenants.len(),
        reassigned_in
    );
    // The heartbeat expires at most its timeout after the kill; the leader notices on
    // its next tick. (Bounded generously for a loaded 2-core machine.)
    assert!(
        reassigned_in <= Duration::from_millis(HEARTBEAT_TIMEOUT_MS + TICK_MS + 1_500),
        "reassigned {reassigned_in:?} after the kill"
    );
    drop(workers);
}
