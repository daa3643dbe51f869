//! The Stellar RPC client: `getLatestLedger`, `getLedgers`, `getTransactions`,
//! `getEvents` (all paginated), and a contract's SEP-48 spec read from the chain
//! (`getLedgerEntries`: the contract instance, then its Wasm, then the `contractspecv0`
//! custom section), cached per contract.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::Deserialize;
use serde_json::json;
use stellar_xdr::{
    ContractDataDurability, ContractExecutable, LedgerEntryData, LedgerKey, LedgerKeyContractCode,
    LedgerKeyContractData, Limited, Limits, ReadXdr, ScAddress, ScSpecEntry, ScVal, WriteXdr,
};

use super::transport::{Endpoint, RpcError, Transport, TransportOptions};
use crate::stellar::spec::ContractSpec;
use crate::stellar::{StellarBlockData, StellarEvent, StellarLedger, StellarTransaction};

/// Entries per page asked of the server.
const PAGE: u32 = 200;

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LatestLedger {
    pub id: String,
    pub sequence: u32,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Ledgers {
    ledgers: Vec<StellarLedger>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Transactions {
    transactions: Vec<StellarTransaction>,
    #[serde(default)]
    cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Events {
    events: Vec<StellarEvent>,
    #[serde(default)]
    cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LedgerEntries {
    entries: Option<Vec<LedgerEntryResult>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LedgerEntryResult {
    xdr: String,
}

pub struct StellarClient {
    transport: Transport,
    specs: Mutex<HashMap<String, ContractSpec>>,
}

impl std::fmt::Debug for StellarClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StellarClient")
    }
}

fn malformed(method: &str, reason: impl std::fmt::Display) -> RpcError {
    RpcError::Malformed {
        method: method.into(),
        reason: reason.to_string(),
    }
}

impl StellarClient {
    pub fn new(
        endpoints: Vec<Endpoint>,
        options: TransportOptions,
        network: &str,
    ) -> Result<Self, RpcError> {
        Ok(Self {
            transport: Transport::new(endpoints, options, network)?,
            specs: Mutex::new(HashMap::new()),
        })
    }

    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    pub async fn latest_ledger(&self) -> Result<LatestLedger, RpcError> {
        self.transport.call("getLatestLedger", json!({})).await
    }

    /// The header of ledger `sequence`.
    pub async fn ledger(&self, sequence: u32) -> Result<StellarLedger, RpcError> {
        let page: Ledgers = self
            .transport
            .call(
                "getLedgers",
                json!({"startLedger": sequence, "pagination": {"limit": 1}}),
            )
            .await?;
        page.ledgers
            .into_iter()
            .find(|l| l.sequence == sequence)
            .ok_or_else(|| malformed("getLedgers", format!("ledger {sequence} not in the answer")))
    }

    /// Every transaction of ledger `sequence`, in application order.
    pub async fn transactions(&self, sequence: u32) -> Result<Vec<StellarTransaction>, RpcError> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let params = match &cursor {
                None => json!({"startLedger": sequence, "pagination": {"limit": PAGE}}),
                Some(c) => json!({"pagination": {"cursor": c, "limit": PAGE}}),
            };
            let page: Transactions = self.transport.call("getTransactions", params).await?;
            let done = page.transactions.is_empty()
                || page.transactions.iter().any(|t| t.ledger > sequence);
            out.extend(
                page.transactions
                    .into_iter()
                    .filter(|t| t.ledger == sequence),
            );
            match page.cursor {
                Some(c) if !done && cursor.as_deref() != Some(c.as_str()) => cursor = Some(c),
                _ => break,
            }
        }
        Ok(out)
    }

    /// Every contract event of ledger `sequence`.
    pub async fn events(&self, sequence: u32) -> Result<Vec<StellarEvent>, RpcError> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let params = match &cursor {
                None => {
                    json!({"startLedger": sequence, "endLedger": sequence + 1, "filters": [], "pagination": {"limit": PAGE}})
                }
                Some(c) => json!({"filters": [], "pagination": {"cursor": c, "limit": PAGE}}),
            };
            let page: Events = self.transport.call("getEvents", params).await?;
            let done = page.events.is_empty() || page.events.iter().any(|e| e.ledger > sequence);
            out.extend(
                page.events
                    .into_iter()
                    .filter(|e| e.ledger == sequence && e.kind == "contract"),
            );
            match page.cursor {
                Some(c) if !done && cursor.as_deref() != Some(c.as_str()) => cursor = Some(c),
                _ => break,
            }
        }
        Ok(out)
    }

    /// Ledger `sequence` with its transactions and events.
    pub async fn block(&self, sequence: u32) -> Result<StellarBlockData, RpcError> {
        let (ledger, transactions, events) = tokio::try_join!(
            self.ledger(sequence),
            self.transactions(sequence),
            self.events(sequence)
        )?;
        Ok(StellarBlockData {
            ledger,
            transactions,
            events,
        })
    }

    /// The SEP-48 spec of a contract, read from the chain once and cached.
    pub async fn contract_spec(&self, contract: &str) -> Result<ContractSpec, RpcError> {
        if let Some(spec) = self
            .specs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(contract)
        {
            return Ok(spec.clone());
        }
        let method = "getLedgerEntries";
        let address: ScAddress = contract
            .parse()
            .map_err(|_| malformed(method, format!("{contract} is not a contract address")))?;
        let instance_key = LedgerKey::ContractData(LedgerKeyContractData {
            contract: address,
            key: ScVal::LedgerKeyContractInstance,
            durability: ContractDataDurability::Persistent,
        });
        let entry = self.ledger_entry(&instance_key).await?;
        let LedgerEntryData::ContractData(data) = entry else {
            return Err(malformed(method, "the instance key holds no contract data"));
        };
        let ScVal::ContractInstance(instance) = data.val else {
            return Err(malformed(method, "the contract data is not an instance"));
        };
        let ContractExecutable::Wasm(hash) = instance.executable else {
            return Err(malformed(
                method,
                "a Stellar Asset Contract has no Wasm spec",
            ));
        };
        let code = self
            .ledger_entry(&LedgerKey::ContractCode(LedgerKeyContractCode { hash }))
            .await?;
        let LedgerEntryData::ContractCode(code) = code else {
            return Err(malformed(method, "the code key holds no contract code"));
        };
        let entries = spec_from_wasm(&code.code).map_err(|e| malformed(method, e))?;
        let spec = ContractSpec::from_entries(&entries);
        self.specs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(contract.to_owned(), spec.clone());
        Ok(spec)
    }

    async fn ledger_entry(&self, key: &LedgerKey) -> Result<LedgerEntryData, RpcError> {
        let method = "getLedgerEntries";
        let key = key
            .to_xdr_base64(Limits::none())
            .map_err(|e| malformed(method, e))?;
        let result: LedgerEntries = self.transport.call(method, json!({"keys": [key]})).await?;
        let entry = result
            .entries
            .unwrap_or_default()
            .into_iter()
            .next()
            .ok_or_else(|| malformed(method, "no such ledger entry"))?;
        LedgerEntryData::from_xdr_base64(
            &entry.xdr,
            Limits {
                depth: 200,
                len: 8 * 1024 * 1024,
            },
        )
        .map_err(|e| malformed(method, e))
    }
}

