//! The compiled form and its evaluation.

use std::cmp::Ordering;

use super::ast::{Accessor, Base, Expr, Literal, Op};
use crate::value::{Decimal, Num, Value};

/// Why an expression could not be evaluated on some values.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    #[error("unknown parameter '{0}'")]
    UnknownParameter(String),
    #[error("no field '{0}'")]
    NoSuchField(String),
    #[error("operator {op} does not apply to {kind} and {literal:?}")]
    TypeMismatch {
        op: &'static str,
        kind: &'static str,
        literal: String,
    },
}

#[derive(Clone, Debug)]
pub(super) enum Node {
    Or(Vec<Node>),
    And(Vec<Node>),
    Cond(Box<Cond>),
}

#[derive(Clone, Debug)]
pub(super) struct Cond {
    slot: Slot,
    accessors: Vec<Accessor>,
    op: Op,
    lit: Lit,
}

#[derive(Clone, Debug)]
enum Slot {
    Position(usize),
    Unknown(String),
}

/// A literal with every reading of it prepared once.
#[derive(Clone, Debug)]
struct Lit {
    text: String,
    /// Lower-cased, for case-insensitive comparisons.
    folded: String,
    number: Option<Decimal>,
    boolean: Option<bool>,
    /// Set when the text is a JSON array or object (for containers).
    json: Option<serde_json::Value>,
}

impl Lit {
    fn new(literal: &Literal) -> Self {
        let text = literal.text().to_owned();
        let trimmed = text.trim();
        let json = if trimmed.starts_with('[') || trimmed.starts_with('{') {
            serde_json::from_str(trimmed).ok()
        } else {
            None
        };
        Self {
            folded: text.to_lowercase(),
            number: Decimal::parse(&text),
            boolean: match literal {
                Literal::Bool(b) => Some(*b),
                _ if trimmed.eq_ignore_ascii_case("true") => Some(true),
                _ if trimmed.eq_ignore_ascii_case("false") => Some(false),
                _ => None,
            },
            json,
            text,
        }
    }
}

impl Node {
    pub(super) fn compile(expr: &Expr, resolve: &dyn Fn(&str) -> Option<usize>) -> Node {
        match expr {
            Expr::Or(items) => Node::Or(items.iter().map(|e| Node::compile(e, resolve)).collect()),
            Expr::And(items) => {
                Node::And(items.iter().map(|e| Node::compile(e, resolve)).collect())
            }
            Expr::Condition(c) => {
                let slot = match &c.lhs.base {
                    Base::Position(p) => Slot::Position(*p),
                    Base::Name(name) => match resolve(name) {
                        Some(p) => Slot::Position(p),
                        None => Slot::Unknown(name.clone()),
                    },
                };
                Node::Cond(Box::new(Cond {
                    slot,
                    accessors: c.lhs.accessors.clone(),
                    op: c.op,
                    lit: Lit::new(&c.value),
                }))
            }
        }
    }

