//! Decoded values: what EVM ABI and Stellar XDR decoding produce, what filter
//! expressions compare against, and how each renders in matches and templates.
//!
//! Rendering (the `value` strings of `matched_on_args`):
//! - integers of every width: decimal, `-` for negatives;
//! - EVM addresses: lower-case `0x` hex; Stellar addresses: their strkey (`G...`, `C...`);
//! - `bool`: `true` / `false`; strings and symbols: as they are;
//! - `bytes`, `bytesN`: lower-case `0x` hex;
//! - arrays and Stellar vecs: JSON arrays of the rendered elements (numbers and booleans
//!   bare, everything else quoted); tuples: `(a,b)`; Stellar maps: JSON objects when every
//!   key renders as text, else JSON arrays of `[key, value]` pairs; Stellar `void`: `null`.

use std::cmp::Ordering;
use std::fmt::Write as _;

use alloy_primitives::{I256, U256};

/// An integer of any kind (EVM `intN`/`uintN`, Stellar `u32` ... `i256`): a sign and a
/// 256-bit magnitude, enough for every one of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Num {
    negative: bool,
    magnitude: U256,
}

impl Num {
    pub fn from_u256(value: U256) -> Self {
        Self {
            negative: false,
            magnitude: value,
        }
    }

    pub fn from_i256(value: I256) -> Self {
        let (sign, magnitude) = value.into_sign_and_abs();
        Self::new(sign.is_negative(), magnitude)
    }

    pub fn from_i128(value: i128) -> Self {
        Self::new(value < 0, U256::from(value.unsigned_abs()))
    }

    pub fn from_u128(value: u128) -> Self {
        Self::from_u256(U256::from(value))
    }

    /// Zero is never negative, so equal numbers have one representation.
    pub fn new(negative: bool, magnitude: U256) -> Self {
        Self {
            negative: negative && !magnitude.is_zero(),
            magnitude,
        }
    }

    pub fn is_negative(&self) -> bool {
        self.negative
    }

    pub fn magnitude(&self) -> U256 {
        self.magnitude
    }
}

impl Ord for Num {
    /// Numeric order.
    fn cmp(&self, other: &Self) -> Ordering {
        match (self.negative, other.negative) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => self.magnitude.cmp(&other.magnitude),
            (true, true) => other.magnitude.cmp(&self.magnitude),
        }
    }
}

impl PartialOrd for Num {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Display for Num {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.negative {
            f.write_char('-')?;
        }
        write!(f, "{}", self.magnitude)
    }
}

/// A number written in an expression: an integer part and whether a non-zero fraction
/// follows, which is all an exact comparison with an integer needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decimal {
    pub negative: bool,
    pub integer: U256,
    pub has_fraction: bool,
}

impl Decimal {
    /// Parses `[+-]?digits(.digits)?` or `[+-]?0x hex`. `None` if it is not a number or
    /// does not fit in 256 bits.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (negative, body) = match text.as_bytes().first()? {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            if hex.is_empty() || hex.len() > 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            let integer = U256::from_str_radix(hex, 16).ok()?;
            return Some(Self::new(negative, integer, false));
        }
        let (int_part, frac_part) = match body.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (body, None),
        };
        if int_part.is_empty() || !int_part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let has_fraction = match frac_part {
            Some(f) if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) => return None,
            Some(f) => f.bytes().any(|b| b != b'0'),
            None => false,
        };
        let integer = U256::from_str_radix(int_part, 10).ok()?;
        Some(Self::new(negative, integer, has_fraction))
    }

    fn new(negative: bool, integer: U256, has_fraction: bool) -> Self {
        Self {
            negative: negative && (!integer.is_zero() || has_fraction),
            integer,
            has_fraction,
        }
    }

    /// The largest integer not above this number (`None` below the 256-bit range).
    pub fn floor(&self) -> Option<Num> {
        if self.negative && self.has_fraction {
            self.integer
                .checked_add(U256::from(1))
                .map(|m| Num::new(true, m))
        } else {
            Some(Num::new(self.negative, self.integer))
        }
    }

    /// The smallest integer not below this number (`None` above the 256-bit range).
    pub fn ceil(&self) -> Option<Num> {
        if !self.negative && self.has_fraction {
            self.integer
                .checked_add(U256::from(1))
                .map(|m| Num::new(false, m))
        } else {
            Some(Num::new(self.negative, self.integer))
        }
    }

    /// How the integer `n` compares with this number, exactly.
    pub fn compare(&self, n: &Num) -> Ordering {
        match (n.negative, self.negative) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => match n.magnitude.cmp(&self.integer) {
                Ordering::Equal if self.has_fraction => Ordering::Less,
                other => other,
            },
            (true, true) => match self.integer.cmp(&n.magnitude) {
                Ordering::Equal if self.has_fraction => Ordering::Greater,
                other => other,
            },
        }
    }
}

