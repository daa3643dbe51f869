//! Engine micro-benchmarks: parsing and compiling a filter expression, evaluating a
//! compiled one, and decoding an ERC-20 Transfer log.
//! Run: `cargo bench -p monitor --bench engine`.

use std::hint::black_box;

use alloy_primitives::{Address, B256, U256};
use criterion::{Criterion, criterion_group, criterion_main};
use monitor::evm::EvmLog;
use monitor::evm::abi::EventItem;
use monitor::filter::Compiled;
use monitor::value::{Num, Value};

const EXPRESSION: &str = "to == 0xf423d9c1ffeb6386639d024f3b241dab2331b635 AND \
    from == 0x58b704065b7aff3ed351052f8560019e05925023 AND value > 8000000000";

fn names(n: &str) -> Option<usize> {
    ["from", "to", "value"].iter().position(|x| *x == n)
}

fn filter(c: &mut Criterion) {
    c.bench_function("filter/parse_and_compile", |b| {
        b.iter(|| Compiled::new(black_box(EXPRESSION), &names).unwrap())
    });
    let compiled = Compiled::new(EXPRESSION, &names).unwrap();
    let values = vec![
        Value::Address("0x58b704065b7aff3ed351052f8560019e05925023".into()),
        Value::Address("0xf423d9c1ffeb6386639d024f3b241dab2331b635".into()),
        Value::Num(Num::from_u256(U256::from(8_181_710_000u64))),
    ];
    c.bench_function("filter/eval_compiled", |b| {
        b.iter(|| assert!(compiled.eval(black_box(values.as_slice())).unwrap()))
    });
}

fn decode(c: &mut Criterion) {
    let item = EventItem::new(
        alloy_json_abi::Event::parse(
            "event Transfer(address indexed from, address indexed to, uint256 value)",
        )
        .unwrap(),
    );
    let log = EvmLog {
        address: Address::repeat_byte(0xa0),
        topics: vec![
            item.topic0,
            B256::left_padding_from(Address::repeat_byte(0x58).as_slice()),
            B256::left_padding_from(Address::repeat_byte(0xf4).as_slice()),
        ],
        data: B256::from(U256::from(8_181_710_000u64)).to_vec().into(),
        log_index: None,
        transaction_hash: None,
        transaction_index: None,
        other: Default::default(),
    };
    c.bench_function("evm/decode_transfer_log", |b| {
        b.iter(|| item.decode(black_box(&log)).unwrap())
    });
}

criterion_group!(benches, filter, decode);
criterion_main!(benches);
