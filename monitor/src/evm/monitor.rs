//! An OZ monitor compiled for an EVM network: addresses parsed, ABIs indexed by topic0
//! and selector, expressions compiled; and its evaluation against a block.

use std::cell::OnceCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::{Arc, LazyLock};

use alloy_json_abi::JsonAbi;
use alloy_primitives::{Address, B256};

use super::abi::{EventItem, FunctionItem, normalize_evm_signature, parse_abi};
use super::types::{EvmBlockData, EvmLog, EvmReceipt, EvmTransaction, TxStatus};
use crate::config::{Monitor, Problem, Problems, TransactionStatus};
use crate::filter::Compiled;
use crate::intern::Interner;
use crate::matches::{EvmMatch, MatchArguments, MatchParamsMap, MonitorMatch};
use crate::rules::{self, Shape};
use crate::value::{Num, Param, Value};

/// Transaction fields a transaction condition can name, in the order of
/// [`transaction_fields`].
pub const TX_FIELDS: [&str; 12] = [
    "value",
    "from",
    "to",
    "hash",
    "gas_price",
    "max_fee_per_gas",
    "max_priority_fee_per_gas",
    "gas_limit",
    "nonce",
    "input",
    "gas_used",
    "transaction_index",
];

/// The values of [`TX_FIELDS`] for one transaction (absent ones are `Void`).
pub fn transaction_fields(tx: &EvmTransaction, receipt: Option<&EvmReceipt>) -> Vec<Value> {
    let num = |v: Option<alloy_primitives::U256>| {
        v.map_or(Value::Void, |n| Value::Num(Num::from_u256(n)))
    };
    vec![
        Value::Num(Num::from_u256(tx.value)),
        Value::Address(format!("{:#x}", tx.from)),
        Value::Address(tx.to.map(|a| format!("{a:#x}")).unwrap_or_default()),
        Value::Bytes(tx.hash.to_vec()),
        num(tx.gas_price),
        num(tx.max_fee_per_gas),
        num(tx.max_priority_fee_per_gas),
        Value::Num(Num::from_u256(tx.gas)),
        Value::Num(Num::from_u256(tx.nonce)),
        Value::Bytes(tx.input.to_vec()),
        num(receipt.and_then(|r| r.gas_used)),
        tx.transaction_index.map_or(Value::Void, |i| {
            Value::Num(Num::from_u256(alloy_primitives::U256::from(i)))
        }),
    ]
}

fn tx_field_position(name: &str) -> Option<usize> {
    TX_FIELDS.iter().position(|f| *f == name)
}

#[derive(Clone, Debug)]
pub struct FunctionRule {
    /// Index into the monitor's `match_conditions.functions`.
    pub index: usize,
    pub item: Arc<FunctionItem>,
    pub expression: Option<Compiled>,
}

#[derive(Clone, Debug)]
pub struct EventRule {
    pub index: usize,
    pub item: Arc<EventItem>,
    pub expression: Option<Compiled>,
}

#[derive(Clone, Debug)]
pub struct TransactionRule {
    pub index: usize,
    pub status: TransactionStatus,
    pub expression: Option<Compiled>,
}

/// A monitor ready to evaluate on EVM blocks.
#[derive(Clone, Debug)]
pub struct EvmMonitor {
    pub config: Arc<Monitor>,
    /// Empty: every transaction is considered.
    pub addresses: HashSet<Address>,
    pub functions: Vec<FunctionRule>,
    pub events: Vec<EventRule>,
    pub transactions: Vec<TransactionRule>,
}

/// Parses an EVM address (`0x` and 40 hex digits, any case).
pub fn parse_address(text: &str) -> Result<Address, String> {
    let t = text.trim();
    let hex = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X"));
    match hex {
        Some(h) if h.len() == 40 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
            t[2..].parse::<Address>().map_err(|e| e.to_string())
        }
        _ => Err(format!(
            "{text:?} is not an EVM address (0x followed by 40 hex digits)"
        )),
    }
}

/// Compiles an expression and reports parse errors and unknown names at `path`.
pub(crate) fn compile_expression(
    problems: &mut Problems,
    path: String,
    source: Option<&str>,
    names: &dyn Fn(&str) -> Option<usize>,
    arity: Option<usize>,
) -> Option<Compiled> {
    let source = source.filter(|s| !s.trim().is_empty())?;
    match Compiled::new(source, names) {
        Ok(compiled) => {
            for name in compiled.unknown_parameters() {
                problems.add(path.clone(), format!("unknown parameter '{name}'"));
            }
            if let Some(arity) = arity
                && let Ok(expr) = crate::filter::parse(source)
            {
                for p in positions(&expr) {
                    if p >= arity {
                        problems.add(
                            path.clone(),
                            format!("there is no parameter at position {p} (it has {arity})"),
                        );
                    }
                }
            }
            Some(compiled)
        }
        Err(e) => {
            problems.add(path, format!("invalid expression: {e}"));
            None
        }
    }
}

