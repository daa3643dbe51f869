//! The EVM index and its per-block evaluation.
//!
//! Subscriptions live under (address, selector) for calls and (address, topic0) for
//! logs, grouped by shared decoder; within a group, expressions are indexed by
//! [`super::plan`] so a decoded call or log only reaches the monitors it may match.
//! Monitors whose outcome does not need a call or event (no conditions, or only
//! transaction conditions) are "watchers" of their addresses and see every transaction
//! touching them.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use alloy_primitives::Address;
use alloy_primitives::map::{AddressHashMap, B256HashMap};

use super::plan::{self, Entry, EqKey, Plan};
use super::{BlockMatches, KeyedMatch, MonitorKey};
use crate::config::{Monitor, Problem};
use crate::evm::abi::{EventItem, FunctionItem};
use crate::evm::monitor::{Decoded, TxContext};
use crate::evm::{EvmBlockData, EvmMonitor, EvmReceipt};
use crate::value::{Num, Param, Value};

type SlotId = u32;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Sub {
    slot: SlotId,
    /// Index into the monitor's compiled function / event rules.
    rule: u32,
}

/// Subscriptions sharing one decoder, with their expressions indexed.
#[derive(Debug, Default)]
struct Group {
    decoder: u32,
    /// No expression.
    always: Vec<Sub>,
    /// Expressions the index cannot narrow.
    residual: Vec<Sub>,
    /// Position → (bound, sub), ascending: candidates when the value is at least bound.
    at_least: HashMap<usize, Vec<(Num, Sub)>>,
    /// Position → (bound, sub), descending: candidates when the value is at most bound.
    at_most: HashMap<usize, Vec<(Num, Sub)>>,
    equals: HashMap<EqKey, Vec<Sub>>,
    /// Positions that have equality entries.
    equal_positions: Vec<usize>,
    /// Whether anything needs the decoded values to find candidates.
    indexed: bool,
}

impl Group {
    fn add(&mut self, sub: Sub, plan: Plan) {
        match plan {
            Plan::Always => self.always.push(sub),
            Plan::Residual => self.residual.push(sub),
            Plan::Index(entries) => {
                for entry in entries {
                    match entry {
                        Entry::AtLeast { position, bound } => {
                            let list = self.at_least.entry(position).or_default();
                            let at = list.partition_point(|(b, _)| *b <= bound);
                            list.insert(at, (bound, sub));
                        }
                        Entry::AtMost { position, bound } => {
                            let list = self.at_most.entry(position).or_default();
                            let at = list.partition_point(|(b, _)| *b >= bound);
                            list.insert(at, (bound, sub));
                        }
                        Entry::Equals(key) => {
                            let position = match &key {
                                EqKey::Address(p, _) | EqKey::Num(p, _) => *p,
                            };
                            if !self.equal_positions.contains(&position) {
                                self.equal_positions.push(position);
                            }
                            self.equals.entry(key).or_default().push(sub);
                        }
                        Entry::Never => {}
                    }
                }
                self.indexed = true;
            }
        }
    }

    fn remove(&mut self, slot: SlotId) {
        self.always.retain(|s| s.slot != slot);
        self.residual.retain(|s| s.slot != slot);
        for list in self.at_least.values_mut().chain(self.at_most.values_mut()) {
            list.retain(|(_, s)| s.slot != slot);
        }
        self.at_least.retain(|_, l| !l.is_empty());
        self.at_most.retain(|_, l| !l.is_empty());
        self.equals.retain(|_, subs| {
            subs.retain(|s| s.slot != slot);
            !subs.is_empty()
        });
        let equals = &self.equals;
        self.equal_positions.retain(|p| {
            equals.keys().any(|k| match k {
                EqKey::Address(q, _) | EqKey::Num(q, _) => q == p,
            })
        });
        self.indexed =
            !self.at_least.is_empty() || !self.at_most.is_empty() || !self.equals.is_empty();
    }

    fn is_empty(&self) -> bool {
        self.always.is_empty() && self.residual.is_empty() && !self.indexed
    }

