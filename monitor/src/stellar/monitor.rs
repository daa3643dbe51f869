//! An OZ monitor compiled for a Stellar network, and its evaluation against a ledger.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::decode::{
    DecodedEnvelope, DecodedEvent, decode_envelope, decode_event, envelope_from_base64,
};
use super::spec::ContractSpec;
use super::types::{StellarBlockData, StellarEvent, StellarTransaction};
use crate::config::{
    MatchConditions, Monitor, Problem, Problems, TransactionStatus, normalize_signature,
};
use crate::evm::monitor::compile_expression;
use crate::filter::Compiled;
use crate::matches::{MatchArguments, MatchParamsMap, MonitorMatch, StellarMatch};
use crate::rules::{self, Shape};
use crate::value::{Num, Param, Value};

/// Transaction fields a Stellar transaction condition can name.
pub const TX_FIELDS: [&str; 5] = ["hash", "ledger", "value", "from", "to"];

/// Parses a Stellar address (account `G...`, muxed `M...` or contract `C...` strkey).
pub fn parse_address(text: &str) -> Result<String, String> {
    let t = text.trim();
    match stellar_strkey::Strkey::from_string(t) {
        Ok(
            stellar_strkey::Strkey::PublicKeyEd25519(_)
            | stellar_strkey::Strkey::Contract(_)
            | stellar_strkey::Strkey::MuxedAccountEd25519(_),
        ) => Ok(t.to_owned()),
        _ => Err(format!(
            "{text:?} is not a Stellar account or contract address"
        )),
    }
}

#[derive(Clone, Debug)]
pub struct StellarRule {
    pub index: usize,
    /// Normalized signature (`transfer(address,address,i128)`).
    pub signature: String,
    pub expression: Option<Compiled>,
}

#[derive(Clone, Debug)]
pub struct StellarTxRule {
    pub index: usize,
    pub status: TransactionStatus,
    pub expression: Option<Compiled>,
}

#[derive(Clone, Debug)]
pub struct StellarMonitor {
    pub config: Arc<Monitor>,
    pub addresses: HashSet<String>,
    /// Contract → spec, for argument names.
    pub specs: HashMap<String, ContractSpec>,
    pub functions: Vec<StellarRule>,
    pub events: Vec<StellarRule>,
    pub transactions: Vec<StellarTxRule>,
}

fn function_name(signature: &str) -> &str {
    signature.split('(').next().unwrap_or_default().trim()
}

impl StellarMonitor {
    pub fn compile(monitor: Arc<Monitor>) -> Result<Self, Vec<Problem>> {
        let mut problems = Problems::new("");
        let mut addresses = HashSet::new();
        let mut specs = HashMap::new();
        for (i, a) in monitor.addresses.iter().enumerate() {
            match parse_address(&a.address) {
                Ok(addr) => {
                    if let Some(spec) = &a.contract_spec {
                        match ContractSpec::from_json(spec) {
                            Ok(s) => {
                                specs.insert(addr.clone(), s);
                            }
                            Err(e) => problems.add(format!("$.addresses[{i}].contract_spec"), e),
                        }
                    }
                    addresses.insert(addr);
                }
                Err(e) => problems.add(format!("$.addresses[{i}].address"), e),
            }
        }
        let mut functions = Vec::new();
        for (i, c) in monitor.match_conditions.functions.iter().enumerate() {
            let path = format!("$.match_conditions.functions[{i}]");
            let name = function_name(&c.signature);
            let inputs: Option<Vec<String>> = specs
                .values()
                .find_map(|s| s.inputs(name))
                .map(<[String]>::to_vec);
            if inputs.is_none() && !specs.is_empty() {
                problems.add(
                    format!("{path}.signature"),
                    format!("function {name} is not in the contract_spec of any address"),
                );
                continue;
            }
            // Without a spec, arguments are addressed by position only.
            let names = inputs.clone().unwrap_or_default();
            let expression = compile_expression(
                &mut problems,
                format!("{path}.expression"),
                c.expression.as_deref(),
                &|n| names.iter().position(|x| x == n),
                inputs.as_ref().map(Vec::len),
            );
            functions.push(StellarRule {
                index: i,
                signature: normalize_signature(&c.signature),
                expression,
            });
        }
        let mut events = Vec::new();
        for (i, c) in monitor.match_conditions.events.iter().enumerate() {
            let expression = compile_expression(
                &mut problems,
                format!("$.match_conditions.events[{i}].expression"),
                c.expression.as_deref(),
                &|_| None,
                None,
            );
            events.push(StellarRule {
                index: i,
                signature: normalize_signature(&c.signature),
                expression,
            });
        }
        let mut transactions = Vec::new();
        for (i, c) in monitor.match_conditions.transactions.iter().enumerate() {
            let expression = compile_expression(
                &mut problems,
                format!("$.match_conditions.transactions[{i}].expression"),
                c.expression.as_deref(),
                &|n| TX_FIELDS.iter().position(|f| *f == n),
                Some(TX_FIELDS.len()),
            );
            transactions.push(StellarTxRule {
                index: i,
                status: c.status,
                expression,
            });
        }
        if !problems.is_empty() {
            return Err(problems.into_vec());
        }
        Ok(Self {
            config: monitor,
            addresses,
            specs,
            functions,
            events,
            transactions,
        })
    }