fn positions(expr: &crate::filter::Expr) -> Vec<usize> {
    use crate::filter::ast::{Base, Expr};
    match expr {
        Expr::Or(items) | Expr::And(items) => items.iter().flat_map(positions).collect(),
        Expr::Condition(c) => match c.lhs.base {
            Base::Position(p) => vec![p],
            Base::Name(_) => vec![],
        },
    }
}

impl EvmMonitor {
    /// Compiles `monitor` for EVM, or reports every problem (with JSON paths).
    pub fn compile(monitor: Arc<Monitor>) -> Result<Self, Vec<Problem>> {
        let mut problems = Problems::new("");
        let mut addresses = HashSet::new();
        let mut abis: Vec<JsonAbi> = Vec::new();
        for (i, a) in monitor.addresses.iter().enumerate() {
            match parse_address(&a.address) {
                Ok(addr) => {
                    addresses.insert(addr);
                }
                Err(e) => problems.add(format!("$.addresses[{i}].address"), e),
            }
            if let Some(spec) = &a.contract_spec {
                match parse_abi(spec) {
                    Ok(abi) => abis.push(abi),
                    Err(e) => problems.add(format!("$.addresses[{i}].contract_spec"), e),
                }
            }
        }
        // ABI items are shared by every monitor whose ABI declares them identically.
        static EVENTS: LazyLock<Interner<EventItem>> = LazyLock::new(Interner::new);
        static FUNCTIONS: LazyLock<Interner<FunctionItem>> = LazyLock::new(Interner::new);
        let mut events_by_sig: HashMap<String, Arc<EventItem>> = HashMap::new();
        let mut functions_by_sig: HashMap<String, Arc<FunctionItem>> = HashMap::new();
        for abi in &abis {
            for event in abi.events() {
                let key = serde_json::to_string(event).unwrap_or_default();
                let item = EVENTS.intern(key, || EventItem::new(event.clone()));
                events_by_sig
                    .entry(normalize_evm_signature(&item.signature))
                    .or_insert(item);
            }
            for function in abi.functions() {
                let key = serde_json::to_string(function).unwrap_or_default();
                let item = FUNCTIONS.intern(key, || FunctionItem::new(function.clone()));
                functions_by_sig
                    .entry(normalize_evm_signature(&item.signature))
                    .or_insert(item);
            }
        }
        let has_abi = !abis.is_empty();

        let mut functions = Vec::new();
        for (i, c) in monitor.match_conditions.functions.iter().enumerate() {
            let path = format!("$.match_conditions.functions[{i}]");
            let normalized = normalize_evm_signature(&c.signature);
            let item = match functions_by_sig.get(&normalized) {
                Some(item) => item.clone(),
                None if has_abi => {
                    problems.add(
                        format!("{path}.signature"),
                        format!(
                            "function {} is not in the contract_spec of any address",
                            c.signature
                        ),
                    );
                    continue;
                }
                None => match FunctionItem::parse(&c.signature) {
                    Ok(item) => Arc::new(item),
                    Err(e) => {
                        problems.add(format!("{path}.signature"), e);
                        continue;
                    }
                },
            };
            let names = item.names.clone();
            let expression = compile_expression(
                &mut problems,
                format!("{path}.expression"),
                c.expression.as_deref(),
                &|n| names.iter().position(|x| x == n),
                Some(names.len()),
            );
            functions.push(FunctionRule {
                index: i,
                item,
                expression,
            });
        }

        let mut events = Vec::new();
        for (i, c) in monitor.match_conditions.events.iter().enumerate() {
            let path = format!("$.match_conditions.events[{i}]");
            let Some(item) = events_by_sig
                .get(&normalize_evm_signature(&c.signature))
                .cloned()
            else {
                let why = if has_abi {
                    format!(
                        "event {} is not in the contract_spec of any address",
                        c.signature
                    )
                } else {
                    format!(
                        "event {} needs a contract_spec (which parameters are indexed is not in the signature)",
                        c.signature
                    )
                };
                problems.add(format!("{path}.signature"), why);
                continue;
            };
            if item.event.anonymous {
                problems.add(
                    format!("{path}.signature"),
                    "anonymous events have no topic0 to match on",
                );
                continue;
            }
            let names = item.names.clone();
            let expression = compile_expression(
                &mut problems,
                format!("{path}.expression"),
                c.expression.as_deref(),
                &|n| names.iter().position(|x| x == n),
                Some(names.len()),
            );
            events.push(EventRule {
                index: i,
                item,
                expression,
            });
        }

        let mut transactions = Vec::new();
        for (i, c) in monitor.match_conditions.transactions.iter().enumerate() {
            let expression = compile_expression(
                &mut problems,
                format!("$.match_conditions.transactions[{i}].expression"),
                c.expression.as_deref(),
                &tx_field_position,
                Some(TX_FIELDS.len()),
            );
            transactions.push(TransactionRule {
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
            functions,
            events,
            transactions,
        })
    }

    pub fn shape(&self) -> Shape {
        Shape {
            calls_or_events: !self.config.match_conditions.functions.is_empty()
                || !self.config.match_conditions.events.is_empty(),
            transactions: !self.config.match_conditions.transactions.is_empty(),
        }
    }

    pub fn watches(&self, address: &Address) -> bool {
        self.addresses.is_empty() || self.addresses.contains(address)
    }

    /// Whether the transaction involves a monitored address.
    pub fn involves(&self, tx: &EvmTransaction, receipt: Option<&EvmReceipt>) -> bool {
        self.addresses.is_empty()
            || self.addresses.contains(&tx.from)
            || tx.to.is_some_and(|to| self.addresses.contains(&to))
            || receipt.is_some_and(|r| r.logs.iter().any(|l| self.addresses.contains(&l.address)))
    }

    /// Evaluates every transaction of `block`; returns the matches in transaction order.
    pub fn evaluate(&self, block: &EvmBlockData, network_slug: &str) -> Vec<MonitorMatch> {
        let receipts: HashMap<B256, &EvmReceipt> = block
            .receipts
            .iter()
            .map(|r| (r.transaction_hash, r))
            .collect();
        block
            .block
            .transactions
            .iter()
            .filter_map(|tx| {
                let receipt = receipts.get(&tx.hash).copied();
                self.evaluate_transaction(tx, receipt, network_slug)
            })
            .collect()
    }

    /// Evaluates one transaction (with its receipt, when known).
    pub fn evaluate_transaction(
        &self,
        tx: &EvmTransaction,
        receipt: Option<&EvmReceipt>,
        network_slug: &str,
    ) -> Option<MonitorMatch> {
        if !self.involves(tx, receipt) {
            return None;
        }
        let mut calls: Vec<(usize, Rc<Decoded>)> = Vec::new();
        if tx.to.is_some_and(|to| self.watches(&to)) && tx.input.len() >= 4 {
            let selector = &tx.input[..4];
            let mut cache = None;
            for (i, rule) in self
                .functions
                .iter()
                .enumerate()
                .filter(|(_, r)| r.item.selector == selector)
            {
                let Some(decoded) = decoded(&mut cache, &rule.item, |item| item.decode(&tx.input))
                else {
                    continue;
                };
                if holds_on(&rule.expression, &decoded.params) {
                    calls.push((i, decoded));
                }
            }
        }
        let mut events: Vec<(usize, Rc<Decoded>)> = Vec::new();
        for log in receipt
            .iter()
            .flat_map(|r| &r.logs)
            .filter(|l| self.watches(&l.address))
        {
            let Some(topic0) = log.topics.first() else {
                continue;
            };
            let mut cache = None;
            for (i, rule) in self
                .events
                .iter()
                .enumerate()
                .filter(|(_, r)| r.item.topic0 == *topic0)
            {
                let Some(decoded) = decoded(&mut cache, &rule.item, |item| item.decode(log)) else {
                    continue;
                };
                if holds_on(&rule.expression, &decoded.params) {
                    events.push((i, decoded));
                }
            }
        }
        self.conclude(
            &mut TxContext::new(tx, receipt),
            network_slug,
            &calls,
            &events,
        )
    }

    /// Decides a transaction that involves this monitor, given the function and event
    /// rules whose expressions held (rule index into [`Self::functions`] /
    /// [`Self::events`], with the decoded call or log), in call then log order. Shared
    /// by this monitor-by-monitor evaluation and the indexed matcher, so both decide
    /// alike.
    pub fn conclude(
        &self,
        ctx: &mut TxContext<'_>,
        network_slug: &str,
        calls: &[(usize, Rc<Decoded>)],
        events: &[(usize, Rc<Decoded>)],
    ) -> Option<MonitorMatch> {
        let status = ctx.receipt.map_or(TxStatus::Unknown, EvmReceipt::status);
        let mut matched_on = crate::config::MatchConditions::default();
        for rule in &self.transactions {
            let status_ok = match rule.status {
                TransactionStatus::Any => true,
                TransactionStatus::Success => status == TxStatus::Success,
                TransactionStatus::Failure => status == TxStatus::Failure,
            };
            if status_ok
                && rule
                    .expression
                    .as_ref()
                    .is_none_or(|e| e.matches(ctx.fields()))
            {
                matched_on
                    .transactions
                    .push(self.config.match_conditions.transactions[rule.index].clone());
            }
        }
        let call_or_event = !calls.is_empty() || !events.is_empty();
        if !rules::holds(
            self.shape(),
            call_or_event,
            !matched_on.transactions.is_empty(),
        ) {
            return None;
        }
        let mut function_args = Vec::with_capacity(calls.len());
        for (i, decoded) in calls {
            let rule = &self.functions[*i];
            matched_on
                .functions
                .push(self.config.match_conditions.functions[rule.index].clone());
            function_args.push(MatchParamsMap::named(
                &rule.item.signature,
                &rule.item.hex,
                &decoded.params,
                &rule.item.names,
                decoded.rendered(),
            ));
        }
        let mut event_args = Vec::with_capacity(events.len());
        for (i, decoded) in events {
            let rule = &self.events[*i];
            let condition = &self.config.match_conditions.events[rule.index];
            if !matched_on.events.contains(condition) {
                matched_on.events.push(condition.clone());
            }
            event_args.push(MatchParamsMap::named(
                &rule.item.signature,
                &rule.item.hex,
                &decoded.params,
                &rule.item.names,
                decoded.rendered(),
            ));
        }
        let (transaction, receipt, logs) = ctx.shared();
        Some(MonitorMatch::Evm(Box::new(EvmMatch {
            monitor: self.config.clone(),
            transaction,
            receipt,
            logs,
            network_slug: network_slug.to_owned(),
            matched_on,
            matched_on_args: Some(MatchArguments {
                functions: Some(function_args),
                events: Some(event_args),
            }),
        })))
    }
}

/// A decoded call or log, shared by every monitor it matches; values are rendered once,
/// on the first match.
#[derive(Debug)]
pub struct Decoded {
    pub params: Vec<Param>,
    rendered: OnceCell<Vec<String>>,
}

impl Decoded {
    pub fn new(params: Vec<Param>) -> Self {
        Self {
            params,
            rendered: OnceCell::new(),
        }
    }

