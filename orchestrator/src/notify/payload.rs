//! What each channel sends for one alert, as plain data (so it is tested byte for byte
//! without a network): Slack and Discord webhooks, Telegram `sendMessage` (MarkdownV2),
//! generic webhooks (template or raw mode, custom method and headers, HMAC signature),
//! email (subject and Markdown body as HTML).

use hmac::{Hmac, Mac};
use monitor::config::{
    DISCORD_MAX_BODY, Message, PayloadMode, SecretValue, TELEGRAM_MAX_BODY, Trigger, TriggerConfig,
    WebhookConfig,
};
use serde_json::{Map, Value, json};
use sha2::Sha256;

use super::template::{Variables, render, render_with};

/// An HTTP request to make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// An email to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailMessage {
    pub host: String,
    pub port: u16,
    pub tls: monitor::config::SmtpTls,
    pub username: String,
    pub password: String,
    pub sender: String,
    pub recipients: Vec<String>,
    pub subject: String,
    /// The body as written (Markdown), for the text part.
    pub text: String,
    /// The body rendered to HTML.
    pub html: String,
}

/// A prepared notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Prepared {
    Http(HttpRequest),
    Email(EmailMessage),
    /// A script trigger: runs the named script with the match as input.
    Script {
        language: monitor::config::ScriptLanguage,
        source: String,
        arguments: Vec<String>,
        timeout_ms: u32,
    },
}

/// What a notification cannot be made from (a permanent failure: retrying would not
/// help).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct PrepareError(pub String);

/// Settings of the channels.
#[derive(Clone, Debug)]
pub struct ChannelSettings {
    /// Telegram's Bot API base URL (tests point it at a local receiver).
    pub telegram_api_base: String,
}

impl Default for ChannelSettings {
    fn default() -> Self {
        Self {
            telegram_api_base: "https://api.telegram.org".to_owned(),
        }
    }
}

fn secret(value: &SecretValue, what: &str) -> Result<String, PrepareError> {
    value.plain().map(str::to_owned).ok_or_else(|| {
        PrepareError(format!(
            "the {what} is a {} secret, which the platform does not resolve; store it as a Plain value",
            value.kind()
        ))
    })
}

/// The JSON text with object keys sorted and no whitespace: the bytes webhooks sign.
pub fn canonical_json(value: &Value) -> Vec<u8> {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                let mut out = Map::new();
                for k in keys {
                    out.insert(k.clone(), sorted(&map[k]));
                }
                Value::Object(out)
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    serde_json::to_vec(&sorted(value)).expect("JSON values serialize")
}