    fn watches(&self, address: &str) -> bool {
        self.addresses.is_empty() || self.addresses.contains(address)
    }

    pub fn shape(&self) -> Shape {
        Shape {
            calls_or_events: !self.functions.is_empty() || !self.events.is_empty(),
            transactions: !self.transactions.is_empty(),
        }
    }

    /// Evaluates every transaction of the ledger, in application order.
    pub fn evaluate(&self, block: &StellarBlockData, network_slug: &str) -> Vec<MonitorMatch> {
        let mut events_by_tx: HashMap<&str, Vec<&StellarEvent>> = HashMap::new();
        for e in &block.events {
            events_by_tx.entry(e.tx_hash.as_str()).or_default().push(e);
        }
        block
            .transactions
            .iter()
            .filter_map(|tx| {
                let events = events_by_tx
                    .get(tx.tx_hash.as_str())
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                self.evaluate_transaction(block, tx, events, network_slug)
            })
            .collect()
    }

    pub fn evaluate_transaction(
        &self,
        block: &StellarBlockData,
        tx: &StellarTransaction,
        events: &[&StellarEvent],
        network_slug: &str,
    ) -> Option<MonitorMatch> {
        let decoded = DecodedTransaction::new(tx, events)?;
        self.evaluate_decoded(block, &decoded, network_slug)
    }

    /// Whether the transaction involves a monitored address.
    pub fn involves(&self, decoded: &DecodedTransaction<'_>) -> bool {
        self.addresses.is_empty() || decoded.addresses().any(|a| self.addresses.contains(a))
    }

    /// Evaluates an already-decoded transaction (decoded once for every monitor).
    pub fn evaluate_decoded(
        &self,
        block: &StellarBlockData,
        decoded: &DecodedTransaction<'_>,
        network_slug: &str,
    ) -> Option<MonitorMatch> {
        if !self.involves(decoded) {
            return None;
        }
        let (tx, envelope) = (decoded.tx, &decoded.envelope);
        let mut matched_on = MatchConditions::default();
        let status = match tx.status.as_str() {
            "SUCCESS" => Some(TransactionStatus::Success),
            "FAILED" => Some(TransactionStatus::Failure),
            _ => None,
        };
        for rule in &self.transactions {
            let status_ok = rule.status == TransactionStatus::Any || Some(rule.status) == status;
            if status_ok
                && rule
                    .expression
                    .as_ref()
                    .is_none_or(|e| e.matches(decoded.fields.as_slice()))
            {
                matched_on
                    .transactions
                    .push(self.config.match_conditions.transactions[rule.index].clone());
            }
        }

        let mut function_args = Vec::new();
        for call in envelope
            .invocations
            .iter()
            .filter(|c| self.watches(&c.contract))
        {
            // The spec's types name the signature when the contract has one (what the
            // contract declares), else the kinds of the values passed.
            let spec = self.specs.get(&call.contract);
            let signature = match spec.and_then(|s| s.kinds(&call.function)) {
                Some(kinds) if kinds.len() == call.args.len() => {
                    format!("{}({})", call.function, kinds.join(","))
                }
                _ => call.signature(),
            };
            let normalized = normalize_signature(&signature);
            let rules: Vec<&StellarRule> = self
                .functions
                .iter()
                .filter(|r| r.signature == normalized)
                .collect();
            if rules.is_empty() {
                continue;
            }
            let names = spec.and_then(|s| s.inputs(&call.function));
            let params: Vec<Param> = call
                .args
                .iter()
                .enumerate()
                .map(|(i, (value, kind))| Param {
                    name: names
                        .and_then(|n| n.get(i))
                        .cloned()
                        .unwrap_or_else(|| i.to_string()),
                    kind: kind.clone(),
                    value: value.clone(),
                    indexed: false,
                })
                .collect();
            for rule in rules {
                if rule
                    .expression
                    .as_ref()
                    .is_none_or(|e| e.matches(params.as_slice()))
                {
                    let condition = &self.config.match_conditions.functions[rule.index];
                    if !matched_on.functions.contains(condition) {
                        matched_on.functions.push(condition.clone());
                    }
                    function_args.push(MatchParamsMap::new(signature.clone(), None, &params));
                }
            }
        }

        let mut event_args = Vec::new();
        for (event, decoded_event) in decoded
            .events
            .iter()
            .filter(|(e, _)| self.watches(&e.contract_id))
        {
            let Some((decoded_event, signature)) = decoded_event else {
                continue;
            };
            for rule in self.events.iter().filter(|r| r.signature == *signature) {
                if rule
                    .expression
                    .as_ref()
                    .is_none_or(|e| e.matches(decoded_event.params.as_slice()))
                {
                    let condition = &self.config.match_conditions.events[rule.index];
                    if !matched_on.events.contains(condition) {
                        matched_on.events.push(condition.clone());
                    }
                    event_args.push(MatchParamsMap::new(
                        decoded_event.signature(),
                        None,
                        &decoded_event.params,
                    ));
                }
            }
            let _ = event;
        }

        let call_or_event = !function_args.is_empty() || !event_args.is_empty();
        if !rules::holds(
            self.shape(),
            call_or_event,
            !matched_on.transactions.is_empty(),
        ) {
            return None;
        }
        Some(MonitorMatch::Stellar(Box::new(StellarMatch {
            monitor: self.config.clone(),
            transaction: tx.clone(),
            ledger: block.ledger.clone(),
            events: decoded.events.iter().map(|(e, _)| (*e).clone()).collect(),
            network_slug: network_slug.to_owned(),
            matched_on,
            matched_on_args: Some(MatchArguments {
                functions: Some(function_args),
                events: Some(event_args),
            }),
        })))
    }
}