/// One field of an EVM tuple: its ABI component name, if it has one.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub name: Option<String>,
    pub value: Value,
}

/// A decoded value. The variant decides which operators apply (see the filter module).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Bool(bool),
    Num(Num),
    /// An EVM address, lower-case `0x` hex. Compared with `==`/`!=`, case-insensitively.
    Address(String),
    /// Text: EVM `string`, Stellar `string`, `symbol` and addresses (strkeys).
    Str(String),
    /// EVM `bytes`/`bytesN`, Stellar `bytes`/`bytesN`.
    Bytes(Vec<u8>),
    /// EVM `T[]`/`T[k]`, Stellar `vec`.
    Array(Vec<Value>),
    /// EVM tuples.
    Tuple(Vec<Field>),
    /// Stellar `map`, in on-chain order.
    Map(Vec<(Value, Value)>),
    /// Stellar `void` (and absent options).
    Void,
}

impl Value {
    /// The rendering described in the module documentation.
    pub fn render(&self) -> String {
        match self {
            Value::Str(s) | Value::Address(s) => s.clone(),
            _ => {
                let mut out = String::new();
                self.render_into(&mut out);
                out
            }
        }
    }

    fn render_into(&self, out: &mut String) {
        match self {
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Num(n) => {
                let _ = write!(out, "{n}");
            }
            Value::Address(s) | Value::Str(s) => out.push_str(s),
            Value::Bytes(b) => {
                out.push_str("0x");
                out.push_str(&hex::encode(b));
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.render_json_into(out);
                }
                out.push(']');
            }
            Value::Tuple(fields) => {
                out.push('(');
                for (i, field) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    field.value.render_into(out);
                }
                out.push(')');
            }
            Value::Map(entries) => {
                let textual = entries.iter().all(|(k, _)| matches!(k, Value::Str(_)));
                if textual {
                    out.push('{');
                    for (i, (k, v)) in entries.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        k.render_json_into(out);
                        out.push(':');
                        v.render_json_into(out);
                    }
                    out.push('}');
                } else {
                    out.push('[');
                    for (i, (k, v)) in entries.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        out.push('[');
                        k.render_json_into(out);
                        out.push(',');
                        v.render_json_into(out);
                        out.push(']');
                    }
                    out.push(']');
                }
            }
            Value::Void => out.push_str("null"),
        }
    }

    /// Rendering inside a JSON container: text quoted and escaped, numbers, booleans
    /// and containers bare.
    fn render_json_into(&self, out: &mut String) {
        match self {
            Value::Bool(_) | Value::Num(_) | Value::Array(_) | Value::Map(_) | Value::Void => {
                self.render_into(out)
            }
            Value::Tuple(_) | Value::Address(_) | Value::Str(_) | Value::Bytes(_) => {
                let mut text = String::new();
                self.render_into(&mut text);
                out.push_str(&serde_json::Value::String(text).to_string());
            }
        }
    }
}