    /// Candidates for decoded `params` (the always and residual ones included).
    fn candidates(&self, params: Option<&[Param]>, out: &mut Vec<Sub>) {
        out.extend_from_slice(&self.always);
        out.extend_from_slice(&self.residual);
        let Some(params) = params else { return };
        let num_at = |p: usize| match params.get(p).map(|x| &x.value) {
            Some(Value::Num(n)) => Some(*n),
            _ => None,
        };
        for (position, list) in &self.at_least {
            if let Some(v) = num_at(*position) {
                let end = list.partition_point(|(b, _)| *b <= v);
                out.extend(list[..end].iter().map(|(_, s)| *s));
            }
        }
        for (position, list) in &self.at_most {
            if let Some(v) = num_at(*position) {
                let end = list.partition_point(|(b, _)| *b >= v);
                out.extend(list[..end].iter().map(|(_, s)| *s));
            }
        }
        for position in &self.equal_positions {
            let key = match params.get(*position).map(|x| &x.value) {
                Some(Value::Address(a)) => EqKey::Address(*position, a.clone()),
                Some(Value::Num(n)) => EqKey::Num(*position, *n),
                _ => continue,
            };
            if let Some(subs) = self.equals.get(&key) {
                out.extend_from_slice(subs);
            }
        }
    }
}

/// Every subscription under one (address, selector) or (address, topic0).
#[derive(Debug, Default)]
struct Subscriptions {
    groups: Vec<Group>,
}

impl Subscriptions {
    fn group(&mut self, decoder: u32) -> &mut Group {
        if let Some(i) = self.groups.iter().position(|g| g.decoder == decoder) {
            return &mut self.groups[i];
        }
        self.groups.push(Group {
            decoder,
            ..Default::default()
        });
        self.groups.last_mut().expect("just pushed")
    }

    fn remove(&mut self, slot: SlotId) {
        for g in &mut self.groups {
            g.remove(slot);
        }
        self.groups.retain(|g| !g.is_empty());
    }
}

/// What is subscribed at one address (or, for monitors without addresses, anywhere).
#[derive(Debug, Default)]
struct AddressIndex {
    /// Monitors that match without a call or event (involvement is enough).
    watchers: Vec<SlotId>,
    functions: HashMap<[u8; 4], Subscriptions>,
    events: B256HashMap<Subscriptions>,
}

impl AddressIndex {
    fn remove(&mut self, slot: SlotId) {
        self.watchers.retain(|s| *s != slot);
        self.functions.retain(|_, subs| {
            subs.remove(slot);
            !subs.groups.is_empty()
        });
        self.events.retain(|_, subs| {
            subs.remove(slot);
            !subs.groups.is_empty()
        });
    }

    fn is_empty(&self) -> bool {
        self.watchers.is_empty() && self.functions.is_empty() && self.events.is_empty()
    }
}

#[derive(Debug)]
struct Slot {
    key: MonitorKey,
    version: u64,
    network_slug: String,
    monitor: EvmMonitor,
}

/// Every tenant's monitors on one EVM network.
#[derive(Debug, Default)]
pub struct EvmMatcher {
    slots: Vec<Option<Slot>>,
    free: Vec<SlotId>,
    by_key: HashMap<MonitorKey, SlotId>,
    by_address: AddressHashMap<AddressIndex>,
    /// Monitors with no addresses: they consider every transaction.
    global: AddressIndex,
    function_decoders: Vec<Arc<FunctionItem>>,
    function_decoder_ids: HashMap<String, u32>,
    event_decoders: Vec<Arc<EventItem>>,
    event_decoder_ids: HashMap<String, u32>,
}

/// Decoding depends on the parameter types (and, for events, which are indexed), not on
/// names: monitors whose ABIs agree on those share one decoder.
fn event_decoder_key(item: &EventItem) -> String {
    let indexed: String = item
        .event
        .inputs
        .iter()
        .map(|p| if p.indexed { 'i' } else { 'd' })
        .collect();
    format!("{}|{indexed}", item.signature)
}

fn kinds_of_function(item: &FunctionItem) -> Vec<String> {
    item.function
        .inputs
        .iter()
        .map(|p| p.selector_type().into_owned())
        .collect()
}