    pub fn rendered(&self) -> &[String] {
        self.rendered
            .get_or_init(|| self.params.iter().map(|p| p.value.render()).collect())
    }
}

/// One transaction as every monitor deciding on it sees it: its transaction fields are
/// computed once, and the transaction, receipt and logs are shared by all its matches.
pub struct TxContext<'a> {
    pub tx: &'a EvmTransaction,
    pub receipt: Option<&'a EvmReceipt>,
    fields: Option<Vec<Value>>,
    shared: Option<SharedTx>,
}

type SharedTx = (
    Arc<EvmTransaction>,
    Option<Arc<EvmReceipt>>,
    Arc<Vec<EvmLog>>,
);

impl<'a> TxContext<'a> {
    pub fn new(tx: &'a EvmTransaction, receipt: Option<&'a EvmReceipt>) -> Self {
        Self {
            tx,
            receipt,
            fields: None,
            shared: None,
        }
    }

    fn fields(&mut self) -> &[Value] {
        let (tx, receipt) = (self.tx, self.receipt);
        self.fields
            .get_or_insert_with(|| transaction_fields(tx, receipt))
    }

    fn shared(&mut self) -> SharedTx {
        let (tx, receipt) = (self.tx, self.receipt);
        self.shared
            .get_or_insert_with(|| {
                (
                    Arc::new(tx.clone()),
                    receipt.map(|r| Arc::new(r.clone())),
                    Arc::new(receipt.map(|r| r.logs.clone()).unwrap_or_default()),
                )
            })
            .clone()
    }
}

fn holds_on(expression: &Option<Compiled>, params: &[Param]) -> bool {
    expression.as_ref().is_none_or(|e| e.matches(params))
}

/// Decodes with `item` unless `cache` already holds that item's decoding (rules on the
/// same ABI item decode once). `None` when the data does not decode.
pub(crate) fn decoded<I>(
    cache: &mut Option<(Arc<I>, Option<Rc<Decoded>>)>,
    item: &Arc<I>,
    decode: impl FnOnce(&I) -> Result<Vec<Param>, super::abi::DecodeError>,
) -> Option<Rc<Decoded>> {
    let fresh = !cache
        .as_ref()
        .is_some_and(|(cached, _)| Arc::ptr_eq(cached, item));
    if fresh {
        *cache = Some((
            item.clone(),
            decode(item).ok().map(|p| Rc::new(Decoded::new(p))),
        ));
    }
    cache.as_ref().and_then(|(_, d)| d.clone())
}
