//! Table tests of the grammar and of each kind's operators, and a property test that
//! parsing and evaluating never panic.

#![allow(clippy::cloned_ref_to_slice_refs)] // the tables read better with owned values

use alloy_primitives::U256;
use proptest::prelude::*;

use super::ast::*;
use super::*;
use crate::value::{Field, Num, Value};

fn cond(expr: &Expr) -> &Condition {
    match expr {
        Expr::Condition(c) => c,
        other => panic!("expected a condition, got {other:?}"),
    }
}

#[test]
fn accepts_the_grammar() {
    let accepted = [
        "value > 10000000000",
        "value>10",
        "to == 0xf423d9c1ffeb6386639d024f3b241dab2331b635 AND from == 0x58b7 AND value > 8000000000",
        "0 == GDF32CQINROD3E2LMCGZUDVMWTXCJFR5SBYVRJ7WAAIAS3P7DCVWZEFY AND 3 >= 2240",
        "data.myKey1 >= 1234 AND data.myKey2 == 'Hello, world!'",
        "orders[2].amount <= -5.25",
        "tuple.0 != +3",
        "(a == 1 OR b == 2) AND c == 3",
        "((a == 1))",
        "a contains 'x' or b starts_with \"y\" And c ends_with z",
        "flag == TRUE",
        "flag == False",
        "name == 'it\\'s'",
        "s == \"say \\\"hi\\\"\"",
        "\t a\t==\t1 ",
        "x == 0XABcd",
        "m.k[0].j == 1",
        "a CONTAINS 1",
        "a Starts_With 1",
    ];
    for source in accepted {
        assert!(parse(source).is_ok(), "{source:?}: {:?}", parse(source));
    }
}

#[test]
fn rejects_with_position_and_expectation() {
    let rejected: &[(&str, usize, &str)] = &[
        ("", 1, "a condition"),
        ("   ", 4, "a condition"),
        ("value", 6, "a comparison operator"),
        ("value >", 8, "a value"),
        ("value > (1)", 9, "a value"),
        ("value = 1", 7, "a comparison operator"),
        ("value => 1", 7, "a comparison operator"),
        ("(a == 1", 8, "')'"),
        ("a == 1)", 7, "AND, OR or the end"),
        ("a == 1 AND", 11, "a parameter name or position"),
        ("a == 1 OR OR b == 2", 11, "a parameter name or position"),
        ("a == 'unterminated", 6, "a closing '"),
        ("a[x] == 1", 3, "an index"),
        ("a[1 == 1", 4, "']'"),
        ("a. == 1", 3, "a field name or position"),
        ("1abc == 1", 1, "a parameter name or position"),
        ("== 1", 1, "a parameter name or position"),
        ("a == 1 b == 2", 8, "AND, OR or the end"),
        ("a == 1 ORDER b == 2", 8, "AND, OR or the end"),
        ("a\n== 1", 2, "a comparison operator"),
        ("a likes 1", 3, "a comparison operator"),
    ];
    for (source, column, expected) in rejected {
        let err = parse(source).unwrap_err();
        assert_eq!(err.column, *column, "{source:?}: {err}");
        assert!(err.expected.contains(expected), "{source:?}: {err}");
    }
}

#[test]
fn limits_length_and_depth() {
    let deep = format!("{}a == 1{}", "(".repeat(65), ")".repeat(65));
    assert!(parse(&deep).unwrap_err().expected.contains("nested"));
    let ok = format!("{}a == 1{}", "(".repeat(64), ")".repeat(64));
    assert!(parse(&ok).is_ok());
    let long = format!("a == '{}'", "x".repeat(parser::MAX_LEN));
    assert!(parse(&long).unwrap_err().expected.contains("at most"));
}

#[test]
fn and_binds_tighter_than_or() {
    let expr = parse("a == 1 OR b == 2 AND c == 3").unwrap();
    let Expr::Or(items) = expr else { panic!() };
    assert_eq!(items.len(), 2);
    assert!(matches!(items[0], Expr::Condition(_)));
    assert!(matches!(&items[1], Expr::And(and) if and.len() == 2));
    let expr = parse("(a == 1 OR b == 2) AND c == 3").unwrap();
    assert!(matches!(expr, Expr::And(_)));
}

