//! Message templates: `${path}` placeholders filled from the flattened match.
//!
//! Variables: `monitor.name`, every scalar of the transaction as `transaction.<field>`
//! (nested objects with dots), `network.slug`, the matched events and calls as
//! `events.<i>.signature`, `events.<i>.args.<name>`, `functions.<i>.signature`,
//! `functions.<i>.args.<name>`, and the summaries `${events}` and `${functions}` (one
//! line per matched item: `signature(name=value, ...)`). Unknown placeholders stay as
//! written; substituted values are never substituted again (the template is scanned
//! once).

use std::collections::BTreeMap;

use serde_json::Value;

/// The variables of one match (OZ JSON shape).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Variables(BTreeMap<String, String>);

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => None,
        _ => None,
    }
}

fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, String>, depth: usize) {
    if depth > 4 {
        return;
    }
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                flatten(&format!("{prefix}.{k}"), v, out, depth + 1);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate().take(64) {
                flatten(&format!("{prefix}.{i}"), v, out, depth + 1);
            }
        }
        other => {
            if let Some(s) = scalar(other) {
                out.insert(prefix.to_owned(), s);
            }
        }
    }
}

/// `signature(name=value, ...)` per item, one per line.
fn summary(items: &[Value]) -> String {
    items
        .iter()
        .map(|item| {
            let signature = item["signature"].as_str().unwrap_or("");
            let args: Vec<String> = item["args"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| {
                    format!(
                        "{}={}",
                        a["name"].as_str().unwrap_or(""),
                        scalar(&a["value"]).unwrap_or_default()
                    )
                })
                .collect();
            if args.is_empty() {
                signature.to_owned()
            } else {
                format!("{signature} ({})", args.join(", "))
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl Variables {
    /// The variables of `matched` (`{"EVM": {...}}` or `{"Stellar": {...}}`).
    pub fn of_match(matched: &Value) -> Self {
        let inner = matched
            .get("EVM")
            .or_else(|| matched.get("Stellar"))
            .unwrap_or(matched);
        let mut out = BTreeMap::new();
        if let Some(name) = inner["monitor"]["name"].as_str() {
            out.insert("monitor.name".to_owned(), name.to_owned());
        }
        if let Some(slug) = inner["network_slug"].as_str() {
            out.insert("network.slug".to_owned(), slug.to_owned());
        }
        flatten("transaction", &inner["transaction"], &mut out, 0);
        if let Some(ledger) = inner.get("ledger") {
            flatten("ledger", ledger, &mut out, 0);
        }
        let args = &inner["matched_on_args"];
        for kind in ["events", "functions"] {
            let items: Vec<Value> = args[kind].as_array().cloned().unwrap_or_default();
            for (i, item) in items.iter().enumerate() {
                if let Some(sig) = item["signature"].as_str() {
                    out.insert(format!("{kind}.{i}.signature"), sig.to_owned());
                }
                for a in item["args"].as_array().into_iter().flatten() {
                    if let (Some(name), Some(value)) = (a["name"].as_str(), scalar(&a["value"])) {
                        out.insert(format!("{kind}.{i}.args.{name}"), value);
                    }
                }
            }
            out.insert(kind.to_owned(), summary(&items));
        }
        Self(out)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// Fills `${name}` placeholders of `template` from `vars`; unknown ones stay as written.
pub fn render(template: &str, vars: &Variables) -> String {
    render_with(template, vars, |v| v.to_owned())
}

/// [`render`], passing every substituted value through `escape` first (values come from
/// the chain: whoever emits an event chooses them, so they must not become markup in
/// the channel's format).
pub fn render_with(template: &str, vars: &Variables, escape: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                let name = after[..end].trim();
                match vars.get(name) {
                    Some(value) => out.push_str(&escape(value)),
                    None => out.push_str(&rest[start..start + 2 + end + 1]),
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn sample() -> Value {
        json!({"EVM": {
            "monitor": {"name": "Large transfers"},
            "network_slug": "ethereum_mainnet",
            "transaction": {"hash": "0xabc", "from": "0x01", "to": "0x02", "value": "0x10", "nonce": 7},
            "matched_on_args": {"events": [{"signature": "Transfer(address,address,uint256)",
                "args": [{"name": "from", "value": "0x01", "kind": "address", "indexed": true},
                         {"name": "value", "value": "5000", "kind": "uint256", "indexed": false}]}],
              "functions": null}
        }})
    }

    #[test]
    fn fills_known_placeholders_and_keeps_unknown_ones() {
        let v = Variables::of_match(&sample());
        assert_eq!(
            render(
                "${monitor.name}: ${events.0.args.value} from ${transaction.from} in ${transaction.hash} (${nope}) on ${network.slug} nonce ${transaction.nonce}",
                &v
            ),
            "Large transfers: 5000 from 0x01 in 0xabc (${nope}) on ethereum_mainnet nonce 7"
        );
        assert_eq!(
            render("${events}", &v),
            "Transfer(address,address,uint256) (from=0x01, value=5000)"
        );
        assert_eq!(render("${functions}", &v), "");
        assert_eq!(
            render("unterminated ${monitor.name", &v),
            "unterminated ${monitor.name"
        );
    }

    #[test]
    fn substituted_values_are_not_substituted_again() {
        let mut m = sample();
        m["EVM"]["monitor"]["name"] = "${transaction.hash}".into();
        let v = Variables::of_match(&m);
        assert_eq!(render("${monitor.name}", &v), "${transaction.hash}");
    }

    proptest! {
        #[test]
        fn rendering_never_panics(template in ".{0,200}") {
            let v = Variables::of_match(&sample());
            let _ = render(&template, &v);
        }
    }
}
