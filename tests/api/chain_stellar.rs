//! The Stellar client and watcher against a local Stellar RPC server that serves the
//! compatibility corpus's recorded ledgers, transactions and events: our real client is
//! what is tested.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use bus::blocks::{BlockMessage, ChainBlock};
use monitor::stellar::monitor::DecodedTransaction;
use monitor::stellar::{StellarEvent, StellarTransaction};
use serde_json::{Value, json};

use crate::compat;
use crate::gql::monitor;
use crate::helpers::{spawn_app_tuned, test_watcher_tuning};

/// The recorded data served for ledgers `first..=head`.
struct Recorded {
    first: u32,
    head: u32,
    transactions: Vec<StellarTransaction>,
    events: Vec<StellarEvent>,
}

fn page<T: serde::Serialize>(
    items: &[T],
    params: &Value,
    start_index: impl Fn() -> usize,
) -> (Vec<Value>, Option<String>) {
    let limit = params["pagination"]["limit"].as_u64().unwrap_or(100) as usize;
    let from = match params["pagination"]["cursor"].as_str() {
        Some(c) => c.parse::<usize>().unwrap_or(0),
        None => start_index(),
    };
    let slice: Vec<Value> = items
        .iter()
        .skip(from)
        .take(limit)
        .map(|t| serde_json::to_value(t).unwrap())
        .collect();
    // Like Stellar RPC, always a cursor: the position after this page.
    let next = Some((from + slice.len()).to_string());
    (slice, next)
}

async fn rpc(State(data): State<Arc<Recorded>>, Json(request): Json<Value>) -> Json<Value> {
    let params = &request["params"];
    let result = match request["method"].as_str().unwrap_or_default() {
        "getLatestLedger" => {
            json!({"id": format!("{:064x}", data.head), "sequence": data.head, "protocolVersion": 22})
        }
        "getLedgers" => {
            let start = params["startLedger"].as_u64().unwrap_or(data.first as u64) as u32;
            let limit = params["pagination"]["limit"].as_u64().unwrap_or(10) as u32;
            let ledgers: Vec<Value> = (start..start + limit)
                .filter(|s| *s >= data.first && *s <= data.head)
                .map(|s| json!({"hash": format!("{s:064x}"), "sequence": s, "ledgerCloseTime": "1735440610", "headerXdr": "", "metadataXdr": ""}))
                .collect();
            json!({"ledgers": ledgers, "latestLedger": data.head, "cursor": "x"})
        }
        "getTransactions" => {
            let start = params["startLedger"].as_u64().unwrap_or(0) as u32;
            let (items, cursor) = page(&data.transactions, params, || {
                data.transactions
                    .iter()
                    .position(|t| t.ledger >= start)
                    .unwrap_or(data.transactions.len())
            });
            json!({"transactions": items, "latestLedger": data.head, "cursor": cursor})
        }
        "getEvents" => {
            let start = params["startLedger"].as_u64().unwrap_or(0) as u32;
            let (items, cursor) = page(&data.events, params, || {
                data.events
                    .iter()
                    .position(|e| e.ledger >= start)
                    .unwrap_or(data.events.len())
            });
            json!({"events": items, "latestLedger": data.head, "cursor": cursor})
        }
        other => {
            return Json(
                json!({"jsonrpc": "2.0", "id": request["id"], "error": {"code": -32601, "message": format!("method {other} not found")}}),
            );
        }
    };
    Json(json!({"jsonrpc": "2.0", "id": request["id"], "result": result}))
}

