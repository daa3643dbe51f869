//! Triggers, as OZ Monitor's `triggers/*.json` describe them: where alerts go.
//! Fixed relative to OZ: a `trigger_type` whose config has another type's shape is an
//! error, not silently accepted.

use std::collections::BTreeMap;
use std::path::Path;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::monitor::{ScriptLanguage, resolve_script};
use super::network::validate_http_url;
use super::problem::Problems;
use super::retry::RetryPolicy;
use super::secret::SecretValue;

/// Longest Discord message body, in bytes.
pub const DISCORD_MAX_BODY: usize = 2000;
/// Longest Telegram message body, in bytes.
pub const TELEGRAM_MAX_BODY: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TriggerType {
    Slack,
    Discord,
    Telegram,
    Email,
    Webhook,
    Script,
}

impl TriggerType {
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerType::Slack => "slack",
            TriggerType::Discord => "discord",
            TriggerType::Telegram => "telegram",
            TriggerType::Email => "email",
            TriggerType::Webhook => "webhook",
            TriggerType::Script => "script",
        }
    }
}

/// A notification's text: both templated with `${...}` placeholders.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Message {
    pub title: String,
    pub body: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    pub slack_url: SecretValue,
    pub message: Message,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_policy: Option<RetryPolicy>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordConfig {
    pub discord_url: SecretValue,
    pub message: Message,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_policy: Option<RetryPolicy>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramConfig {
    pub token: SecretValue,
    pub chat_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_web_preview: Option<bool>,
    pub message: Message,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_policy: Option<RetryPolicy>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    pub host: String,
    /// 465 (implicit TLS) when absent; 587 means STARTTLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    pub username: SecretValue,
    pub password: SecretValue,
    pub message: Message,
    pub sender: String,
    pub recipients: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_policy: Option<RetryPolicy>,
    /// Ours, not OZ's: how to secure the connection. By default implicit TLS on port
    /// 465 and STARTTLS (required) on any other port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<SmtpTls>,
}

/// How an SMTP connection is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// TLS from the first byte (SMTPS, usually port 465).
    Implicit,
    /// Plain connection upgraded with STARTTLS, which is required (usually port 587).
    Starttls,
    /// No encryption: only where the operator allows it (local relays).
    None,
}

