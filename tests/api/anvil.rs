//! A real EVM node for tests: Anvil (from npm, see scripts/test.sh), with helpers to
//! deploy the test ERC-20 and fill blocks with transfers, some reverting.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub struct Anvil {
    child: Child,
    pub url: String,
    http: reqwest::Client,
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The test token (tests/fixtures/Token.sol, compiled by scripts/compile-fixtures.mjs).
pub fn token_artifact() -> Value {
    serde_json::from_str(include_str!("../fixtures/token.json")).unwrap()
}

/// A loopback port nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Anvil {
    /// Starts Anvil, or `None` (saying the test is skipped) when it is not installed.
    pub async fn start(test: &str) -> Option<Anvil> {
        let bin = std::env::var("ANVIL_BIN").ok().or_else(|| {
            let home = std::env::var("HOME").ok()?;
            let p = format!("{home}/.cache/stellar-monitor/node/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
            std::path::Path::new(&p).exists().then_some(p)
        });
        let Some(bin) = bin else {
            eprintln!("skipping {test}: Anvil is not installed (scripts/test.sh installs it)");
            return None;
        };
        let port = free_port();
        let child = Command::new(bin)
            .args([
                "--port",
                &port.to_string(),
                "--silent",
                "--chain-id",
                "31337",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("anvil starts");
        let anvil = Anvil {
            child,
            url: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if anvil.try_rpc("eth_chainId", json!([])).await.is_ok() {
                return Some(anvil);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("anvil did not start");
    }

    async fn try_rpc(&self, method: &str, params: Value) -> Result<Value, String> {
        let r: Value = self
            .http
            .post(&self.url)
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        match r.get("error") {
            Some(e) if !e.is_null() => Err(e.to_string()),
            _ => Ok(r["result"].clone()),
        }
    }

    pub async fn rpc(&self, method: &str, params: Value) -> Value {
        self.try_rpc(method, params)
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    pub async fn accounts(&self) -> Vec<String> {
        serde_json::from_value(self.rpc("eth_accounts", json!([])).await).unwrap()
    }

    pub async fn block_number(&self) -> u64 {
        u64::from_str_radix(
            self.rpc("eth_blockNumber", json!([]))
                .await
                .as_str()
                .unwrap()
                .trim_start_matches("0x"),
            16,
        )
        .unwrap()
    }

    pub async fn block_hash(&self, n: u64) -> String {
        self.rpc("eth_getBlockByNumber", json!([format!("0x{n:x}"), false]))
            .await["hash"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn automine(&self, on: bool) {
        self.rpc("evm_setAutomine", json!([on])).await;
    }

    pub async fn mine(&self) {
        self.rpc("evm_mine", json!([])).await;
    }

    pub async fn send(&self, from: &str, to: Option<&str>, data: &str) -> String {
        let mut tx = json!({"from": from, "data": data, "gas": "0x2dc6c0"});
        if let Some(to) = to {
            tx["to"] = to.into();
        }
        self.rpc("eth_sendTransaction", json!([tx]))
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn receipt(&self, hash: &str) -> Value {
        self.rpc("eth_getTransactionReceipt", json!([hash])).await
    }

    /// Deploys the test token with `supply` to `from`; returns its address.
    pub async fn deploy_token(&self, from: &str, supply: u64) -> String {
        let bytecode = token_artifact()["bytecode"].as_str().unwrap().to_owned();
        let data = format!("{bytecode}{supply:064x}");
        let hash = self.send(from, None, &data).await;
        let mut receipt = self.receipt(&hash).await;
        if receipt.is_null() {
            self.mine().await;
            receipt = self.receipt(&hash).await;
        }
        receipt["contractAddress"].as_str().unwrap().to_owned()
    }

    /// Sends `token.transfer(to, amount)` from `from` (not mined).
    pub async fn transfer(&self, token: &str, from: &str, to: &str, amount: u64) -> String {
        let to = to.trim_start_matches("0x");
        self.send(
            from,
            Some(token),
            &format!("0xa9059cbb{:0>64}{amount:064x}", to),
        )
        .await
    }
}