#[test]
fn literals_are_classified_and_unescaped() {
    let lit = |s: &str| cond(&parse(s).unwrap()).value.clone();
    assert_eq!(lit("a == 'it\\'s'"), Literal::Quoted("it's".into()));
    assert_eq!(lit("a == \"q\\\"\\\\\""), Literal::Quoted("q\"\\".into()));
    assert_eq!(
        lit("a == 'back\\nslash'"),
        Literal::Quoted("back\\nslash".into())
    );
    assert_eq!(lit("a == TRUE"), Literal::Bool(true));
    assert_eq!(lit("a == false"), Literal::Bool(false));
    assert_eq!(lit("a == 0xAb"), Literal::Hex("0xAb".into()));
    assert_eq!(lit("a == -1.50"), Literal::Number("-1.50".into()));
    assert_eq!(lit("a == GABC"), Literal::Bare("GABC".into()));
    assert_eq!(lit("a == 0xZZ"), Literal::Bare("0xZZ".into()));
    let c = parse("orders[2].amount == 1").unwrap();
    let c = cond(&c);
    assert_eq!(c.lhs.base, Base::Name("orders".into()));
    assert_eq!(
        c.lhs.accessors,
        [Accessor::Index(2), Accessor::Member("amount".into())]
    );
    assert_eq!(c.span.start, 1);
    assert_eq!(cond(&parse("3 >= 1").unwrap()).lhs.base, Base::Position(3));
}

/// Evaluates `source` with parameters named `names` holding `values`.
fn eval(source: &str, names: &[&str], values: &[Value]) -> Result<bool, EvalError> {
    let compiled = Compiled::new(source, &|n| names.iter().position(|x| *x == n)).unwrap();
    compiled.eval(values)
}

fn num(n: i128) -> Value {
    Value::Num(Num::from_i128(n))
}

#[test]
fn numbers_compare_exactly_against_decimal_and_hex() {
    let big = Value::Num(Num::from_u256(U256::MAX));
    let cases: &[(&str, &Value, bool)] = &[
        ("v > 10", &num(11), true),
        ("v > 10", &num(10), false),
        ("v >= 10", &num(10), true),
        ("v < 10.5", &num(10), true),
        ("v > 10.5", &num(10), false),
        ("v == 10.0", &num(10), true),
        ("v == '10'", &num(10), true),
        ("v == 0x0a", &num(10), true),
        ("v == '0x0A'", &num(10), true),
        ("v != 3", &num(10), true),
        ("v < -3", &num(-4), true),
        ("v <= -4", &num(-4), true),
        ("v > -5", &num(-4), true),
        (
            "v == 115792089237316195423570985008687907853269984665640564039457584007913129639935",
            &big,
            true,
        ),
        ("v > 1", &big, true),
    ];
    for (source, value, expected) in cases {
        assert_eq!(
            eval(source, &["v"], &[(*value).clone()]),
            Ok(*expected),
            "{source}"
        );
    }
    for source in ["v contains 1", "v == abc", "v > 'x'", "v == true"] {
        assert!(eval(source, &["v"], &[num(1)]).is_err(), "{source}");
    }
}

#[test]
fn addresses_compare_case_insensitively_with_equality_only() {
    let a = Value::Address("0xf423d9c1ffeb6386639d024f3b241dab2331b635".into());
    assert_eq!(
        eval(
            "a == 0xF423D9C1FFEB6386639D024F3B241DAB2331B635",
            &["a"],
            &[a.clone()]
        ),
        Ok(true)
    );
    assert_eq!(
        eval(
            "a == '0xf423d9c1ffeb6386639d024f3b241dab2331b635'",
            &["a"],
            &[a.clone()]
        ),
        Ok(true)
    );
    assert_eq!(
        eval(
            "a != 0x0000000000000000000000000000000000000000",
            &["a"],
            &[a.clone()]
        ),
        Ok(true)
    );
    assert!(eval("a contains f4", &["a"], &[a.clone()]).is_err());
    assert!(eval("a > 1", &["a"], &[a]).is_err());
}

