//! Services: the API's operations as plain async functions over the database, called by
//! the resolvers (which hold no SQL) and by the CLI.

pub mod accounts;
pub mod alerts;
pub mod api_keys;
pub mod dry_run;
pub mod import;
pub mod members;
pub mod monitors;
pub mod networks;
pub mod triggers;

use serde::Serialize;

/// A problem with user input, with the path of the field it concerns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, async_graphql::SimpleObject)]
pub struct UserError {
    /// Path of the offending field, e.g. `["input", "ozJson", "match_conditions", "events", "0", "expression"]`.
    pub field: Vec<String>,
    pub message: String,
}

impl UserError {
    pub fn new(field: &[&str], message: impl Into<String>) -> Self {
        Self {
            field: field.iter().map(|s| (*s).to_owned()).collect(),
            message: message.into(),
        }
    }

    /// From a config problem (JSON path `$.a.b[0].c`) under `prefix`.
    pub fn from_problem(prefix: &[&str], problem: &monitor::config::Problem) -> Self {
        let mut field: Vec<String> = prefix.iter().map(|s| (*s).to_owned()).collect();
        field.extend(json_path_segments(&problem.path));
        Self {
            field,
            message: problem.message.clone(),
        }
    }
}

/// `$.a.b[0].c` → `["a", "b", "0", "c"]`.
pub fn json_path_segments(path: &str) -> Vec<String> {
    path.trim_start_matches('$')
        .split(['.', '['])
        .map(|s| s.trim_end_matches(']'))
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Whether a tenant slug is valid: 2–63 characters of `[a-z0-9-]`, starting with a
/// letter or digit.
pub fn valid_tenant_slug(slug: &str) -> bool {
    (2..=63).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
}

/// Longest name accepted for tenants, monitors, triggers, keys.
pub const MAX_NAME: usize = 200;

/// Checks a script of a trigger condition or script trigger at `at` (a JSON path): the
/// source must be inline, Lua must compile, and host languages need the operator's
/// switch.
pub fn check_script(
    problems: &mut monitor::config::Problems,
    at: &str,
    language: monitor::config::ScriptLanguage,
    script: Option<&str>,
    host_scripts: bool,
) {
    let Some(source) = script.filter(|s| !s.trim().is_empty()) else {
        problems.add(
            format!("{at}.script"),
            "the script itself is required: the platform stores scripts inline (`script`), not as file paths",
        );
        return;
    };
    if language.is_host() {
        if !host_scripts {
            problems.add(
                format!("{at}.language"),
                format!(
                    "{language:?} scripts run as host processes, which this platform does not allow (operator switch SCRIPTS_ALLOW_HOST); write the script in Lua, which runs in the sandbox"
                ),
            );
        } else if source.len() > monitor::sandbox::MAX_SOURCE {
            problems.add(format!("{at}.script"), "the script is longer than 64 KiB");
        }
        return;
    }
    if let Err(e) = monitor::sandbox::compile(source) {
        problems.add(format!("{at}.script"), e.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_slugs() {
        assert_eq!(
            json_path_segments("$.match_conditions.events[0].expression"),
            ["match_conditions", "events", "0", "expression"]
        );
        assert!(json_path_segments("$").is_empty());
        assert!(valid_tenant_slug("acme-1"));
        for bad in ["a", "-acme", "Acme", "acme_1", &"a".repeat(64)] {
            assert!(!valid_tenant_slug(bad), "{bad}");
        }
    }
}
