//! Role-based access control with casbin: the model (`model.conf`) and the role
//! permissions (`policy.csv`) shipped with the binary, plus any extra policy lines an
//! operator stores (the `casbin_rule` table).

use casbin::{CoreApi, DefaultModel, Enforcer, MemoryAdapter, MgmtApi};

const MODEL: &str = include_str!("../model.conf");
const POLICY: &str = include_str!("../policy.csv");

/// The roles a member can hold in a tenant, most to least powerful.
pub const ROLES: [&str; 4] = ["owner", "admin", "editor", "viewer"];

/// What can be acted on. API key scopes name these (`monitors:read`).
pub const RESOURCES: [&str; 10] = [
    "tenant",
    "members",
    "monitors",
    "networks",
    "triggers",
    "alerts",
    "deliveries",
    "api_keys",
    "audit",
    "usage",
];

/// What can be done: read, or create/change/delete.
pub const ACTIONS: [&str; 2] = ["read", "write"];

#[derive(Debug, thiserror::Error)]
pub enum RbacError {
    #[error("casbin: {0}")]
    Casbin(#[from] casbin::Error),
    #[error("policy line {line}: {reason}")]
    Policy { line: usize, reason: String },
}

/// Policy rules (`p`) and grouping rules (`g`), each a list of fields.
type Rules = Vec<Vec<String>>;

/// Parses `p, a, b, c` / `g, a, b, c` lines; `#` starts a comment.
fn policy_lines(text: &str) -> Result<(Rules, Rules), RbacError> {
    let (mut p, mut g) = (Vec::new(), Vec::new());
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<String> = line.split(',').map(|f| f.trim().to_owned()).collect();
        match (fields.first().map(String::as_str), fields.len()) {
            (Some("p"), 5) => p.push(fields[1..].to_vec()),
            (Some("g"), 4) => g.push(fields[1..].to_vec()),
            _ => {
                return Err(RbacError::Policy {
                    line: i + 1,
                    reason: format!(
                        "expected `p, role, domain, resource, action` or `g, user, role, domain`: {line}"
                    ),
                });
            }
        }
    }
    Ok((p, g))
}

/// The loaded enforcer.
pub struct Rbac {
    enforcer: Enforcer,
}

impl std::fmt::Debug for Rbac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Rbac")
    }
}

impl Rbac {
    /// The shipped model and policy, plus `extra` policy lines (from `casbin_rule`).
    pub async fn load(extra: &[Vec<String>]) -> Result<Self, RbacError> {
        let model = DefaultModel::from_str(MODEL).await?;
        let mut enforcer = Enforcer::new(model, MemoryAdapter::default()).await?;
        let (p, g) = policy_lines(POLICY)?;
        enforcer.add_policies(p).await?;
        if !g.is_empty() {
            enforcer.add_grouping_policies(g).await?;
        }
        for rule in extra {
            match rule.split_first() {
                Some((ptype, rest)) if ptype == "p" => {
                    enforcer.add_policy(rest.to_vec()).await?;
                }
                Some((ptype, rest)) if ptype == "g" => {
                    enforcer.add_grouping_policy(rest.to_vec()).await?;
                }
                _ => {}
            }
        }
        Ok(Self { enforcer })
    }

    /// Whether `subject` (a role, or a user with grouping rules) may `action` `resource`
    /// in `domain` ([`tenant_domain`], or `platform`).
    pub fn allows(&self, subject: &str, domain: &str, resource: &str, action: &str) -> bool {
        self.enforcer
            .enforce((subject, domain, resource, action))
            .unwrap_or(false)
    }
}

/// The casbin domain of a tenant.
pub fn tenant_domain(tenant_id: &str) -> String {
    format!("tenant:{tenant_id}")
}

/// An API key scope: `resource:action`, `resource:*` or `*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    pub resource: String,
    pub action: String,
}

impl Scope {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text == "*" {
            return Ok(Self {
                resource: "*".into(),
                action: "*".into(),
            });
        }
        let (resource, action) = text
            .split_once(':')
            .ok_or_else(|| format!("scope {text:?} must be resource:action or *"))?;
        if !RESOURCES.contains(&resource) {
            return Err(format!(
                "unknown resource {resource:?} in scope {text:?} (one of {})",
                RESOURCES.join(", ")
            ));
        }
        if action != "*" && !ACTIONS.contains(&action) {
            return Err(format!(
                "unknown action {action:?} in scope {text:?} (read, write or *)"
            ));
        }
        Ok(Self {
            resource: resource.into(),
            action: action.into(),
        })
    }

    pub fn covers(&self, resource: &str, action: &str) -> bool {
        (self.resource == "*" || self.resource == resource)
            && (self.action == "*" || self.action == action)
    }

    /// Every (resource, action) pair this scope covers.
    pub fn pairs(&self) -> Vec<(&'static str, &'static str)> {
        RESOURCES
            .iter()
            .flat_map(|r| ACTIONS.iter().map(move |a| (*r, *a)))
            .filter(|(r, a)| self.covers(r, a))
            .collect()
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.resource == "*" {
            f.write_str("*")
        } else {
            write!(f, "{}:{}", self.resource, self.action)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_role_matrix() {
        let rbac = Rbac::load(&[]).await.unwrap();
        let t = &tenant_domain("1");
        // (role, resource, action, allowed)
        let matrix = [
            ("owner", "members", "write", true),
            ("owner", "tenant", "manage", true),
            ("admin", "members", "write", true),
            ("admin", "tenant", "manage", false),
            ("admin", "audit", "read", true),
            ("admin", "api_keys", "write", true),
            ("editor", "monitors", "write", true),
            ("editor", "members", "write", false),
            ("editor", "api_keys", "read", false),
            ("editor", "audit", "read", false),
            ("viewer", "monitors", "read", true),
            ("viewer", "monitors", "write", false),
            ("viewer", "deliveries", "write", false),
            ("platform_admin", "monitors", "read", false),
            ("stranger", "monitors", "read", false),
        ];
        for (role, resource, action, allowed) in matrix {
            assert_eq!(
                rbac.allows(role, t, resource, action),
                allowed,
                "{role} {resource}:{action}"
            );
        }
        assert!(rbac.allows("platform_admin", "platform", "networks", "write"));
        // Tenant roles mean nothing on the platform, and the reverse.
        assert!(!rbac.allows("owner", "platform", "networks", "write"));
        assert!(!rbac.allows("admin", "platform", "networks", "write"));
    }

    #[tokio::test]
    async fn extra_rules_apply() {
        let extra = vec![vec![
            "p".to_owned(),
            "auditor".into(),
            tenant_domain("9"),
            "audit".into(),
            "read".into(),
        ]];
        let rbac = Rbac::load(&extra).await.unwrap();
        assert!(rbac.allows("auditor", &tenant_domain("9"), "audit", "read"));
        assert!(!rbac.allows("auditor", &tenant_domain("8"), "audit", "read"));
    }

    #[test]
    fn scopes() {
        assert!(
            Scope::parse("monitors:read")
                .unwrap()
                .covers("monitors", "read")
        );
        assert!(
            !Scope::parse("monitors:read")
                .unwrap()
                .covers("monitors", "write")
        );
        assert!(Scope::parse("*").unwrap().covers("audit", "read"));
        assert_eq!(Scope::parse("alerts:*").unwrap().pairs().len(), 2);
        assert!(Scope::parse("monitors").is_err());
        assert!(
            Scope::parse("rockets:read")
                .unwrap_err()
                .contains("unknown resource")
        );
        assert!(
            Scope::parse("monitors:delete")
                .unwrap_err()
                .contains("unknown action")
        );
    }
}