/// Lowercase hex HMAC-SHA256 of `body` followed by `timestamp` (OZ's webhook signature).
pub fn signature(secret: &str, body: &[u8], timestamp: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(body);
    mac.update(timestamp.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Escapes text for Telegram's MarkdownV2.
pub fn escape_markdown_v2(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if matches!(
            c,
            '_' | '*'
                | '['
                | ']'
                | '('
                | ')'
                | '~'
                | '`'
                | '>'
                | '#'
                | '+'
                | '-'
                | '='
                | '|'
                | '{'
                | '}'
                | '.'
                | '!'
                | '\\'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Cuts `text` to at most `max` bytes on a character boundary, marking the cut.
fn truncate(text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let mark = "…";
    let mut end = max.saturating_sub(mark.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{mark}", &text[..end])
}

fn rendered(message: &Message, vars: &Variables) -> (String, String) {
    (render(&message.title, vars), render(&message.body, vars))
}

fn json_request(url: String, body: &Value) -> HttpRequest {
    HttpRequest {
        method: "POST".to_owned(),
        url,
        headers: vec![("Content-Type".to_owned(), "application/json".to_owned())],
        body: serde_json::to_vec(body).expect("JSON values serialize"),
    }
}

/// The webhook request: template (`{"title", "body"}`) or raw (the match) mode, compact
/// sorted JSON; custom headers; `X-Alert-Id`; with a secret, `X-Timestamp` and
/// `X-Signature` (and `X-Signature-Previous` while a previous secret is still valid).
pub fn webhook(
    c: &WebhookConfig,
    matched: &Value,
    vars: &Variables,
    alert_id: &str,
    timestamp_ms: i64,
) -> Result<HttpRequest, PrepareError> {
    let payload = match (c.payload_mode(), &c.message) {
        (PayloadMode::Raw, _) => matched.clone(),
        (PayloadMode::Template, Some(m)) => {
            let (title, body) = rendered(m, vars);
            json!({"title": title, "body": body})
        }
        (PayloadMode::Template, None) => {
            return Err(PrepareError(
                "a template-mode webhook needs a message".to_owned(),
            ));
        }
    };
    let body = canonical_json(&payload);
    let mut headers = vec![("Content-Type".to_owned(), "application/json".to_owned())];
    for (k, v) in c.headers.iter().flatten() {
        headers.push((k.clone(), v.clone()));
    }
    headers.push(("X-Alert-Id".to_owned(), alert_id.to_owned()));
    if let Some(s) = &c.secret {
        let timestamp = timestamp_ms.to_string();
        headers.push(("X-Timestamp".to_owned(), timestamp.clone()));
        headers.push((
            "X-Signature".to_owned(),
            signature(&secret(s, "webhook secret")?, &body, &timestamp),
        ));
        if let Some(previous) = &c.previous_secret {
            headers.push((
                "X-Signature-Previous".to_owned(),
                signature(
                    &secret(previous, "previous webhook secret")?,
                    &body,
                    &timestamp,
                ),
            ));
        }
    }
    Ok(HttpRequest {
        method: c.method(),
        url: secret(&c.url, "webhook URL")?,
        headers,
        body,
    })
}

/// Markdown to HTML for email bodies. Raw HTML in the Markdown is shown as text, never
/// passed through.
pub fn markdown_to_html(markdown: &str) -> String {
    use pulldown_cmark::Event;
    let parser =
        pulldown_cmark::Parser::new_ext(markdown, pulldown_cmark::Options::all()).map(|event| {
            match event {
                Event::Html(text) | Event::InlineHtml(text) => Event::Text(text),
                other => other,
            }
        });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, parser);
    html
}

/// Backslash-escapes every ASCII punctuation character (CommonMark allows it for all of
/// them), so a value shows as written instead of becoming a link, emphasis or HTML.
pub fn escape_markdown(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if c.is_ascii_punctuation() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Slack's required escaping of `&`, `<` and `>` (which also keeps values from forming
/// `<!channel>` mentions or links).
pub fn escape_slack(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Prepares `trigger`'s notification of `matched` (an alert with id `alert_id`).
pub fn prepare(
    trigger: &Trigger,
    matched: &Value,
    alert_id: &str,
    timestamp_ms: i64,
    settings: &ChannelSettings,
) -> Result<Prepared, PrepareError> {
    let vars = Variables::of_match(matched);
    Ok(match &trigger.config {
        TriggerConfig::Slack(c) => {
            let title = render_with(&c.message.title, &vars, escape_slack);
            let body = render_with(&c.message.body, &vars, escape_slack);
            Prepared::Http(json_request(
                secret(&c.slack_url, "Slack URL")?,
                &json!({"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": format!("*{title}*\n\n{body}")}}]}),
            ))
        }
        TriggerConfig::Discord(c) => {
            let (title, body) = rendered(&c.message, &vars);
            Prepared::Http(json_request(
                secret(&c.discord_url, "Discord URL")?,
                // Values come from the chain: no `@everyone` from an event argument.
                &json!({
                    "content": truncate(format!("*{title}*\n\n{body}"), DISCORD_MAX_BODY),
                    "allowed_mentions": {"parse": []},
                }),
            ))
        }
        TriggerConfig::Telegram(c) => {
            let (title, body) = rendered(&c.message, &vars);
            let text = truncate(
                format!(
                    "*{}*\n\n{}",
                    escape_markdown_v2(&title),
                    escape_markdown_v2(&body)
                ),
                TELEGRAM_MAX_BODY,
            );
            let token = secret(&c.token, "Telegram token")?;
            Prepared::Http(json_request(
                format!(
                    "{}/bot{token}/sendMessage",
                    settings.telegram_api_base.trim_end_matches('/')
                ),
                &json!({
                    "chat_id": c.chat_id, "text": text, "parse_mode": "MarkdownV2",
                    "disable_web_page_preview": c.disable_web_preview.unwrap_or(false),
                }),
            ))
        }
        TriggerConfig::Webhook(c) => {
            Prepared::Http(webhook(c, matched, &vars, alert_id, timestamp_ms)?)
        }
        TriggerConfig::Email(c) => {
            let (subject, body) = rendered(&c.message, &vars);
            Prepared::Email(EmailMessage {
                host: c.host.clone(),
                port: c.port(),
                tls: c.tls(),
                username: secret(&c.username, "SMTP username")?,
                password: secret(&c.password, "SMTP password")?,
                sender: c.sender.clone(),
                recipients: c.recipients.clone(),
                subject,
                html: markdown_to_html(&render_with(&c.message.body, &vars, escape_markdown)),
                text: body,
            })
        }
        TriggerConfig::Script(c) => Prepared::Script {
            language: c.language,
            source: c.script.clone().ok_or_else(|| {
                PrepareError("the script trigger has no inline script".to_owned())
            })?,
            arguments: c.arguments.clone().unwrap_or_default(),
            timeout_ms: c.timeout_ms,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matched() -> Value {
        json!({"EVM": {"monitor": {"name": "Big"}, "network_slug": "eth",
            "transaction": {"hash": "0xabc", "value": "0x1"},
            "matched_on_args": {"events": [{"signature": "Transfer(address,address,uint256)",
                "args": [{"name": "value", "value": "5000", "kind": "uint256", "indexed": false}]}]}}})
    }

    fn trigger(json: Value) -> Trigger {
        serde_json::from_value(json).unwrap()
    }

    fn body(p: Prepared) -> (HttpRequest, Value) {
        let Prepared::Http(r) = p else {
            panic!("HTTP expected")
        };
        let v = serde_json::from_slice(&r.body).unwrap();
        (r, v)
    }

    #[test]
    fn slack_discord_and_telegram_bodies() {
        let msg =
            json!({"title": "${monitor.name} alert", "body": "value ${events.0.args.value} (a.b)"});
        let s = ChannelSettings {
            telegram_api_base: "http://127.0.0.1:9/tg".into(),
        };
        let (r, v) = body(prepare(&trigger(json!({"name": "s", "trigger_type": "slack", "config": {
            "slack_url": {"type": "plain", "value": "https://hooks.slack.com/services/A/B/C"}, "message": msg}})), &matched(), "id", 0, &s).unwrap());
        assert_eq!(r.url, "https://hooks.slack.com/services/A/B/C");
        assert_eq!(
            v,
            json!({"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*Big alert*\n\nvalue 5000 (a.b)"}}]})
        );
        let (_, v) = body(prepare(&trigger(json!({"name": "d", "trigger_type": "discord", "config": {
            "discord_url": {"type": "plain", "value": "https://discord.com/api/webhooks/1/x"}, "message": msg}})), &matched(), "id", 0, &s).unwrap());
        assert_eq!(
            v,
            json!({"content": "*Big alert*\n\nvalue 5000 (a.b)", "allowed_mentions": {"parse": []}})
        );
        let (r, v) = body(prepare(&trigger(json!({"name": "t", "trigger_type": "telegram", "config": {
            "token": {"type": "plain", "value": "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ012345678"}, "chat_id": "42", "message": msg}})), &matched(), "id", 0, &s).unwrap());
        assert_eq!(
            r.url,
            "http://127.0.0.1:9/tg/bot123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ012345678/sendMessage"
        );
        assert_eq!(v["text"], "*Big alert*\n\nvalue 5000 \\(a\\.b\\)");
        assert_eq!(v["parse_mode"], "MarkdownV2");
        assert_eq!(v["chat_id"], "42");
    }

    #[test]
    fn webhooks_are_sorted_compact_and_signed() {
        let t = trigger(json!({"name": "w", "trigger_type": "webhook", "config": {
            "url": {"type": "plain", "value": "http://127.0.0.1:1/hook"}, "method": "put",
            "secret": {"type": "plain", "value": "k1"}, "previous_secret": {"type": "plain", "value": "k0"},
            "headers": {"X-Custom": "yes"},
            "message": {"title": "${monitor.name}", "body": "tx ${transaction.hash}"}}}));
        let (r, _) = body(
            prepare(
                &t,
                &matched(),
                "alert-7",
                1_700_000_000_123,
                &ChannelSettings::default(),
            )
            .unwrap(),
        );
        assert_eq!(r.method, "PUT");
        assert_eq!(r.body, br#"{"body":"tx 0xabc","title":"Big"}"#);
        let h = |name: &str| {
            r.headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(h("X-Custom").as_deref(), Some("yes"));
        assert_eq!(h("X-Alert-Id").as_deref(), Some("alert-7"));
        assert_eq!(h("X-Timestamp").as_deref(), Some("1700000000123"));
        assert_eq!(
            h("X-Signature").unwrap(),
            signature("k1", &r.body, "1700000000123")
        );
        assert_eq!(
            h("X-Signature-Previous").unwrap(),
            signature("k0", &r.body, "1700000000123")
        );
        // Raw mode sends the match itself, keys sorted.
        let raw = trigger(json!({"name": "w", "trigger_type": "webhook", "config": {
            "url": {"type": "plain", "value": "http://127.0.0.1:1/hook"}, "payload_mode": "raw"}}));
        let (r, v) = body(prepare(&raw, &matched(), "a", 0, &ChannelSettings::default()).unwrap());
        assert_eq!(v, matched());
        assert!(r.body.starts_with(br#"{"EVM":{"matched_on_args""#));
        assert!(r.headers.iter().all(|(k, _)| k != "X-Signature"));
    }

    #[test]
    fn known_signature_vector() {
        // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog") per RFC 4231
        // style test data, split between body and timestamp.
        assert_eq!(
            signature("key", b"The quick brown fox jumps over the lazy ", "dog"),
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }

    #[test]
    fn unresolvable_secrets_are_permanent_errors() {
        let t = trigger(json!({"name": "w", "trigger_type": "webhook", "config": {
            "url": {"type": "environment", "value": "HOOK_URL"}, "message": {"title": "t", "body": "b"}}}));
        let e = prepare(&t, &matched(), "a", 0, &ChannelSettings::default()).unwrap_err();
        assert!(e.0.contains("Environment"), "{e}");
    }

    #[test]
    fn long_discord_messages_are_cut_on_a_character_boundary() {
        let long = "é".repeat(3_000);
        let t = trigger(json!({"name": "d", "trigger_type": "discord", "config": {
            "discord_url": {"type": "plain", "value": "https://discord.com/api/webhooks/1/x"},
            "message": {"title": "t", "body": "${transaction.hash}"}}}));
        let mut m = matched();
        m["EVM"]["transaction"]["hash"] = long.into();
        let (_, v) = body(prepare(&t, &m, "a", 0, &ChannelSettings::default()).unwrap());
        let content = v["content"].as_str().unwrap();
        assert!(content.len() <= DISCORD_MAX_BODY && content.ends_with('…'));
    }

    #[test]
    fn values_from_the_chain_never_become_markup() {
        let mut m = matched();
        m["EVM"]["matched_on_args"]["events"][0]["args"][0]["value"] =
            "<a href=\"https://evil\">x</a> [y](https://evil) <!channel> @everyone".into();
        let msg = json!({"title": "t", "body": "v ${events.0.args.value}"});
        let slack = trigger(json!({"name": "s", "trigger_type": "slack", "config": {
            "slack_url": {"type": "plain", "value": "https://hooks.slack.com/services/A/B/C"}, "message": msg}}));
        let (_, v) = body(prepare(&slack, &m, "a", 0, &ChannelSettings::default()).unwrap());
        let text = v["blocks"][0]["text"]["text"].as_str().unwrap();
        assert!(
            text.contains("&lt;!channel&gt;") && !text.contains("<!channel>"),
            "{text}"
        );
        let mail = trigger(json!({"name": "e", "trigger_type": "email", "config": {
            "host": "smtp.example.com", "username": {"type": "plain", "value": "u"},
            "password": {"type": "plain", "value": "p"}, "sender": "a@example.com",
            "recipients": ["b@example.com"], "message": msg}}));
        let Prepared::Email(e) = prepare(&mail, &m, "a", 0, &ChannelSettings::default()).unwrap()
        else {
            panic!()
        };
        assert!(!e.html.contains("<a "), "{}", e.html);
        assert!(e.html.contains("&lt;a href="), "{}", e.html);
        // Raw HTML written in the template itself is shown, not rendered, too.
        assert_eq!(
            markdown_to_html("<script>x</script>").trim(),
            "&lt;script&gt;x&lt;/script&gt;"
        );
    }

    #[test]
    fn email_bodies_are_markdown_rendered_and_subjects_templated() {
        let t = trigger(json!({"name": "e", "trigger_type": "email", "config": {
            "host": "smtp.example.com", "port": 587,
            "username": {"type": "plain", "value": "u"}, "password": {"type": "plain", "value": "p"},
            "sender": "alerts@example.com", "recipients": ["ops@example.com"],
            "message": {"title": "${monitor.name} fired", "body": "**value** ${events.0.args.value}"}}}));
        let Prepared::Email(e) =
            prepare(&t, &matched(), "a", 0, &ChannelSettings::default()).unwrap()
        else {
            panic!()
        };
        assert_eq!(e.subject, "Big fired");
        assert_eq!(e.html.trim(), "<p><strong>value</strong> 5000</p>");
        assert_eq!(e.port, 587);
    }
}