    pub(super) fn eval<V: super::Values + ?Sized>(&self, params: &V) -> Result<bool, EvalError> {
        match self {
            // An error on one side of an OR makes that side false.
            Node::Or(items) => Ok(items.iter().any(|n| n.eval(params).unwrap_or(false))),
            Node::And(items) => {
                for item in items {
                    if !item.eval(params)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Node::Cond(c) => c.eval(params),
        }
    }

    pub(super) fn unknown_parameters(&self, out: &mut Vec<String>) {
        match self {
            Node::Or(items) | Node::And(items) => {
                items.iter().for_each(|n| n.unknown_parameters(out))
            }
            Node::Cond(c) => {
                if let Slot::Unknown(name) = &c.slot
                    && !out.contains(name)
                {
                    out.push(name.clone());
                }
            }
        }
    }
}

impl Cond {
    fn eval<V: super::Values + ?Sized>(&self, params: &V) -> Result<bool, EvalError> {
        let mut value = match &self.slot {
            Slot::Position(p) => params
                .value_at(*p)
                .ok_or_else(|| EvalError::UnknownParameter(p.to_string()))?,
            Slot::Unknown(name) => return Err(EvalError::UnknownParameter(name.clone())),
        };
        for accessor in &self.accessors {
            value = access(value, accessor)?;
        }
        compare(value, self.op, &self.lit)
    }
}

fn access<'v>(value: &'v Value, accessor: &Accessor) -> Result<&'v Value, EvalError> {
    let missing = || {
        EvalError::NoSuchField(match accessor {
            Accessor::Index(i) => format!("[{i}]"),
            Accessor::Member(m) => m.clone(),
        })
    };
    let position = match accessor {
        Accessor::Index(i) => Some(*i),
        Accessor::Member(m) => m.parse::<usize>().ok(),
    };
    match value {
        Value::Array(items) => position.and_then(|i| items.get(i)).ok_or_else(missing),
        Value::Tuple(fields) => {
            if let Accessor::Member(name) = accessor
                && let Some(f) = fields
                    .iter()
                    .find(|f| f.name.as_deref() == Some(name.as_str()))
            {
                return Ok(&f.value);
            }
            position
                .and_then(|i| fields.get(i))
                .map(|f| &f.value)
                .ok_or_else(missing)
        }
        Value::Map(entries) => {
            let key = match accessor {
                Accessor::Index(i) => i.to_string(),
                Accessor::Member(m) => m.clone(),
            };
            entries
                .iter()
                .find(|(k, _)| k.render() == key)
                .or_else(|| {
                    entries
                        .iter()
                        .find(|(k, _)| k.render().eq_ignore_ascii_case(&key))
                })
                .map(|(_, v)| v)
                .ok_or_else(missing)
        }
        _ => Err(missing()),
    }
}

fn kind_name(value: &Value) -> &'static str {
    match value {
        Value::Bool(_) => "bool",
        Value::Num(_) => "number",
        Value::Address(_) => "address",
        Value::Str(_) => "text",
        Value::Bytes(_) => "bytes",
        Value::Array(_) => "array",
        Value::Tuple(_) => "tuple",
        Value::Map(_) => "map",
        Value::Void => "void",
    }
}

fn ordering_holds(op: Op, ord: Ordering) -> Option<bool> {
    Some(match op {
        Op::Eq => ord == Ordering::Equal,
        Op::Ne => ord != Ordering::Equal,
        Op::Gt => ord == Ordering::Greater,
        Op::Ge => ord != Ordering::Less,
        Op::Lt => ord == Ordering::Less,
        Op::Le => ord != Ordering::Greater,
        Op::Contains | Op::StartsWith | Op::EndsWith => return None,
    })
}

fn text_holds(op: Op, value: &str, lit: &str) -> Option<bool> {
    Some(match op {
        Op::Eq => value == lit,
        Op::Ne => value != lit,
        Op::Contains => value.contains(lit),
        Op::StartsWith => value.starts_with(lit),
        Op::EndsWith => value.ends_with(lit),
        Op::Gt | Op::Ge | Op::Lt | Op::Le => return None,
    })
}

fn strip_hex_prefix(s: &str) -> &str {
    s.strip_prefix("0x").unwrap_or(s)
}

/// Parses text as an integer (for ordering text values that hold numbers).
fn text_as_num(text: &str) -> Option<Num> {
    let d = Decimal::parse(text)?;
    (!d.has_fraction).then(|| Num::new(d.negative, d.integer))
}

