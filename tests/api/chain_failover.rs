//! Two watcher processes on one Redis: only one publishes; `kill -9` it and the other
//! continues from the next block within the lease TTL, nothing lost or repeated.

use std::time::{Duration, Instant};

use bus::Bus;
use bus::blocks::BlockMessage;

use crate::anvil::Anvil;
use crate::fleet::{Process, role_process};
use crate::gql::monitor;
use crate::helpers::{redis_url, spawn_app};

const LEASE_TTL_SECS: u64 = 2;

fn watcher_process(id: &str, database_url: &str, prefix: &str) -> Process {
    role_process(
        "watcher",
        database_url,
        prefix,
        &[
            ("WATCHER_ID", id.to_owned()),
            ("WATCHER_LEASE_TTL_SECS", LEASE_TTL_SECS.to_string()),
            ("WATCHER_DISCOVERY_SECS", "1".to_owned()),
        ],
    )
}

async fn messages(bus: &dyn Bus, stream: &str) -> Vec<BlockMessage> {
    bus.stream_read(stream, 0, 100_000, Duration::ZERO)
        .await
        .unwrap()
        .iter()
        .map(|e| BlockMessage::decode(&e.payload).unwrap())
        .collect()
}

#[tokio::test]
async fn a_killed_watcher_is_replaced_without_gap_or_repeat() {
    let Some(anvil) = Anvil::start("a_killed_watcher_is_replaced_without_gap_or_repeat").await
    else {
        return;
    };
    anvil.automine(false).await;
    // Configure the network through the API, then stop the app so only the two
    // processes watch.
    let app = spawn_app().await;
    let owner = app.owner("failover").await;
    let id = app
        .network_at(&owner, "anvil", &[(&anvil.url, 100)], 1)
        .await;
    app.create_monitor(&owner, monitor("watch", "anvil", &[]))
        .await;
    let (database_url, prefix) = (
        app.database_url.clone().unwrap(),
        app.redis_prefix.clone().unwrap(),
    );
    app.stop().await;

    let bus = bus::connect(Some(&redis_url()), &prefix).await.unwrap();
    let stream = bus.keys().blocks(&format!(
        "private-{}",
        uuid::Uuid::parse_str(&id).unwrap().simple()
    ));
    let mut a = Some(watcher_process("watcher-a", &database_url, &prefix));
    let b = watcher_process("watcher-b", &database_url, &prefix);

    // A block every 200 ms throughout.
    let miner = {
        let url = anvil.url.clone();
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            loop {
                let _ = http
                    .post(&url)
                    .json(&serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "evm_mine", "params": []}))
                    .send()
                    .await;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };

    let wait_for = |min: usize| {
        let bus = bus.clone();
        let stream = stream.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let m = messages(bus.as_ref(), &stream).await;
                if m.len() >= min {
                    return m;
                }
                assert!(Instant::now() < deadline, "only {} messages", m.len());
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let before = wait_for(10).await;
    let leader = before.last().unwrap().publisher.clone();
    let others: Vec<&BlockMessage> = before
        .iter()
        .filter(|m| m.publisher != leader && m.publisher.starts_with("watcher-"))
        .collect();
    assert!(
        others.is_empty(),
        "one publisher at a time: {:?}",
        before.iter().map(|m| &m.publisher).collect::<Vec<_>>()
    );

    // Kill the leader without a chance to release its lease.
    let killed_at = Instant::now();
    let (mut victim, _survivor) = if leader == "watcher-a" {
        (a.take().unwrap(), &b)
    } else {
        (b, a.as_ref().unwrap())
    };
    victim.0.kill().unwrap();
    victim.0.wait().unwrap();
    let published_before = messages(bus.as_ref(), &stream).await.len();
    let after = loop {
        let m = messages(bus.as_ref(), &stream).await;
        if m.iter()
            .skip(published_before)
            .any(|m| m.publisher != leader)
        {
            break m;
        }
        assert!(killed_at.elapsed() < Duration::from_secs(20), "no takeover");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    let takeover = killed_at.elapsed();
    let done = wait_for(after.len() + 8).await;
    miner.abort();

    let numbers: Vec<u64> = done.iter().map(|m| m.number).collect();
    assert!(
        numbers.windows(2).all(|w| w[1] == w[0] + 1),
        "no gap, no repeat across the takeover: {numbers:?}"
    );
    for m in &done {
        assert_eq!(
            m.hash,
            anvil.block_hash(m.number).await,
            "block {}",
            m.number
        );
    }
    let publishers: std::collections::BTreeSet<&str> = done
        .iter()
        .map(|m| m.publisher.as_str())
        .filter(|p| p.starts_with("watcher-"))
        .collect();
    assert_eq!(
        publishers.len(),
        2,
        "both processes published, one after the other: {publishers:?}"
    );
    eprintln!("takeover after the kill: {takeover:?}");
    assert!(
        takeover < Duration::from_secs(LEASE_TTL_SECS + 2),
        "took {takeover:?}"
    );
    drop(victim);
}
