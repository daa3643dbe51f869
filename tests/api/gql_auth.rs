//! Authentication: sessions, refresh rotation, logout, and every token attack we know.

use base64::Engine as _;
use serde_json::json;

use crate::gql::{Client, code};
use crate::helpers::spawn_app_sqlite;

const TENANT_QUERY: &str = "{ tenant { slug role } }";

#[tokio::test]
async fn register_login_refresh_and_logout() {
    let app = spawn_app_sqlite().await;
    let (access, refresh) = app.register("alice@example.com", "acme").await;
    let r = app
        .gql(&Client::bearer(&access), TENANT_QUERY, json!({}))
        .await;
    assert_eq!(
        r["data"]["tenant"],
        json!({"slug": "acme", "role": "owner"})
    );

    // Wrong password and unknown user: the same answer.
    for (email, password) in [
        ("alice@example.com", "wrong password!!"),
        ("nobody@example.com", "correct horse battery"),
    ] {
        let r = app
            .gql(&Client::default(), "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { accessToken } }", json!({"e": email, "p": password}))
            .await;
        assert_eq!(code(&r), Some("UNAUTHENTICATED"), "{r}");
    }
    let r = app
        .gql(&Client::default(), "mutation { login(input: {email: \"ALICE@example.com\", password: \"correct horse battery\"}) { accessToken } }", json!({}))
        .await;
    assert!(r["data"]["login"]["accessToken"].is_string(), "{r}");

    // Refresh rotates: the new pair works, the old refresh token is now a reuse.
    let r = app
        .gql(&Client::default(), "mutation($t: String!) { refreshToken(input: {refreshToken: $t}) { accessToken refreshToken } }", json!({"t": refresh}))
        .await;
    let rotated = r["data"]["refreshToken"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let new_access = r["data"]["refreshToken"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(rotated, refresh);
    assert_eq!(
        app.gql(&Client::bearer(&new_access), TENANT_QUERY, json!({}))
            .await["data"]["tenant"]["slug"],
        "acme"
    );
    let reuse = app
        .gql(
            &Client::default(),
            "mutation($t: String!) { refreshToken(input: {refreshToken: $t}) { accessToken } }",
            json!({"t": refresh}),
        )
        .await;
    assert_eq!(code(&reuse), Some("UNAUTHENTICATED"));
    // Reuse revoked the whole family: the rotated token is dead too.
    let after = app
        .gql(
            &Client::default(),
            "mutation($t: String!) { refreshToken(input: {refreshToken: $t}) { accessToken } }",
            json!({"t": rotated}),
        )
        .await;
    assert_eq!(code(&after), Some("UNAUTHENTICATED"));

    // Logout revokes the family of the token given.
    let r = app
        .gql(&Client::default(), "mutation { login(input: {email: \"alice@example.com\", password: \"correct horse battery\"}) { refreshToken } }", json!({}))
        .await;
    let token = r["data"]["login"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .gql(
            &Client::default(),
            "mutation($t: String!) { logout(input: {refreshToken: $t}) { ok } }",
            json!({"t": token}),
        )
        .await;
    assert_eq!(r["data"]["logout"]["ok"], true);
    let r = app
        .gql(
            &Client::default(),
            "mutation($t: String!) { refreshToken(input: {refreshToken: $t}) { accessToken } }",
            json!({"t": token}),
        )
        .await;
    assert_eq!(code(&r), Some("UNAUTHENTICATED"));

    // The audit log saw it all.
    let r = app
        .gql(
            &Client::bearer(&new_access),
            "{ auditLogs(first: 50) { edges { node { action } } } }",
            json!({}),
        )
        .await;
    let actions: Vec<&str> = r["data"]["auditLogs"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["action"].as_str().unwrap())
        .collect();
    for expected in [
        "auth.register",
        "auth.login_failed",
        "auth.login",
        "auth.refresh_token_reused",
        "auth.logout",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} missing from {actions:?}"
        );
    }
}

#[tokio::test]
async fn forged_and_misused_tokens_are_refused() {
    let app = spawn_app_sqlite().await;
    let (access, refresh) = app.register("bob@example.com", "bobco").await;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = access.split('.').collect();
    let header: serde_json::Value = serde_json::from_slice(&b64.decode(parts[0]).unwrap()).unwrap();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();

    let mut none_header = header.clone();
    none_header["alg"] = "none".into();
    let alg_none = format!("{}.{}.", b64.encode(none_header.to_string()), parts[1]);

    let wrong_key = {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        h.kid = header["kid"].as_str().map(str::to_owned);
        jsonwebtoken::encode(
            &h,
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(b"not-the-server-key-not-the-key!!"),
        )
        .unwrap()
    };

    let original_sub = claims["sub"].clone();
    claims["sub"] = uuid::Uuid::new_v4().to_string().into();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64.encode(claims.to_string()),
        parts[2]
    );
    claims["sub"] = original_sub;
    claims["exp"] = (chrono::Utc::now().timestamp() - 60).into();
    let expired_unsigned = format!(
        "{}.{}.{}",
        parts[0],
        b64.encode(claims.to_string()),
        parts[2]
    );

    for (what, token) in [
        ("alg none", alg_none.as_str()),
        ("wrong key", wrong_key.as_str()),
        ("tampered claims", tampered.as_str()),
        ("expired (re-encoded)", expired_unsigned.as_str()),
        ("refresh token as access token", refresh.as_str()),
        ("garbage", "hello"),
    ] {
        let r = app
            .gql(&Client::bearer(token), TENANT_QUERY, json!({}))
            .await;
        assert_eq!(code(&r), Some("UNAUTHENTICATED"), "{what}: {r}");
        assert!(
            r["data"].is_null() || r["data"]["tenant"].is_null(),
            "{what} leaked data: {r}"
        );
    }
}