#[test]
fn text_and_bytes_support_string_operators_case_insensitively() {
    let s = Value::Str("Hello, World".into());
    for (source, expected) in [
        ("s == 'hello, world'", true),
        ("s != 'hello'", true),
        ("s contains 'LO, w'", true),
        ("s starts_with hello", true),
        ("s ends_with 'WORLD'", true),
        ("s ends_with 'hello'", false),
    ] {
        assert_eq!(eval(source, &["s"], &[s.clone()]), Ok(expected), "{source}");
    }
    assert!(eval("s > 1", &["s"], &[s]).is_err());
    // Text that holds a number orders numerically (Stellar maps of strings).
    assert_eq!(
        eval("s >= 1234", &["s"], &[Value::Str("1234".into())]),
        Ok(true)
    );
    let b = Value::Bytes(vec![0xde, 0xad, 0xbe, 0xef]);
    for (source, expected) in [
        ("b == 0xDEADBEEF", true),
        ("b == deadbeef", true),
        ("b starts_with 0xdead", true),
        ("b ends_with 'BEEF'", true),
        ("b contains adbe", true),
        ("b contains 0xff", false),
    ] {
        assert_eq!(eval(source, &["b"], &[b.clone()]), Ok(expected), "{source}");
    }
}

#[test]
fn booleans_compare_with_true_and_false_in_any_case() {
    let t = Value::Bool(true);
    assert_eq!(eval("f == true", &["f"], &[t.clone()]), Ok(true));
    assert_eq!(eval("f == TRUE", &["f"], &[t.clone()]), Ok(true));
    assert_eq!(eval("f != False", &["f"], &[t.clone()]), Ok(true));
    assert_eq!(eval("f == 'true'", &["f"], &[t.clone()]), Ok(true));
    assert!(eval("f > true", &["f"], &[t.clone()]).is_err());
    assert!(eval("f == 1", &["f"], &[t]).is_err());
}

#[test]
fn containers_support_equality_contains_and_access() {
    let arr = Value::Array(vec![num(1), num(2), Value::Array(vec![num(7)])]);
    for (source, expected) in [
        ("a == '[1,2,[7]]'", true),
        ("a == '[1, 2, [7]]'", true),
        ("a != '[1,2]'", true),
        ("a contains 2", true),
        ("a contains 7", true),
        ("a contains 8", false),
        ("a[1] == 2", true),
        ("a.0 == 1", true),
        ("a[2][0] == 7", true),
    ] {
        assert_eq!(
            eval(source, &["a"], &[arr.clone()]),
            Ok(expected),
            "{source}"
        );
    }
    assert!(matches!(
        eval("a[9] == 1", &["a"], &[arr.clone()]),
        Err(EvalError::NoSuchField(_))
    ));
    assert!(eval("a > 1", &["a"], &[arr]).is_err());

    let tuple = Value::Tuple(vec![
        Field {
            name: Some("owner".into()),
            value: Value::Address("0xabc".into()),
        },
        Field {
            name: Some("amount".into()),
            value: num(5),
        },
    ]);
    for (source, expected) in [
        ("t.owner == 0xABC", true),
        ("t.amount > 4", true),
        ("t.1 == 5", true),
        ("t[0] == 0xabc", true),
        ("t == '(0xabc, 5)'", true),
        ("t == '[\"0xabc\", 5]'", true),
        ("t == '{\"owner\": \"0xABC\", \"amount\": \"5\"}'", true),
        ("t contains 5", true),
        ("t contains 6", false),
    ] {
        assert_eq!(
            eval(source, &["t"], &[tuple.clone()]),
            Ok(expected),
            "{source}"
        );
    }

    let map = Value::Map(vec![
        (Value::Str("myKey1".into()), Value::Str("1234".into())),
        (
            Value::Str("myKey2".into()),
            Value::Str("Hello, world!".into()),
        ),
    ]);
    for (source, expected) in [
        (
            "data.myKey1 >= 1234 AND data.myKey2 == 'Hello, world!'",
            true,
        ),
        ("data.mykey2 == 'hello, WORLD!'", true),
        ("data contains myKey2", true),
        ("data contains 'hello, world!'", true),
        ("data contains nope", false),
        (
            "data == '{\"myKey1\": \"1234\", \"myKey2\": \"Hello, world!\"}'",
            true,
        ),
    ] {
        assert_eq!(
            eval(source, &["data"], &[map.clone()]),
            Ok(expected),
            "{source}"
        );
    }
}

