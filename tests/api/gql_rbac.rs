//! The role × operation matrix, against the casbin policies: for every role and every
//! guarded operation, the API allows exactly what the policy file allows.

use policies::{Rbac, tenant_domain};
use serde_json::json;

use crate::gql::{Client, code};
use crate::helpers::spawn_app_sqlite;

/// (resource, action, operation). Write operations target ids that do not exist, so an
/// allowed call answers NOT_FOUND (or a user error) and changes nothing.
fn operations() -> Vec<(&'static str, &'static str, String)> {
    let missing = "00000000-0000-7000-8000-000000000000";
    vec![
        ("tenant", "read", "{ tenant { slug } }".into()),
        ("members", "read", "{ members { email } }".into()),
        (
            "members",
            "write",
            format!("mutation {{ removeMember(input: {{userId: \"{missing}\"}}) {{ id }} }}"),
        ),
        ("networks", "read", "{ networks { slug } }".into()),
        (
            "networks",
            "write",
            format!("mutation {{ deleteNetwork(input: {{id: \"{missing}\"}}) {{ id }} }}"),
        ),
        (
            "monitors",
            "read",
            "{ monitors { edges { node { id } } } }".into(),
        ),
        (
            "monitors",
            "write",
            format!("mutation {{ deleteMonitor(input: {{id: \"{missing}\"}}) {{ id }} }}"),
        ),
        ("triggers", "read", "{ triggers { slug } }".into()),
        (
            "triggers",
            "write",
            format!("mutation {{ deleteTrigger(input: {{id: \"{missing}\"}}) {{ id }} }}"),
        ),
        ("api_keys", "read", "{ apiKeys { id } }".into()),
        (
            "api_keys",
            "write",
            format!(
                "mutation {{ revokeApiKey(input: {{id: \"{missing}\"}}) {{ apiKey {{ id }} }} }}"
            ),
        ),
        (
            "alerts",
            "read",
            "{ alerts { edges { node { id } } } }".into(),
        ),
        (
            "deliveries",
            "read",
            "{ deliveries { edges { node { id } } } }".into(),
        ),
        (
            "deliveries",
            "write",
            format!(
                "mutation {{ redeliver(input: {{id: \"{missing}\"}}) {{ delivery {{ id }} }} }}"
            ),
        ),
        (
            "audit",
            "read",
            "{ auditLogs { edges { node { seq } } } verifyAuditChain { ok } }".into(),
        ),
        ("usage", "read", "{ usage { monitors } }".into()),
    ]
}

#[tokio::test]
async fn every_role_can_do_exactly_what_the_policy_says() {
    let app = spawn_app_sqlite().await;
    let owner = app.owner("matrix").await;
    let tenant_id = app.gql(&owner, "{ tenant { id } }", json!({})).await["data"]["tenant"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let rbac = Rbac::load(&[]).await.unwrap();
    let mut clients = vec![("owner", owner.clone())];
    for role in ["admin", "editor", "viewer"] {
        let r = app
            .gql(&owner, "mutation($e: String!, $r: String!) { inviteMember(input: {email: $e, role: $r}) { token } }", json!({"e": format!("{role}@matrix.example"), "r": role}))
            .await;
        let token = r["data"]["inviteMember"]["token"]
            .as_str()
            .unwrap_or_else(|| panic!("{r}"))
            .to_owned();
        let r = app
            .gql(&Client::default(), "mutation($t: String!) { acceptInvitation(input: {token: $t, password: \"member password 1\"}) { accessToken } }", json!({"t": token}))
            .await;
        clients.push((
            role,
            Client::bearer(
                r["data"]["acceptInvitation"]["accessToken"]
                    .as_str()
                    .unwrap(),
            ),
        ));
    }
    let mut checked = 0;
    for (role, client) in &clients {
        let r = app.gql(client, "{ tenant { role } }", json!({})).await;
        assert_eq!(r["data"]["tenant"]["role"], *role);
        for (resource, action, op) in operations() {
            let expected = rbac.allows(role, &tenant_domain(&tenant_id), resource, action);
            let r = app.gql(client, &op, json!({})).await;
            let forbidden = code(&r) == Some("FORBIDDEN");
            assert_eq!(!forbidden, expected, "{role} {resource}:{action}: {r}");
            if expected {
                assert!(
                    matches!(code(&r), None | Some("NOT_FOUND")),
                    "{role} {resource}:{action}: {r}"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 4 * operations().len());

    // Owner-only rules beyond the matrix: an admin cannot make an owner.
    let admin = &clients[1].1;
    let r = app.gql(admin, "mutation { inviteMember(input: {email: \"o2@matrix.example\", role: \"owner\"}) { token } }", json!({})).await;
    assert_eq!(code(&r), Some("FORBIDDEN"));
    // The last owner cannot be demoted.
    let members = app
        .gql(&owner, "{ members { userId role } }", json!({}))
        .await;
    let owner_id = members["data"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "owner")
        .unwrap()["userId"]
        .clone();
    let r = app.gql(&owner, "mutation($u: ID!) { changeMemberRole(input: {userId: $u, role: \"viewer\"}) { role } }", json!({"u": owner_id})).await;
    assert_eq!(code(&r), Some("CONFLICT"), "{r}");
}