#[tokio::test]
async fn the_watcher_publishes_recorded_stellar_ledgers_decoded() {
    let Some(dir) = compat::dir("the_watcher_publishes_recorded_stellar_ledgers_decoded") else {
        return;
    };
    let mut transactions: Vec<StellarTransaction> = serde_json::from_value(compat::read_json(
        dir.join("chain/stellar/transactions.json"),
    ))
    .unwrap();
    let events: Vec<StellarEvent> =
        serde_json::from_value(compat::read_json(dir.join("chain/stellar/events.json"))).unwrap();
    transactions.retain(|t| (317597..=317600).contains(&t.ledger));
    transactions.sort_by_key(|t| (t.ledger, t.application_order));
    let data = Arc::new(Recorded {
        first: 317_590,
        head: 317_600,
        transactions,
        events,
    });
    let router = Router::new().route("/", post(rpc)).with_state(data);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });

    let mut tuning = test_watcher_tuning();
    tuning.watcher_initial_backfill = 2;
    let app = spawn_app_tuned(tuning).await;
    let owner = app.owner("stellar").await;
    let network = json!({
        "network_type": "Stellar", "slug": "stellar_local", "name": "Stellar (recorded)",
        "rpc_urls": [{"type_": "rpc", "url": {"type": "plain", "value": url}, "weight": 100}],
        "network_passphrase": "Test SDF Network ; September 2015",
        "block_time_ms": 500, "confirmation_blocks": 1, "cron_schedule": "*/5 * * * * *"
    });
    let r = app.gql(&owner, "mutation($n: JSON!) { createPrivateNetwork(input: {ozJson: $n}) { network { id } userErrors { message } } }", json!({"n": network})).await;
    let id = r["data"]["createPrivateNetwork"]["network"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"))
        .to_owned();
    let mut m = monitor("stellar watch", "stellar_local", &[]);
    m["addresses"] =
        json!([{"address": "CBIELTK6YBZJU5UP2WWQEUCYKLPU6AUNZ2BQ4WWFEIE3USCIHMXQDAMA"}]);
    m["match_conditions"] = json!({"functions": [], "events": [], "transactions": []});
    let r = app.create_monitor(&owner, m).await;
    assert!(r["data"]["createMonitor"]["monitor"].is_object(), "{r}");

    let bus = bus::connect(
        Some(&crate::helpers::redis_url()),
        app.redis_prefix.as_deref().unwrap(),
    )
    .await
    .unwrap();
    let stream = bus.keys().blocks(&format!(
        "private-{}",
        uuid::Uuid::parse_str(&id).unwrap().simple()
    ));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let messages: Vec<BlockMessage> = loop {
        let entries = bus
            .stream_read(&stream, 0, 100, Duration::from_millis(200))
            .await
            .unwrap();
        let messages: Vec<BlockMessage> = entries
            .iter()
            .map(|e| BlockMessage::decode(&e.payload).unwrap())
            .collect();
        if messages.iter().any(|m| m.number == 317_599) {
            break messages;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not published: {:?}",
            messages.iter().map(|m| m.number).collect::<Vec<_>>()
        );
    };
    // The backfill of two confirmed ledgers before the head's confirmed one.
    assert_eq!(
        messages.iter().map(|m| m.number).collect::<Vec<_>>(),
        [317_597, 317_598, 317_599]
    );
    let Some(ChainBlock::Stellar(ledger)) = &messages[1].block else {
        panic!("a Stellar ledger")
    };
    assert_eq!(ledger.ledger.sequence, 317_598);
    // Every recorded transaction and event of that ledger, in order, decoded.
    let hashes: Vec<&str> = ledger
        .transactions
        .iter()
        .map(|t| &t.tx_hash[..10])
        .collect();
    assert_eq!(
        hashes,
        [
            "7723ef4c6f",
            "5dc68f8a0f",
            "9e58b4f370",
            "5a7bf196f1",
            "2c89fc3311"
        ]
    );
    assert_eq!(ledger.events.len(), 2);
    let failed = ledger
        .transactions
        .iter()
        .filter(|t| t.status == "FAILED")
        .count();
    assert_eq!(failed, 2);
    let transfer = ledger
        .transactions
        .iter()
        .find(|t| t.tx_hash.starts_with("2c89fc"))
        .unwrap();
    let events: Vec<&StellarEvent> = ledger
        .events
        .iter()
        .filter(|e| e.tx_hash == transfer.tx_hash)
        .collect();
    let decoded = DecodedTransaction::new(transfer, &events).expect("the envelope decodes");
    assert_eq!(
        decoded.envelope.source,
        "GDF32CQINROD3E2LMCGZUDVMWTXCJFR5SBYVRJ7WAAIAS3P7DCVWZEFY"
    );
    assert_eq!(
        decoded.envelope.invocations[0].signature(),
        "transfer(Address,Address,I128)"
    );
    let (_, event) = &decoded.events[0];
    assert_eq!(
        event.as_ref().unwrap().0.signature(),
        "transfer(Address,Address,String,I128)"
    );
    for m in &messages {
        if let Some(ChainBlock::Stellar(l)) = &m.block {
            assert!(l.transactions.iter().all(|t| t.ledger == m.number as u32));
        }
    }
}