fn compare(value: &Value, op: Op, lit: &Lit) -> Result<bool, EvalError> {
    let mismatch = || EvalError::TypeMismatch {
        op: op.as_str(),
        kind: kind_name(value),
        literal: lit.text.clone(),
    };
    let result = match value {
        Value::Num(n) => lit.number.and_then(|d| ordering_holds(op, d.compare(n))),
        Value::Bool(b) => match (op, lit.boolean) {
            (Op::Eq, Some(l)) => Some(*b == l),
            (Op::Ne, Some(l)) => Some(*b != l),
            _ => None,
        },
        Value::Address(a) => match op {
            Op::Eq => Some(a.eq_ignore_ascii_case(lit.text.trim())),
            Op::Ne => Some(!a.eq_ignore_ascii_case(lit.text.trim())),
            _ => None,
        },
        Value::Str(s) => match op {
            Op::Gt | Op::Ge | Op::Lt | Op::Le => match (text_as_num(s), lit.number) {
                (Some(n), Some(d)) => ordering_holds(op, d.compare(&n)),
                _ => None,
            },
            _ => text_holds(op, &s.to_lowercase(), &lit.folded),
        },
        Value::Bytes(b) => text_holds(op, &hex::encode(b), strip_hex_prefix(&lit.folded)),
        Value::Array(_) | Value::Tuple(_) | Value::Map(_) => match op {
            Op::Eq => Some(container_equals(value, lit)),
            Op::Ne => Some(!container_equals(value, lit)),
            Op::Contains => Some(contains_deep(value, lit)),
            _ => None,
        },
        Value::Void => {
            let is_null = matches!(lit.folded.trim(), "null" | "void" | "");
            match op {
                Op::Eq => Some(is_null),
                Op::Ne => Some(!is_null),
                _ => None,
            }
        }
    };
    result.ok_or_else(mismatch)
}

/// `contains` on a container: an element, field, key or value at any depth equals the
/// literal.
fn contains_deep(value: &Value, lit: &Lit) -> bool {
    let element_matches = |v: &Value| match v {
        Value::Array(_) | Value::Tuple(_) | Value::Map(_) => {
            container_equals(v, lit) || contains_deep(v, lit)
        }
        _ => compare(v, Op::Eq, lit).unwrap_or(false),
    };
    match value {
        Value::Array(items) => items.iter().any(element_matches),
        Value::Tuple(fields) => fields.iter().any(|f| element_matches(&f.value)),
        Value::Map(entries) => entries
            .iter()
            .any(|(k, v)| element_matches(k) || element_matches(v)),
        _ => false,
    }
}

fn normalized(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// `==` on a container: against a JSON literal element by element, else against the
/// rendered form with whitespace and case ignored.
fn container_equals(value: &Value, lit: &Lit) -> bool {
    match &lit.json {
        Some(json) => equals_json(value, json),
        None => normalized(&value.render()) == normalized(&lit.text),
    }
}

fn equals_json(value: &Value, json: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    let scalar_text = |j: &J| match j {
        J::String(s) => Some(s.clone()),
        J::Number(n) => Some(n.to_string()),
        J::Bool(b) => Some(b.to_string()),
        J::Null => Some("null".to_owned()),
        _ => None,
    };
    match (value, json) {
        (Value::Array(items), J::Array(js)) => {
            items.len() == js.len() && items.iter().zip(js).all(|(v, j)| equals_json(v, j))
        }
        (Value::Tuple(fields), J::Array(js)) => {
            fields.len() == js.len() && fields.iter().zip(js).all(|(f, j)| equals_json(&f.value, j))
        }
        (Value::Tuple(fields), J::Object(obj)) => {
            fields.len() == obj.len()
                && fields.iter().all(|f| {
                    f.name
                        .as_ref()
                        .and_then(|n| obj.get(n))
                        .is_some_and(|j| equals_json(&f.value, j))
                })
        }
        (Value::Map(entries), J::Object(obj)) => {
            entries.len() == obj.len()
                && entries
                    .iter()
                    .all(|(k, v)| obj.get(&k.render()).is_some_and(|j| equals_json(v, j)))
        }
        (Value::Map(entries), J::Array(pairs)) => {
            entries.len() == pairs.len()
                && entries.iter().zip(pairs).all(|((k, v), p)| match p {
                    J::Array(kv) if kv.len() == 2 => {
                        equals_json(k, &kv[0]) && equals_json(v, &kv[1])
                    }
                    _ => false,
                })
        }
        (Value::Array(_) | Value::Tuple(_) | Value::Map(_), _) => false,
        (scalar, j) => match scalar_text(j) {
            Some(text) => {
                compare(scalar, Op::Eq, &Lit::new(&Literal::Quoted(text))).unwrap_or(false)
            }
            None => false,
        },
    }
}