fn kinds_of_event(item: &EventItem) -> Vec<String> {
    item.event
        .inputs
        .iter()
        .map(|p| p.selector_type().into_owned())
        .collect()
}

impl EvmMatcher {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of monitors held.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// The config version held for `key`.
    pub fn version(&self, key: &MonitorKey) -> Option<u64> {
        self.by_key
            .get(key)
            .and_then(|s| self.slots[*s as usize].as_ref())
            .map(|s| s.version)
    }

    /// Adds or replaces a monitor. The same version again is a no-op; a paused monitor
    /// is removed. Fails (leaving any held version in place) when it does not compile.
    pub fn upsert(
        &mut self,
        key: MonitorKey,
        version: u64,
        monitor: Arc<Monitor>,
        network_slug: &str,
    ) -> Result<(), Vec<Problem>> {
        if self.version(&key) == Some(version) {
            return Ok(());
        }
        if monitor.paused {
            self.remove(&key);
            return Ok(());
        }
        let compiled = EvmMonitor::compile(monitor)?;
        self.remove(&key);
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(None);
                (self.slots.len() - 1) as SlotId
            }
        };
        self.index(slot, &compiled);
        self.slots[slot as usize] = Some(Slot {
            key: key.clone(),
            version,
            network_slug: network_slug.to_owned(),
            monitor: compiled,
        });
        self.by_key.insert(key, slot);
        Ok(())
    }

    /// Removes a monitor; `false` when it was not held.
    pub fn remove(&mut self, key: &MonitorKey) -> bool {
        let Some(slot) = self.by_key.remove(key) else {
            return false;
        };
        let Some(held) = self.slots[slot as usize].take() else {
            return false;
        };
        if held.monitor.addresses.is_empty() {
            self.global.remove(slot);
        }
        for address in &held.monitor.addresses {
            if let Some(index) = self.by_address.get_mut(address) {
                index.remove(slot);
                if index.is_empty() {
                    self.by_address.remove(address);
                }
            }
        }
        self.free.push(slot);
        true
    }

    fn function_decoder(&mut self, item: &Arc<FunctionItem>) -> u32 {
        if let Some(id) = self.function_decoder_ids.get(&item.signature) {
            return *id;
        }
        let id = self.function_decoders.len() as u32;
        self.function_decoders.push(item.clone());
        self.function_decoder_ids.insert(item.signature.clone(), id);
        id
    }

    fn event_decoder(&mut self, item: &Arc<EventItem>) -> u32 {
        let key = event_decoder_key(item);
        if let Some(id) = self.event_decoder_ids.get(&key) {
            return *id;
        }
        let id = self.event_decoders.len() as u32;
        self.event_decoders.push(item.clone());
        self.event_decoder_ids.insert(key, id);
        id
    }

    fn index(&mut self, slot: SlotId, monitor: &EvmMonitor) {
        let functions: Vec<([u8; 4], u32, Sub, Plan)> = monitor
            .functions
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let decoder = self.function_decoder(&r.item);
                let plan = plan::plan(
                    r.expression.as_ref().map(|e| e.source()),
                    &r.item.names,
                    &kinds_of_function(&r.item),
                );
                (
                    r.item.selector,
                    decoder,
                    Sub {
                        slot,
                        rule: i as u32,
                    },
                    plan,
                )
            })
            .collect();
        let events: Vec<(alloy_primitives::B256, u32, Sub, Plan)> = monitor
            .events
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let decoder = self.event_decoder(&r.item);
                let plan = plan::plan(
                    r.expression.as_ref().map(|e| e.source()),
                    &r.item.names,
                    &kinds_of_event(&r.item),
                );
                (
                    r.item.topic0,
                    decoder,
                    Sub {
                        slot,
                        rule: i as u32,
                    },
                    plan,
                )
            })
            .collect();
        let watcher = !monitor.shape().calls_or_events;
        let subscribe = |index: &mut AddressIndex| {
            if watcher {
                index.watchers.push(slot);
            }
            for (selector, decoder, sub, plan) in &functions {
                index
                    .functions
                    .entry(*selector)
                    .or_default()
                    .group(*decoder)
                    .add(*sub, plan.clone());
            }
            for (topic, decoder, sub, plan) in &events {
                index
                    .events
                    .entry(*topic)
                    .or_default()
                    .group(*decoder)
                    .add(*sub, plan.clone());
            }
        };
        if monitor.addresses.is_empty() {
            subscribe(&mut self.global);
        }
        for address in &monitor.addresses {
            subscribe(self.by_address.entry(*address).or_default());
        }
    }

    /// Finds, decodes (once per decoder) and evaluates the subscriptions `subs` for one
    /// call or log; calls `hit` for each rule whose expression holds.
    fn run_subscriptions(
        &self,
        subs: &[&Subscriptions],
        functions: bool,
        decode: &dyn Fn(u32) -> Option<Rc<Decoded>>,
        candidates: &mut Vec<Sub>,
        hit: &mut dyn FnMut(Sub, Rc<Decoded>),
    ) {
        for group in subs.iter().flat_map(|s| &s.groups) {
            candidates.clear();
            let decoded = if group.indexed {
                decode(group.decoder)
            } else {
                None
            };
            if group.indexed && decoded.is_none() {
                // Does not decode: no indexed, always or residual rule can hold.
                continue;
            }
            group.candidates(decoded.as_deref().map(|d| d.params.as_slice()), candidates);
            if candidates.is_empty() {
                continue;
            }
            candidates.sort_unstable();
            candidates.dedup();
            let Some(params) = decoded.or_else(|| decode(group.decoder)) else {
                continue;
            };
            for sub in candidates.iter() {
                let monitor = &self.slot(sub.slot).monitor;
                let expression = if functions {
                    &monitor.functions[sub.rule as usize].expression
                } else {
                    &monitor.events[sub.rule as usize].expression
                };
                if expression
                    .as_ref()
                    .is_none_or(|e| e.matches(params.params.as_slice()))
                {
                    hit(*sub, params.clone());
                }
            }
        }
    }

    /// Evaluates every monitor on `block`.
    pub fn evaluate(&self, block: &EvmBlockData) -> BlockMatches {
        let receipts: B256HashMap<&EvmReceipt> = block
            .receipts
            .iter()
            .map(|r| (r.transaction_hash, r))
            .collect();
        let mut out = BlockMatches::default();
        // Per slot: the transaction number it was last touched in, and its hit there.
        let mut stamp: Vec<u32> = vec![0; self.slots.len()];
        let mut hit_of: Vec<u32> = vec![0; self.slots.len()];
        let mut hits: Vec<Hit> = Vec::new();
        let mut candidates: Vec<Sub> = Vec::new();
        let mut found_here: Vec<(Sub, Rc<Decoded>)> = Vec::new();
        for (t, tx) in block.block.transactions.iter().enumerate() {
            let tx_no = t as u32 + 1;
            hits.clear();
            let receipt = receipts.get(&tx.hash).copied();
            let mut touch = |slot: SlotId, hits: &mut Vec<Hit>| -> usize {
                let s = slot as usize;
                if stamp[s] != tx_no {
                    stamp[s] = tx_no;
                    hit_of[s] = hits.len() as u32;
                    hits.push(Hit {
                        slot,
                        calls: Vec::new(),
                        events: Vec::new(),
                        first_log: None,
                    });
                }
                hit_of[s] as usize
            };
            for slot in &self.global.watchers {
                touch(*slot, &mut hits);
            }
            let at_from = self.by_address.get(&tx.from);
            let at_to = tx.to.and_then(|to| self.by_address.get(&to));
            for index in at_from.iter().chain(at_to.iter()) {
                for slot in &index.watchers {
                    touch(*slot, &mut hits);
                }
            }
            if tx.to.is_some() && tx.input.len() >= 4 {
                let selector: [u8; 4] = tx.input[..4].try_into().expect("four bytes");
                let subs: Vec<&Subscriptions> = at_to
                    .into_iter()
                    .chain(std::iter::once(&self.global))
                    .filter_map(|i| i.functions.get(&selector))
                    .collect();
                if !subs.is_empty() {
                    let cache = std::cell::RefCell::new(Vec::new());
                    let decode = |d: u32| {
                        cached(&mut cache.borrow_mut(), d, || {
                            self.function_decoders[d as usize].decode(&tx.input)
                        })
                    };
                    found_here.clear();
                    self.run_subscriptions(
                        &subs,
                        true,
                        &decode,
                        &mut candidates,
                        &mut |sub, params| {
                            found_here.push((sub, params));
                        },
                    );
                    // A monitor's rules in their own order, whichever group found them.
                    found_here.sort_by_key(|(sub, _)| *sub);
                    for (sub, params) in found_here.drain(..) {
                        let h = touch(sub.slot, &mut hits);
                        hits[h].calls.push((sub.rule as usize, params));
                    }
                }
            }
            for log in receipt.iter().flat_map(|r| &r.logs) {
                let at = self.by_address.get(&log.address);
                if let Some(index) = at {
                    for slot in &index.watchers {
                        touch(*slot, &mut hits);
                    }
                }
                let Some(topic0) = log.topics.first() else {
                    continue;
                };
                let subs: Vec<&Subscriptions> = at
                    .into_iter()
                    .chain(std::iter::once(&self.global))
                    .filter_map(|i| i.events.get(topic0))
                    .collect();
                if subs.is_empty() {
                    continue;
                }
                let cache = std::cell::RefCell::new(Vec::new());
                let decode = |d: u32| {
                    cached(&mut cache.borrow_mut(), d, || {
                        self.event_decoders[d as usize].decode(log)
                    })
                };
                let log_index = log.log_index.map(|i| i.to::<u64>());
                found_here.clear();
                self.run_subscriptions(
                    &subs,
                    false,
                    &decode,
                    &mut candidates,
                    &mut |sub, params| {
                        found_here.push((sub, params));
                    },
                );
                found_here.sort_by_key(|(sub, _)| *sub);
                for (sub, params) in found_here.drain(..) {
                    let h = touch(sub.slot, &mut hits);
                    hits[h].events.push((sub.rule as usize, params));
                    hits[h].first_log.get_or_insert(log_index);
                }
            }
            if hits.is_empty() {
                continue;
            }
            let mut ctx = TxContext::new(tx, receipt);
            let mut found = Vec::new();
            for hit in &hits {
                let slot = self.slot(hit.slot);
                if let Some(matched) =
                    slot.monitor
                        .conclude(&mut ctx, &slot.network_slug, &hit.calls, &hit.events)
                {
                    found.push(KeyedMatch {
                        key: slot.key.clone(),
                        version: slot.version,
                        transaction_index: t,
                        event_index: hit.first_log.flatten(),
                        matched,
                    });
                }
            }
            out.push_transaction(found);
        }
        out
    }

    fn slot(&self, slot: SlotId) -> &Slot {
        self.slots[slot as usize]
            .as_ref()
            .expect("indexed slots are live")
    }

    /// Addresses with at least one subscription (for diagnostics and tests).
    pub fn watched_addresses(&self) -> impl Iterator<Item = &Address> {
        self.by_address.keys()
    }
}

/// One monitor's hits within a transaction.
struct Hit {
    slot: SlotId,
    calls: Vec<(usize, Rc<Decoded>)>,
    events: Vec<(usize, Rc<Decoded>)>,
    first_log: Option<Option<u64>>,
}

/// Decodes once per decoder for the call or log at hand.
fn cached(
    cache: &mut Vec<(u32, Option<Rc<Decoded>>)>,
    decoder: u32,
    decode: impl FnOnce() -> Result<Vec<Param>, crate::evm::abi::DecodeError>,
) -> Option<Rc<Decoded>> {
    if let Some((_, result)) = cache.iter().find(|(d, _)| *d == decoder) {
        return result.clone();
    }
    let result = decode().ok().map(|p| Rc::new(Decoded::new(p)));
    cache.push((decoder, result.clone()));
    result
}