/// A transaction decoded once for every monitor: its envelope, its events (with their
/// normalized signatures) and its transaction fields.
pub struct DecodedTransaction<'a> {
    pub tx: &'a StellarTransaction,
    pub envelope: DecodedEnvelope,
    /// Each event with its decoding (`None` when its XDR is malformed).
    pub events: Vec<(&'a StellarEvent, Option<(DecodedEvent, String)>)>,
    pub fields: Vec<Value>,
}

impl<'a> DecodedTransaction<'a> {
    /// `None` (counted) when the envelope does not decode.
    pub fn new(tx: &'a StellarTransaction, events: &[&'a StellarEvent]) -> Option<Self> {
        let envelope = match envelope_from_base64(&tx.envelope_xdr) {
            Ok(e) => decode_envelope(&e),
            Err(_) => {
                metrics::counter!("stellar_monitor_decode_errors_total", "chain" => "stellar")
                    .increment(1);
                return None;
            }
        };
        let events = events
            .iter()
            .map(|e| {
                let decoded = match decode_event(&e.topic, &e.value) {
                    Ok(d) => {
                        let signature = normalize_signature(&d.signature());
                        Some((d, signature))
                    }
                    Err(_) => {
                        metrics::counter!("stellar_monitor_decode_errors_total", "chain" => "stellar")
                            .increment(1);
                        None
                    }
                };
                (*e, decoded)
            })
            .collect();
        let fields = transaction_fields(tx, &envelope);
        Some(Self {
            tx,
            envelope,
            events,
            fields,
        })
    }

    /// Every address the transaction involves: source, invoked contracts, payment
    /// destination, contracts that emitted its events.
    pub fn addresses(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.envelope.source.as_str())
            .chain(
                self.envelope
                    .invocations
                    .iter()
                    .map(|i| i.contract.as_str()),
            )
            .chain(self.envelope.payment.iter().map(|(to, _)| to.as_str()))
            .chain(self.events.iter().map(|(e, _)| e.contract_id.as_str()))
    }
}

/// The values of [`TX_FIELDS`]: `value` is the first payment's amount (0 without one),
/// `to` its destination or else the first invoked contract.
pub fn transaction_fields(tx: &StellarTransaction, envelope: &DecodedEnvelope) -> Vec<Value> {
    let to = envelope
        .payment
        .as_ref()
        .map(|(to, _)| to.clone())
        .or_else(|| envelope.invocations.first().map(|i| i.contract.clone()))
        .unwrap_or_default();
    vec![
        Value::Str(tx.tx_hash.clone()),
        Value::Num(Num::from_u128(tx.ledger.into())),
        Value::Num(Num::from_i128(
            envelope.payment.as_ref().map_or(0, |(_, a)| (*a).into()),
        )),
        Value::Str(envelope.source.clone()),
        Value::Str(to),
    ]
}
