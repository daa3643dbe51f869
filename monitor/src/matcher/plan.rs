//! Expression indexing: which decoded values could make a monitor's expression true.
//!
//! Most monitor expressions are a threshold (`value > 1000000`), an equality
//! (`to == 0xabc…`), a disjunction of equalities (`from == X OR to == X`), or one of those
//! in a conjunction with other conditions. For those, a sorted threshold list or a hash
//! of wanted values finds the monitors a decoded call or log may match without looking
//! at the others; everything else is evaluated every time. The index only prunes: every
//! candidate's full compiled expression still decides, so the result is exactly that of
//! evaluating each monitor alone.

use crate::filter::ast::{Base, Condition, Expr, Op};
use crate::value::{Decimal, Num};

/// A value an equality index looks for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum EqKey {
    /// An EVM address, lower-case `0x` hex.
    Address(usize, String),
    Num(usize, Num),
}

/// One way a decoded value can make a monitor a candidate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// The integer at `position` is at least `bound`.
    AtLeast {
        position: usize,
        bound: Num,
    },
    /// The integer at `position` is at most `bound`.
    AtMost {
        position: usize,
        bound: Num,
    },
    Equals(EqKey),
    /// Can never hold (e.g. `value > 2^256`).
    Never,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// No expression: every decoded call or log is a match.
    Always,
    /// Not indexable: evaluate every time.
    Residual,
    /// A candidate when any entry holds.
    Index(Vec<Entry>),
}

fn is_integer_kind(kind: &str) -> bool {
    (kind.starts_with("uint") || kind.starts_with("int")) && !kind.contains(['[', '('])
}

/// Plans one condition on decoded parameters of the given `kinds`. Only integers and
/// addresses are indexed: they decode to themselves whether an event indexes them or not.
fn condition(c: &Condition, names: &[String], kinds: &[String]) -> Option<Vec<Entry>> {
    if !c.lhs.accessors.is_empty() {
        return None;
    }
    let position = match &c.lhs.base {
        Base::Position(p) => *p,
        Base::Name(n) => names.iter().position(|x| x == n)?,
    };
    let kind = kinds.get(position)?;
    if is_integer_kind(kind) {
        let d = Decimal::parse(c.value.text())?;
        let entry = match c.op {
            // v > d ⟺ v ≥ floor(d) + 1;  v ≥ d ⟺ v ≥ ceil(d)
            Op::Gt => match d.floor().and_then(next) {
                Some(bound) => Entry::AtLeast { position, bound },
                None => Entry::Never,
            },
            Op::Ge => match d.ceil() {
                Some(bound) => Entry::AtLeast { position, bound },
                None => Entry::Never,
            },
            // v < d ⟺ v ≤ ceil(d) − 1;  v ≤ d ⟺ v ≤ floor(d)
            Op::Lt => match d.ceil().and_then(previous) {
                Some(bound) => Entry::AtMost { position, bound },
                None => Entry::Never,
            },
            Op::Le => match d.floor() {
                Some(bound) => Entry::AtMost { position, bound },
                None => Entry::Never,
            },
            Op::Eq if !d.has_fraction => {
                Entry::Equals(EqKey::Num(position, Num::new(d.negative, d.integer)))
            }
            Op::Eq => Entry::Never,
            _ => return None,
        };
        return Some(vec![entry]);
    }
    if kind == "address" && c.op == Op::Eq {
        return Some(vec![Entry::Equals(EqKey::Address(
            position,
            c.value.text().trim().to_lowercase(),
        ))]);
    }
    None
}

fn next(n: Num) -> Option<Num> {
    if n.is_negative() {
        Some(Num::new(
            true,
            n.magnitude() - alloy_primitives::U256::from(1),
        ))
    } else {
        n.magnitude()
            .checked_add(alloy_primitives::U256::from(1))
            .map(Num::from_u256)
    }
}

fn previous(n: Num) -> Option<Num> {
    if n.is_negative() {
        n.magnitude()
            .checked_add(alloy_primitives::U256::from(1))
            .map(|m| Num::new(true, m))
    } else if n.magnitude().is_zero() {
        Some(Num::new(true, alloy_primitives::U256::from(1)))
    } else {
        Some(Num::from_u256(
            n.magnitude() - alloy_primitives::U256::from(1),
        ))
    }
}