impl EmailConfig {
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(465)
    }

    pub fn tls(&self) -> SmtpTls {
        self.tls.unwrap_or(if self.port() == 465 {
            SmtpTls::Implicit
        } else {
            SmtpTls::Starttls
        })
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PayloadMode {
    /// `{"title", "body"}` from the message templates.
    #[default]
    Template,
    /// The match itself, as JSON.
    Raw,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: SecretValue,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretValue>,
    /// Ours, not OZ's: the secret being rotated out. While set, requests also carry
    /// `X-Signature-Previous`, so receivers can switch keys without missing alerts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret: Option<SecretValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Message>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_mode: Option<PayloadMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_policy: Option<RetryPolicy>,
}

impl WebhookConfig {
    /// The HTTP method, POST when absent.
    pub fn method(&self) -> String {
        self.method
            .as_deref()
            .unwrap_or("POST")
            .to_ascii_uppercase()
    }

    pub fn payload_mode(&self) -> PayloadMode {
        self.payload_mode.unwrap_or_default()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptConfig {
    pub language: ScriptLanguage,
    /// Where the script lives (OZ config directories); empty when it is inline.
    #[serde(default)]
    pub script_path: String,
    /// Ours, not OZ's: the script itself. The platform stores scripts inline (import
    /// reads `script_path` into it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Vec<String>>,
    pub timeout_ms: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_policy: Option<RetryPolicy>,
}

/// A trigger's configuration, shaped by its type.
#[derive(Clone, Debug, PartialEq)]
pub enum TriggerConfig {
    Slack(SlackConfig),
    Discord(DiscordConfig),
    Telegram(TelegramConfig),
    Email(EmailConfig),
    Webhook(WebhookConfig),
    Script(ScriptConfig),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Trigger {
    pub name: String,
    pub config: TriggerConfig,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    name: String,
    trigger_type: TriggerType,
    config: serde_json::Value,
}

fn typed<T: serde::de::DeserializeOwned, E: serde::de::Error>(
    kind: TriggerType,
    value: serde_json::Value,
) -> Result<T, E> {
    serde_path_to_error::deserialize(value).map_err(
        |e: serde_path_to_error::Error<serde_json::Error>| {
            let path = e.path().to_string();
            let at = if path == "." {
                String::new()
            } else {
                format!(" at config.{path}")
            };
            E::custom(format!(
                "{} trigger config{at}: {}",
                kind.as_str(),
                e.inner()
            ))
        },
    )
}

impl<'de> Deserialize<'de> for Trigger {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let wire = Wire::deserialize(d)?;
        if !wire.config.is_object() {
            return Err(D::Error::custom("config must be an object"));
        }
        let kind = wire.trigger_type;
        let config = match kind {
            TriggerType::Slack => TriggerConfig::Slack(typed(kind, wire.config)?),
            TriggerType::Discord => TriggerConfig::Discord(typed(kind, wire.config)?),
            TriggerType::Telegram => TriggerConfig::Telegram(typed(kind, wire.config)?),
            TriggerType::Email => TriggerConfig::Email(typed(kind, wire.config)?),
            TriggerType::Webhook => TriggerConfig::Webhook(typed(kind, wire.config)?),
            TriggerType::Script => TriggerConfig::Script(typed(kind, wire.config)?),
        };
        Ok(Trigger {
            name: wire.name,
            config,
        })
    }
}

impl Serialize for Trigger {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error as _;
        let config = match &self.config {
            TriggerConfig::Slack(c) => serde_json::to_value(c),
            TriggerConfig::Discord(c) => serde_json::to_value(c),
            TriggerConfig::Telegram(c) => serde_json::to_value(c),
            TriggerConfig::Email(c) => serde_json::to_value(c),
            TriggerConfig::Webhook(c) => serde_json::to_value(c),
            TriggerConfig::Script(c) => serde_json::to_value(c),
        }
        .map_err(S::Error::custom)?;
        Wire {
            name: self.name.clone(),
            trigger_type: self.trigger_type(),
            config,
        }
        .serialize(s)
    }
}

/// Whether `token` has the shape of a Telegram bot token: `<digits>:<35 characters>`.
pub fn valid_telegram_token(token: &str) -> bool {
    match token.split_once(':') {
        Some((id, secret)) => {
            !id.is_empty()
                && id.bytes().all(|b| b.is_ascii_digit())
                && secret.len() == 35
                && secret
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        }
        None => false,
    }
}

/// A deliberately plain email address check: one `@`, a non-empty local part, a dotted
/// domain, no whitespace or control characters.
pub fn valid_email(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !address.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn valid_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

impl Trigger {
    pub fn trigger_type(&self) -> TriggerType {
        match &self.config {
            TriggerConfig::Slack(_) => TriggerType::Slack,
            TriggerConfig::Discord(_) => TriggerType::Discord,
            TriggerConfig::Telegram(_) => TriggerType::Telegram,
            TriggerConfig::Email(_) => TriggerType::Email,
            TriggerConfig::Webhook(_) => TriggerType::Webhook,
            TriggerConfig::Script(_) => TriggerType::Script,
        }
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        match &self.config {
            TriggerConfig::Slack(c) => c.retry_policy,
            TriggerConfig::Discord(c) => c.retry_policy,
            TriggerConfig::Telegram(c) => c.retry_policy,
            TriggerConfig::Email(c) => c.retry_policy,
            TriggerConfig::Webhook(c) => c.retry_policy,
            TriggerConfig::Script(c) => c.retry_policy,
        }
        .unwrap_or_default()
    }

    /// Every problem with this trigger; `at` is its JSON path (`$.<key>` in a file).
    pub fn validate(&self, at: &str, config_dir: Option<&Path>, problems: &mut Problems) {
        if self.name.trim().is_empty() {
            problems.add(format!("{at}.name"), "name must not be empty");
        }
        let cfg = format!("{at}.config");
        let check_url = |problems: &mut Problems, field: &str, secret: &SecretValue| {
            if let Some(url) = secret.plain()
                && let Err(e) = validate_http_url(url)
            {
                problems.add(format!("{cfg}.{field}.value"), e);
            }
        };
        let check_message = |problems: &mut Problems, m: &Message, max_body: Option<usize>| {
            if m.title.contains(['\r', '\n']) {
                problems.add(format!("{cfg}.message.title"), "title must be one line");
            }
            if let Some(max) = max_body
                && m.body.len() > max
            {
                problems.add(
                    format!("{cfg}.message.body"),
                    format!("body is {} bytes; at most {max} allowed", m.body.len()),
                );
            }
        };
        match &self.config {
            TriggerConfig::Slack(c) => {
                check_url(problems, "slack_url", &c.slack_url);
                check_message(problems, &c.message, None);
            }
            TriggerConfig::Discord(c) => {
                check_url(problems, "discord_url", &c.discord_url);
                check_message(problems, &c.message, Some(DISCORD_MAX_BODY));
            }
            TriggerConfig::Telegram(c) => {
                if let Some(token) = c.token.plain()
                    && !valid_telegram_token(token)
                {
                    problems.add(
                        format!("{cfg}.token.value"),
                        "not a Telegram bot token (expected <digits>:<35 letters, digits, - or _>)",
                    );
                }
                if c.chat_id.trim().is_empty() {
                    problems.add(format!("{cfg}.chat_id"), "chat_id must not be empty");
                }
                check_message(problems, &c.message, Some(TELEGRAM_MAX_BODY));
            }
            TriggerConfig::Email(c) => {
                if c.host.trim().is_empty() || c.host.contains(['/', ' ', ':']) {
                    problems.add(
                        format!("{cfg}.host"),
                        format!("{:?} is not a host name", c.host),
                    );
                }
                if c.port == Some(0) {
                    problems.add(format!("{cfg}.port"), "port must be between 1 and 65535");
                }
                if !valid_email(&c.sender) {
                    problems.add(
                        format!("{cfg}.sender"),
                        format!("{:?} is not an email address", c.sender),
                    );
                }
                if c.recipients.is_empty() {
                    problems.add(
                        format!("{cfg}.recipients"),
                        "at least one recipient is required",
                    );
                }
                for (i, r) in c.recipients.iter().enumerate() {
                    if !valid_email(r) {
                        problems.add(
                            format!("{cfg}.recipients[{i}]"),
                            format!("{r:?} is not an email address"),
                        );
                    }
                }
                check_message(problems, &c.message, None);
            }
            TriggerConfig::Webhook(c) => {
                check_url(problems, "url", &c.url);
                if let Some(m) = &c.method
                    && !["GET", "POST", "PUT", "DELETE"].contains(&m.to_ascii_uppercase().as_str())
                {
                    problems.add(
                        format!("{cfg}.method"),
                        format!("method {m:?} must be GET, POST, PUT or DELETE"),
                    );
                }
                for (name, value) in c.headers.iter().flatten() {
                    if !valid_header_name(name) {
                        problems.add(
                            format!("{cfg}.headers"),
                            format!("{name:?} is not a valid header name"),
                        );
                    }
                    if value.contains(['\r', '\n']) {
                        problems.add(
                            format!("{cfg}.headers.{name}"),
                            "header values must be one line",
                        );
                    }
                }
                match (&c.message, c.payload_mode()) {
                    (None, PayloadMode::Template) => problems.add(
                        format!("{cfg}.message"),
                        "message is required in template payload mode",
                    ),
                    (Some(m), _) => check_message(problems, m, None),
                    (None, PayloadMode::Raw) => {}
                }
            }
            TriggerConfig::Script(c) => {
                if c.timeout_ms == 0 {
                    problems.add(
                        format!("{cfg}.timeout_ms"),
                        "timeout_ms must be greater than 0",
                    );
                }
                if let Some(dir) = config_dir
                    && c.script.is_none()
                    && resolve_script(dir, &c.script_path).is_none()
                {
                    problems.add(
                        format!("{cfg}.script_path"),
                        format!("script file {:?} does not exist", c.script_path),
                    );
                }
            }
        }
        for (field, message) in self.retry_policy().problems() {
            problems.add(format!("{cfg}.retry_policy.{field}"), message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_of_another_types_shape_is_rejected() {
        let json = r#"{"name": "x", "trigger_type": "slack",
            "config": {"discord_url": {"type": "plain", "value": "https://d"}, "message": {"title": "t", "body": "b"}}}"#;
        let err = serde_json::from_str::<Trigger>(json)
            .unwrap_err()
            .to_string();
        assert!(err.contains("slack trigger config"), "{err}");
        assert!(err.contains("unknown field `discord_url`"), "{err}");
    }

    #[test]
    fn round_trips_through_json() {
        let json = r#"{"name":"w","trigger_type":"webhook","config":{"url":{"type":"Plain","value":"https://x.example/h"},"method":"POST","payload_mode":"raw"}}"#;
        let t: Trigger = serde_json::from_str(json).unwrap();
        assert_eq!(t.trigger_type(), TriggerType::Webhook);
        assert_eq!(serde_json::to_string(&t).unwrap(), json);
    }

    #[test]
    fn telegram_tokens_and_emails() {
        assert!(valid_telegram_token(
            "1234567890:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi"
        ));
        assert!(!valid_telegram_token(
            "1234567890:ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        ));
        assert!(!valid_telegram_token(
            "abc:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi"
        ));
        assert!(valid_email("a@b.co"));
        for bad in [
            "a",
            "@b.co",
            "a@b",
            "a@.b",
            "a b@c.d",
            "a@b@c.d",
            "a@b.co\r\nBcc: x@y.z",
        ] {
            assert!(!valid_email(bad), "{bad:?}");
        }
    }
}