#[test]
fn errors_make_one_or_side_false_and_otherwise_no_match() {
    let v = [num(5)];
    assert_eq!(eval("missing == 1 OR v == 5", &["v"], &v), Ok(true));
    assert_eq!(eval("v contains 1 OR v == 5", &["v"], &v), Ok(true));
    assert_eq!(eval("missing == 1 OR v == 6", &["v"], &v), Ok(false));
    assert!(matches!(
        eval("missing == 1 AND v == 5", &["v"], &v),
        Err(EvalError::UnknownParameter(_))
    ));
    assert_eq!(
        eval("(missing == 1 AND v == 5) OR v == 5", &["v"], &v),
        Ok(true)
    );
    // Positions beyond the values are unknown parameters, not panics.
    assert!(eval("7 == 1", &[], &v).is_err());
    let compiled = Compiled::new("missing == 1 AND v == 5", &|n| (n == "v").then_some(0)).unwrap();
    assert!(!compiled.matches(&v[..]));
    assert_eq!(compiled.unknown_parameters(), ["missing"]);
}

#[test]
fn positions_and_names_address_the_same_parameter() {
    let values = [Value::Str("from".into()), num(2240)];
    assert_eq!(
        eval(
            "1 >= 2240 AND amount >= 2240",
            &["sender", "amount"],
            &values
        ),
        Ok(true)
    );
    assert_eq!(eval("0 == FROM", &["sender", "amount"], &values), Ok(true));
}

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        any::<i128>().prop_map(|n| Value::Num(Num::from_i128(n))),
        "[a-zA-Z0-9 ,'\"]{0,12}".prop_map(Value::Str),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(Value::Bytes),
        "0x[0-9a-f]{4}".prop_map(Value::Address),
        Just(Value::Void),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((inner.clone(), inner.clone()), 0..3).prop_map(Value::Map),
            proptest::collection::vec(inner, 0..3).prop_map(|vs| Value::Tuple(
                vs.into_iter()
                    .map(|value| Field {
                        name: Some("f".into()),
                        value
                    })
                    .collect()
            )),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(crate::robustness::cases(2048)))]

    /// Arbitrary text never panics the parser.
    #[test]
    fn parser_never_panics(source in "\\PC{0,80}") {
        let _ = parse(&source);
    }

    /// Text built from the grammar's own pieces (far more likely to parse) never panics
    /// the parser, the compiler or the evaluator, whatever the values.
    #[test]
    fn evaluation_never_panics(
        pieces in proptest::collection::vec(prop_oneof![
            Just("a"), Just("b"), Just("0"), Just("1"), Just("[0]"), Just(".f"), Just(".0"),
            Just(" == "), Just(" != "), Just(" > "), Just(" <= "), Just(" contains "),
            Just(" starts_with "), Just(" AND "), Just(" OR "), Just("("), Just(")"),
            Just("'x'"), Just("\"[1,2]\""), Just("true"), Just("0xff"), Just("-1.5"),
            Just("'{\"f\": 1}'"), Just("GABC"), Just(" "), Just("\\"), Just("'"),
        ], 1..24),
        values in proptest::collection::vec(arb_value(), 0..3),
    ) {
        let source: String = pieces.concat();
        if let Ok(compiled) = Compiled::new(&source, &|n| match n { "a" => Some(0), "b" => Some(1), _ => None }) {
            let _ = compiled.eval(&values);
            let _ = compiled.matches(&values);
        }
    }
}