/// Reads the `contractspecv0` custom section of a Wasm module: a stream of XDR
/// `ScSpecEntry`.
pub fn spec_from_wasm(wasm: &[u8]) -> Result<Vec<ScSpecEntry>, String> {
    if wasm.len() < 8 || &wasm[..4] != b"\0asm" {
        return Err("not a Wasm module".into());
    }
    let mut at = 8;
    let leb = |at: &mut usize| -> Result<usize, String> {
        let (mut value, mut shift) = (0usize, 0u32);
        loop {
            let byte = *wasm.get(*at).ok_or("truncated LEB128")?;
            *at += 1;
            value |= ((byte & 0x7f) as usize)
                .checked_shl(shift)
                .ok_or("LEB128 overflow")?;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
            shift += 7;
            if shift > 35 {
                return Err("LEB128 overflow".into());
            }
        }
    };
    while at < wasm.len() {
        let id = wasm[at];
        at += 1;
        let size = leb(&mut at)?;
        let end = at
            .checked_add(size)
            .filter(|e| *e <= wasm.len())
            .ok_or("section past the end")?;
        if id == 0 {
            let mut p = at;
            let name_len = leb(&mut p)?;
            let name_end = p
                .checked_add(name_len)
                .filter(|e| *e <= end)
                .ok_or("bad section name")?;
            if &wasm[p..name_end] == b"contractspecv0" {
                let data = &wasm[name_end..end];
                let mut reader = Limited::new(
                    std::io::Cursor::new(data),
                    Limits {
                        depth: 200,
                        len: data.len(),
                    },
                );
                return ScSpecEntry::read_xdr_iter(&mut reader)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| format!("invalid spec XDR: {e}"));
            }
        }
        at = end;
    }
    Err("the module has no contractspecv0 section".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_spec_section_of_a_module() {
        let entries = vec![ScSpecEntry::FunctionV0(stellar_xdr::ScSpecFunctionV0 {
            doc: Default::default(),
            name: stellar_xdr::ScSymbol("hello".try_into().unwrap()),
            inputs: vec![stellar_xdr::ScSpecFunctionInputV0 {
                doc: Default::default(),
                name: "to".try_into().unwrap(),
                type_: stellar_xdr::ScSpecTypeDef::Symbol,
            }]
            .try_into()
            .unwrap(),
            outputs: Default::default(),
        })];
        let mut payload = Vec::new();
        for e in &entries {
            payload.extend(e.to_xdr(Limits::none()).unwrap());
        }
        let name = b"contractspecv0";
        let mut section = vec![name.len() as u8];
        section.extend_from_slice(name);
        section.extend(&payload);
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.push(1); // an unrelated section first
        wasm.push(1);
        wasm.push(0);
        wasm.push(0);
        wasm.push(section.len() as u8);
        wasm.extend(section);
        assert_eq!(spec_from_wasm(&wasm).unwrap(), entries);
        assert!(spec_from_wasm(b"nope").is_err());
        assert!(spec_from_wasm(&wasm[..wasm.len() - 3]).is_err());
        assert!(
            spec_from_wasm(b"\0asm\x01\0\0\0")
                .unwrap_err()
                .contains("no contractspecv0")
        );
    }
}