fn entries(expr: &Expr, names: &[String], kinds: &[String]) -> Option<Vec<Entry>> {
    match expr {
        Expr::Condition(c) => condition(c, names, kinds),
        // Candidate when any alternative may hold: every alternative must be indexable.
        Expr::Or(items) => {
            let mut all = Vec::new();
            for item in items {
                all.extend(entries(item, names, kinds)?);
            }
            Some(all)
        }
        // Candidate only when every conjunct may hold: one indexable conjunct suffices;
        // equalities are the most selective.
        Expr::And(items) => {
            let planned: Vec<Vec<Entry>> = items
                .iter()
                .filter_map(|i| entries(i, names, kinds))
                .collect();
            planned
                .iter()
                .find(|e| {
                    e.iter()
                        .all(|x| matches!(x, Entry::Equals(_) | Entry::Never))
                })
                .or_else(|| planned.first())
                .cloned()
        }
    }
}

/// Plans an expression over parameters with these names and kinds.
pub fn plan(source: Option<&str>, names: &[String], kinds: &[String]) -> Plan {
    let Some(source) = source.filter(|s| !s.trim().is_empty()) else {
        return Plan::Always;
    };
    match crate::filter::parse(source)
        .ok()
        .and_then(|e| entries(&e, names, kinds))
    {
        Some(entries) => Plan::Index(entries),
        None => Plan::Residual,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        ["from", "to", "value"].map(String::from).to_vec()
    }

    fn kinds() -> Vec<String> {
        ["address", "address", "uint256"].map(String::from).to_vec()
    }

    fn n(v: i128) -> Num {
        Num::from_i128(v)
    }

    #[test]
    fn plans_common_shapes() {
        let p = |s: &str| plan(Some(s), &names(), &kinds());
        assert_eq!(
            p("value > 10"),
            Plan::Index(vec![Entry::AtLeast {
                position: 2,
                bound: n(11)
            }])
        );
        assert_eq!(
            p("value >= 10.5"),
            Plan::Index(vec![Entry::AtLeast {
                position: 2,
                bound: n(11)
            }])
        );
        assert_eq!(
            p("value < 10.5"),
            Plan::Index(vec![Entry::AtMost {
                position: 2,
                bound: n(10)
            }])
        );
        assert_eq!(
            p("value <= 10"),
            Plan::Index(vec![Entry::AtMost {
                position: 2,
                bound: n(10)
            }])
        );
        assert_eq!(
            p("value < 0"),
            Plan::Index(vec![Entry::AtMost {
                position: 2,
                bound: n(-1)
            }])
        );
        assert_eq!(
            p("value == 0x10"),
            Plan::Index(vec![Entry::Equals(EqKey::Num(2, n(16)))])
        );
        assert_eq!(p("value == 1.5"), Plan::Index(vec![Entry::Never]));
        assert_eq!(
            p("from == 0xABC OR to == 0xAbC"),
            Plan::Index(vec![
                Entry::Equals(EqKey::Address(0, "0xabc".into())),
                Entry::Equals(EqKey::Address(1, "0xabc".into()))
            ])
        );
        assert_eq!(
            p("value > 5 AND to == 0xabc"),
            Plan::Index(vec![Entry::Equals(EqKey::Address(1, "0xabc".into()))])
        );
        assert_eq!(
            p("value > 5 AND to != 0xabc"),
            Plan::Index(vec![Entry::AtLeast {
                position: 2,
                bound: n(6)
            }])
        );
        assert_eq!(p("value > 5 OR to != 0xabc"), Plan::Residual);
        assert_eq!(p("to != 0xabc"), Plan::Residual);
        assert_eq!(
            p("2 > 5"),
            Plan::Index(vec![Entry::AtLeast {
                position: 2,
                bound: n(6)
            }])
        );
        assert_eq!(p("value > 'x'"), Plan::Residual);
        assert_eq!(plan(None, &names(), &kinds()), Plan::Always);
        let max = format!("value > {}", alloy_primitives::U256::MAX);
        assert_eq!(p(&max), Plan::Index(vec![Entry::Never]));
    }
}