/// A decoded function argument or event parameter, as it appears in
/// `matched_on_args` (`{name, value, kind, indexed}`) plus the typed value filters use.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// ABI / contract-spec name, or the position (`"0"`, `"1"`, ...) without one.
    pub name: String,
    /// EVM Solidity type (`uint256`, `address[]`, `(address,uint256)`) or Stellar kind
    /// (`Address`, `I128`, `Map`, ...).
    pub kind: String,
    pub value: Value,
    /// EVM: an indexed event parameter (read from topics). Stellar: read from topics.
    pub indexed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(n: i128) -> Num {
        Num::from_i128(n)
    }

    #[test]
    fn decimals_parse_exactly() {
        assert_eq!(Decimal::parse("10").unwrap().integer, U256::from(10));
        assert_eq!(Decimal::parse("0x1f").unwrap().integer, U256::from(31));
        assert!(Decimal::parse("-0").unwrap().compare(&num(0)).is_eq());
        assert!(Decimal::parse("1.5").unwrap().has_fraction);
        assert!(!Decimal::parse("1.000").unwrap().has_fraction);
        for bad in [
            "", "-", "1.", ".5", "1e5", "0x", "0xg", "12a", "--1", "1.2.3",
        ] {
            assert!(Decimal::parse(bad).is_none(), "{bad:?}");
        }
        let max = format!("{}", U256::MAX);
        assert!(Decimal::parse(&max).is_some());
        assert!(
            Decimal::parse(&format!("{max}0")).is_none(),
            "overflow is not a number"
        );
    }

    #[test]
    fn comparisons_with_fractions_and_signs_are_exact() {
        let d = |s| Decimal::parse(s).unwrap();
        assert_eq!(d("1.5").compare(&num(1)), Ordering::Less);
        assert_eq!(d("1.5").compare(&num(2)), Ordering::Greater);
        assert_eq!(d("-1.5").compare(&num(-1)), Ordering::Greater);
        assert_eq!(d("-1.5").compare(&num(-2)), Ordering::Less);
        assert_eq!(d("-3").compare(&num(2)), Ordering::Greater);
        assert_eq!(d("3").compare(&num(-2)), Ordering::Less);
        assert_eq!(d("0").compare(&num(0)), Ordering::Equal);
        assert_eq!(d("-0.5").compare(&num(0)), Ordering::Greater);
    }

    #[test]
    fn numbers_order_and_decimals_round() {
        let mut nums = vec![num(3), num(-7), num(0), num(-1), num(12)];
        nums.sort();
        assert_eq!(nums, [num(-7), num(-1), num(0), num(3), num(12)]);
        let d = |s| Decimal::parse(s).unwrap();
        assert_eq!(
            (d("1.5").floor(), d("1.5").ceil()),
            (Some(num(1)), Some(num(2)))
        );
        assert_eq!(
            (d("-1.5").floor(), d("-1.5").ceil()),
            (Some(num(-2)), Some(num(-1)))
        );
        assert_eq!(
            (d("4").floor(), d("4").ceil()),
            (Some(num(4)), Some(num(4)))
        );
    }

    #[test]
    fn renders_as_documented() {
        let v = Value::Array(vec![
            Value::Num(num(-1)),
            Value::Str("a\"b".into()),
            Value::Bytes(vec![0xab]),
            Value::Tuple(vec![Field {
                name: None,
                value: Value::Bool(true),
            }]),
        ]);
        assert_eq!(v.render(), r#"[-1,"a\"b","0xab","(true)"]"#);
        let m = Value::Map(vec![(Value::Str("k".into()), Value::Num(num(5)))]);
        assert_eq!(m.render(), r#"{"k":5}"#);
        let m = Value::Map(vec![(Value::Num(num(1)), Value::Void)]);
        assert_eq!(m.render(), "[[1,null]]");
    }
}
