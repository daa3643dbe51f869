//! A GraphQL client for tests, and shortcuts that read like the API.

use serde_json::{Value, json};

use crate::helpers::TestApp;

/// Credentials and tenant a request is sent with.
#[derive(Clone, Debug, Default)]
pub struct Client {
    pub bearer: Option<String>,
    pub api_key: Option<String>,
    pub tenant: Option<String>,
}

impl Client {
    pub fn bearer(token: &str) -> Self {
        Self {
            bearer: Some(token.to_owned()),
            ..Default::default()
        }
    }

    pub fn in_tenant(mut self, slug: &str) -> Self {
        self.tenant = Some(slug.to_owned());
        self
    }
}

/// The first error's code, if any.
pub fn code(response: &Value) -> Option<&str> {
    response["errors"][0]["extensions"]["code"].as_str()
}

impl TestApp {
    pub async fn gql(&self, client: &Client, query: &str, variables: Value) -> Value {
        let mut request = self
            .http
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(b) = &client.bearer {
            request = request.bearer_auth(b);
        }
        if let Some(k) = &client.api_key {
            request = request.header("x-api-key", k);
        }
        if let Some(t) = &client.tenant {
            request = request.header("x-tenant", t);
        }
        let response = request.send().await.expect("request");
        response.json().await.expect("GraphQL answers JSON")
    }

    /// Registers a user owning a new tenant; returns (access token, refresh token).
    pub async fn register(&self, email: &str, slug: &str) -> (String, String) {
        let r = self
            .gql(
                &Client::default(),
                "mutation($e: String!, $s: String!) { register(input: {email: $e, password: \"correct horse battery\", tenantName: $s, tenantSlug: $s}) { accessToken refreshToken } }",
                json!({"e": email, "s": slug}),
            )
            .await;
        let tokens = &r["data"]["register"];
        assert!(tokens.is_object(), "register failed: {r}");
        (
            tokens["accessToken"].as_str().unwrap().to_owned(),
            tokens["refreshToken"].as_str().unwrap().to_owned(),
        )
    }

    /// A client of a freshly registered owner.
    pub async fn owner(&self, slug: &str) -> Client {
        let (access, _) = self.register(&format!("owner@{slug}.example"), slug).await;
        Client::bearer(&access)
    }

    /// Creates a private EVM network `slug`; returns its id.
    pub async fn network(&self, c: &Client, slug: &str) -> String {
        let r = self
            .gql(
                c,
                "mutation($n: JSON!) { createPrivateNetwork(input: {ozJson: $n}) { network { id } userErrors { field message } } }",
                json!({"n": evm_network(slug)}),
            )
            .await;
        r["data"]["createPrivateNetwork"]["network"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("network: {r}"))
            .to_owned()
    }

    /// Creates a private EVM network on `url` with `confirmations`; returns its id.
    pub async fn network_at(
        &self,
        c: &Client,
        slug: &str,
        urls: &[(&str, u32)],
        confirmations: u64,
    ) -> String {
        let mut n = evm_network(slug);
        n["rpc_urls"] = urls
            .iter()
            .map(|(url, weight)| json!({"type_": "rpc", "url": {"type": "plain", "value": url}, "weight": weight}))
            .collect();
        n["confirmation_blocks"] = confirmations.into();
        n["block_time_ms"] = 200.into();
        let r = self
            .gql(c, "mutation($n: JSON!) { createPrivateNetwork(input: {ozJson: $n}) { network { id } userErrors { field message } } }", json!({"n": n}))
            .await;
        r["data"]["createPrivateNetwork"]["network"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("network: {r}"))
            .to_owned()
    }

    /// Creates a webhook trigger `slug`; returns its id.
    pub async fn trigger(&self, c: &Client, slug: &str) -> String {
        let r = self
            .gql(
                c,
                "mutation($s: String!, $t: JSON!) { createTrigger(input: {slug: $s, ozJson: $t}) { trigger { id } userErrors { field message } } }",
                json!({"s": slug, "t": webhook_trigger("https://hooks.example/secret-path")}),
            )
            .await;
        r["data"]["createTrigger"]["trigger"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("trigger: {r}"))
            .to_owned()
    }

    /// Creates a monitor from OZ JSON; returns the whole response.
    pub async fn create_monitor(&self, c: &Client, monitor: Value) -> Value {
        self.gql(
            c,
            "mutation($m: JSON!) { createMonitor(input: {draft: {ozJson: $m}}) { monitor { id name version } userErrors { field message } } }",
            json!({"m": monitor}),
        )
        .await
    }
}

pub fn evm_network(slug: &str) -> Value {
    json!({
        "network_type": "EVM", "slug": slug, "name": slug,
        "rpc_urls": [{"type_": "rpc", "url": {"type": "plain", "value": "http://127.0.0.1:8545/?key=private"}, "weight": 100}],
        "chain_id": 31337, "block_time_ms": 1000, "confirmation_blocks": 1, "cron_schedule": "*/5 * * * * *"
    })
}

pub fn webhook_trigger(url: &str) -> Value {
    json!({"name": "Ops webhook", "trigger_type": "webhook", "config": {
        "url": {"type": "plain", "value": url}, "method": "POST",
        "secret": {"type": "plain", "value": "hmac-secret-value"},
        "message": {"title": "${monitor.name}", "body": "tx ${transaction.hash}"}}})
}

/// An ERC-20 transfer monitor on `network`.
pub fn monitor(name: &str, network: &str, triggers: &[&str]) -> Value {
    json!({
        "name": name, "networks": [network], "paused": false,
        "addresses": [{"address": "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", "contract_spec": monitor::loadgen::erc20_abi()}],
        "match_conditions": {"functions": [], "events": [{"signature": "Transfer(address,address,uint256)", "expression": "value > 1000"}], "transactions": []},
        "trigger_conditions": [],
        "triggers": triggers
    })
}

/// The cursor of alert `id` (as the `alerts` query and feed give it).
pub fn cursor_of(id: i64) -> String {
    graphql::connection::encode(&id.to_string())
}
