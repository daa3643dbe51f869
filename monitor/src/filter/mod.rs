//! The filter expression language of OZ Monitor: parse once into an AST with positions
//! ([`parse`]), compile against the parameters it will see ([`Compiled::new`]), then
//! evaluate the compiled form per decoded call, event or transaction without re-parsing.
//!
//! Semantics by value kind (see [`crate::value::Value`]):
//! - numbers (every integer kind): `== != > >= < <=` against decimal (with fraction) or
//!   `0x` hex literals, quoted or not, compared exactly;
//! - EVM addresses: `==`, `!=`, case-insensitively;
//! - text (strings, symbols, Stellar addresses) and bytes: `== != contains starts_with
//!   ends_with`, case-insensitively (bytes compare as hex, with or without `0x`); text
//!   that reads as a number also orders numerically against a number;
//! - `bool`: `==`, `!=` against `true`/`false` (any case);
//! - arrays, vecs, tuples, maps: `==`/`!=` against a JSON literal (or the rendered form),
//!   `contains` when any element (any key or value for maps), at any depth, equals the
//!   literal; fields by `.name`, `.0` or `[0]`, map entries by `.key`.
//!
//! An error (unknown parameter, missing field, operator that does not apply) on one side
//! of an `OR` makes that side false; anywhere else the expression does not match, and
//! [`Compiled::matches`] counts it in `stellar_monitor_filter_errors_total`.

pub mod ast;
mod eval;
pub mod parser;

pub use ast::{Expr, Op};
pub use eval::EvalError;
pub use parser::{ParseError, parse};

use crate::value::{Param, Value};

/// What an expression reads its parameters from, by position.
pub trait Values {
    fn value_at(&self, position: usize) -> Option<&Value>;
}

impl Values for [Value] {
    fn value_at(&self, position: usize) -> Option<&Value> {
        self.get(position)
    }
}

impl Values for Vec<Value> {
    fn value_at(&self, position: usize) -> Option<&Value> {
        self.get(position)
    }
}

impl Values for [Param] {
    fn value_at(&self, position: usize) -> Option<&Value> {
        self.get(position).map(|p| &p.value)
    }
}

/// A compiled expression, ready to evaluate many times.
#[derive(Clone, Debug)]
pub struct Compiled {
    source: String,
    root: eval::Node,
}

impl Compiled {
    /// Parses and compiles `source`. `resolve` maps a parameter name to its position in
    /// the values the expression will be evaluated on (`None`: not a known name; such a
    /// condition evaluates to an "unknown parameter" error).
    pub fn new(source: &str, resolve: &dyn Fn(&str) -> Option<usize>) -> Result<Self, ParseError> {
        let expr = parse(source)?;
        Ok(Self::from_ast(source, &expr, resolve))
    }

    pub fn from_ast(source: &str, expr: &Expr, resolve: &dyn Fn(&str) -> Option<usize>) -> Self {
        Self {
            source: source.to_owned(),
            root: eval::Node::compile(expr, resolve),
        }
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates against `params` (positions as resolved at compile time).
    pub fn eval<V: Values + ?Sized>(&self, params: &V) -> Result<bool, EvalError> {
        self.root.eval(params)
    }

    /// Whether the expression holds; an evaluation error means "no" and is counted.
    pub fn matches<V: Values + ?Sized>(&self, params: &V) -> bool {
        match self.eval(params) {
            Ok(result) => result,
            Err(_) => {
                metrics::counter!("stellar_monitor_filter_errors_total").increment(1);
                false
            }
        }
    }

    /// Names of parameters the expression uses that `resolve` did not know.
    pub fn unknown_parameters(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.root.unknown_parameters(&mut out);
        out
    }
}

#[cfg(test)]
mod tests;