#[tokio::test]
async fn api_keys_act_within_their_scopes_and_die_when_revoked() {
    let app = spawn_app_sqlite().await;
    let owner = app.owner("keys").await;
    let r = app
        .gql(&owner, "mutation { createApiKey(input: {name: \"ci\", scopes: [\"monitors:read\"]}) { key apiKey { id scopes } } }", json!({}))
        .await;
    let key = r["data"]["createApiKey"]["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let key_id = r["data"]["createApiKey"]["apiKey"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(key.starts_with("smk_"));

    let as_key = Client {
        api_key: Some(key.clone()),
        ..Default::default()
    };
    let bearer_key = Client::bearer(&key);
    for c in [&as_key, &bearer_key] {
        let ok = app
            .gql(c, "{ monitors { edges { node { id } } } }", json!({}))
            .await;
        assert!(ok["errors"].is_null(), "{ok}");
        let r = app
            .create_monitor(c, crate::gql::monitor("x", "eth", &[]))
            .await;
        assert_eq!(code(&r), Some("FORBIDDEN"), "beyond its scopes: {r}");
        let r = app
            .gql(c, "{ alerts { edges { node { id } } } }", json!({}))
            .await;
        assert_eq!(code(&r), Some("FORBIDDEN"));
        // A key cannot mint keys.
        let r = app
            .gql(
                c,
                "mutation { createApiKey(input: {name: \"k2\", scopes: [\"*\"]}) { key } }",
                json!({}),
            )
            .await;
        assert_eq!(code(&r), Some("FORBIDDEN"));
        // A key acts in its own tenant only.
        let r = app
            .gql(
                &Client {
                    tenant: Some("other".into()),
                    ..c.clone()
                },
                "{ tenant { slug } }",
                json!({}),
            )
            .await;
        assert_eq!(code(&r), Some("FORBIDDEN"));
    }

    // Scopes wider than the creator's role are refused at creation.
    let r = app.gql(&owner, "mutation { inviteMember(input: {email: \"v@keys.example\", role: \"viewer\"}) { token } }", json!({})).await;
    let token = r["data"]["inviteMember"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .gql(&Client::default(), "mutation($t: String!) { acceptInvitation(input: {token: $t, password: \"viewer password 1\"}) { accessToken } }", json!({"t": token}))
        .await;
    let viewer = Client::bearer(
        r["data"]["acceptInvitation"]["accessToken"]
            .as_str()
            .unwrap(),
    );
    let r = app
        .gql(
            &viewer,
            "mutation { createApiKey(input: {name: \"v\", scopes: [\"monitors:write\"]}) { key } }",
            json!({}),
        )
        .await;
    assert_eq!(
        code(&r),
        Some("FORBIDDEN"),
        "viewers cannot create keys: {r}"
    );

    // Revoked: refused, and the attempt is in the audit log.
    let r = app
        .gql(
            &owner,
            "mutation($id: ID!) { revokeApiKey(input: {id: $id}) { apiKey { revokedAt } } }",
            json!({"id": key_id}),
        )
        .await;
    assert!(
        r["data"]["revokeApiKey"]["apiKey"]["revokedAt"].is_string(),
        "{r}"
    );
    let r = app
        .gql(&as_key, "{ monitors { edges { node { id } } } }", json!({}))
        .await;
    assert_eq!(code(&r), Some("UNAUTHENTICATED"));
    let r = app.gql(&owner, "{ auditLogs(filter: {actions: [\"auth.revoked_key_used\"]}) { edges { node { action resourceId } } } }", json!({})).await;
    assert_eq!(
        r["data"]["auditLogs"]["edges"][0]["node"]["resourceId"], key_id,
        "{r}"
    );

    // A malformed key with a real id is refused without revealing anything.
    let forged = format!("smk_{}_{}", key_id.replace('-', ""), "A".repeat(43));
    let r = app
        .gql(
            &Client {
                api_key: Some(forged),
                ..Default::default()
            },
            "{ tenant { slug } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&r), Some("UNAUTHENTICATED"));
}
