//! Recursive-descent parser for the filter grammar (see `OZ-COMPAT.md`):
//!
//! ```text
//! expr      := or_expr EOF
//! or_expr   := and_expr ("OR" and_expr)*        keywords case-insensitive
//! and_expr  := term ("AND" term)*
//! term      := "(" or_expr ")" | condition
//! condition := lhs op value
//! lhs       := (identifier | digits) ("[" digits "]" | "." (identifier | digits))*
//! op        := == | != | > | >= | < | <= | contains | starts_with | ends_with
//! value     := 'quoted' | "quoted" | true | false | 0xHEX | [+-]?digits(.digits)? | bare-word
//! ```
//!
//! Whitespace is spaces and tabs. Quotes unescape `\'`, `\"` and `\\` (other backslashes
//! stay as written). Errors carry the 1-based column and what was expected.

use super::ast::*;

/// Longest expression accepted, in characters.
pub const MAX_LEN: usize = 10_000;
/// Deepest parenthesis nesting accepted (bounds recursion on hostile input).
pub const MAX_DEPTH: usize = 64;

/// Why an expression does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: expected {expected}, found {found}")]
pub struct ParseError {
    /// 1-based character column.
    pub column: usize,
    pub expected: String,
    pub found: String,
}

pub fn parse(source: &str) -> Result<Expr, ParseError> {
    let chars: Vec<char> = source.chars().collect();
    if chars.len() > MAX_LEN {
        return Err(ParseError {
            column: MAX_LEN + 1,
            expected: format!("an expression of at most {MAX_LEN} characters"),
            found: format!("{} characters", chars.len()),
        });
    }
    let mut parser = Parser {
        chars,
        pos: 0,
        depth: 0,
    };
    parser.skip_ws();
    if parser.at_end() {
        return Err(parser.error("a condition"));
    }
    let expr = parser.or_expr()?;
    parser.skip_ws();
    if !parser.at_end() {
        return Err(parser.error("AND, OR or the end of the expression"));
    }
    Ok(expr)
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

impl Parser {
    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn column(&self) -> usize {
        self.pos + 1
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.pos += 1;
        }
    }

    /// What is at the current position, for error messages.
    fn found(&self) -> String {
        match self.peek() {
            None => "the end of the expression".to_owned(),
            Some(_) => {
                let word: String = self.chars[self.pos..]
                    .iter()
                    .take_while(|c| !matches!(c, ' ' | '\t'))
                    .take(24)
                    .collect();
                format!("'{word}'")
            }
        }
    }

    fn error(&self, expected: &str) -> ParseError {
        ParseError {
            column: self.column(),
            expected: expected.to_owned(),
            found: self.found(),
        }
    }

    /// Consumes `word` (case-insensitively) when it stands alone at the position.
    fn keyword(&mut self, word: &str) -> bool {
        let len = word.chars().count();
        if self.pos + len > self.chars.len() {
            return false;
        }
        let matches = self.chars[self.pos..self.pos + len]
            .iter()
            .zip(word.chars())
            .all(|(a, b)| a.eq_ignore_ascii_case(&b));
        let boundary = self
            .chars
            .get(self.pos + len)
            .is_none_or(|c| !is_ident_char(*c));
        if matches && boundary {
            self.pos += len;
            true
        } else {
            false
        }
    }

    fn or_expr(&mut self) -> Result<Expr, ParseError> {
        let mut items = vec![self.and_expr()?];
        loop {
            self.skip_ws();
            if self.keyword("OR") {
                items.push(self.and_expr()?);
            } else {
                break;
            }
        }
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            Expr::Or(items)
        })
    }

    fn and_expr(&mut self) -> Result<Expr, ParseError> {
        let mut items = vec![self.term()?];
        loop {
            self.skip_ws();
            if self.keyword("AND") {
                items.push(self.term()?);
            } else {
                break;
            }
        }
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            Expr::And(items)
        })
    }

    fn term(&mut self) -> Result<Expr, ParseError> {
        self.skip_ws();
        if self.peek() == Some('(') {
            if self.depth >= MAX_DEPTH {
                return Err(self.error(&format!("at most {MAX_DEPTH} nested parentheses")));
            }
            self.pos += 1;
            self.depth += 1;
            let inner = self.or_expr()?;
            self.skip_ws();
            if self.peek() != Some(')') {
                return Err(self.error("')'"));
            }
            self.pos += 1;
            self.depth -= 1;
            return Ok(inner);
        }
        self.condition().map(Expr::Condition)
    }

    fn condition(&mut self) -> Result<Condition, ParseError> {
        let start = self.column();
        let lhs = self.lhs()?;
        self.skip_ws();
        let op = self.op()?;
        self.skip_ws();
        let value = self.value()?;
        Ok(Condition {
            lhs,
            op,
            value,
            span: Span {
                start,
                end: self.column(),
            },
        })
    }

    fn digits(&mut self) -> Option<String> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        (self.pos > start).then(|| self.chars[start..self.pos].iter().collect())
    }

    fn ident(&mut self) -> Option<String> {
        if !self.peek().is_some_and(is_ident_start) {
            return None;
        }
        let start = self.pos;
        while self.peek().is_some_and(is_ident_char) {
            self.pos += 1;
        }
        Some(self.chars[start..self.pos].iter().collect())
    }

    fn position(&self, digits: &str, column: usize) -> Result<usize, ParseError> {
        digits.parse().map_err(|_| ParseError {
            column,
            expected: "a position that fits in a machine word".to_owned(),
            found: format!("'{digits}'"),
        })
    }

    fn lhs(&mut self) -> Result<Path, ParseError> {
        let start = self.column();
        let base = if let Some(name) = self.ident() {
            // AND and OR are reserved: `a == 1 OR OR b == 2` is a missing condition,
            // not a parameter named "OR".
            if name.eq_ignore_ascii_case("and") || name.eq_ignore_ascii_case("or") {
                self.pos -= name.len();
                return Err(self.error("a parameter name or position"));
            }
            Base::Name(name)
        } else if let Some(digits) = self.digits() {
            if self.peek().is_some_and(is_ident_char) {
                self.pos -= digits.len();
                return Err(self.error("a parameter name or position"));
            }
            Base::Position(self.position(&digits, start)?)
        } else {
            return Err(self.error("a parameter name or position"));
        };
        let mut accessors = Vec::new();
        loop {
            match self.peek() {
                Some('[') => {
                    self.pos += 1;
                    let column = self.column();
                    let Some(digits) = self.digits() else {
                        return Err(self.error("an index (digits)"));
                    };
                    let index = self.position(&digits, column)?;
                    if self.peek() != Some(']') {
                        return Err(self.error("']'"));
                    }
                    self.pos += 1;
                    accessors.push(Accessor::Index(index));
                }
                Some('.') => {
                    self.pos += 1;
                    let member = match self.ident() {
                        Some(name) => name,
                        None => match self.digits() {
                            Some(d) => d,
                            None => return Err(self.error("a field name or position after '.'")),
                        },
                    };
                    accessors.push(Accessor::Member(member));
                }
                _ => break,
            }
        }
        Ok(Path {
            base,
            accessors,
            span: Span {
                start,
                end: self.column(),
            },
        })
    }

    fn op(&mut self) -> Result<Op, ParseError> {
        const EXPECTED: &str =
            "a comparison operator (==, !=, >, >=, <, <=, contains, starts_with, ends_with)";
        let two: String = self.chars[self.pos..].iter().take(2).collect();
        let symbolic = match two.as_str() {
            "==" => Some((Op::Eq, 2)),
            "!=" => Some((Op::Ne, 2)),
            ">=" => Some((Op::Ge, 2)),
            "<=" => Some((Op::Le, 2)),
            _ => match self.peek() {
                Some('>') => Some((Op::Gt, 1)),
                Some('<') => Some((Op::Lt, 1)),
                _ => None,
            },
        };
        if let Some((op, len)) = symbolic {
            self.pos += len;
            return Ok(op);
        }
        for (word, op) in [
            ("contains", Op::Contains),
            ("starts_with", Op::StartsWith),
            ("ends_with", Op::EndsWith),
        ] {
            if self.keyword(word) {
                return Ok(op);
            }
        }
        Err(self.error(EXPECTED))
    }

    fn value(&mut self) -> Result<Literal, ParseError> {
        match self.peek() {
            Some(q @ ('\'' | '"')) => self.quoted(q),
            Some('(') | Some(')') | None => Err(self.error("a value")),
            Some(_) => {
                let start = self.pos;
                while self
                    .peek()
                    .is_some_and(|c| !matches!(c, ' ' | '\t' | '(' | ')' | '\'' | '"'))
                {
                    self.pos += 1;
                }
                if self.pos == start {
                    return Err(self.error("a value"));
                }
                let word: String = self.chars[start..self.pos].iter().collect();
                Ok(classify(word))
            }
        }
    }

    fn quoted(&mut self, quote: char) -> Result<Literal, ParseError> {
        let open = self.column();
        self.pos += 1;
        let mut text = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(ParseError {
                        column: open,
                        expected: format!("a closing {quote}"),
                        found: "the end of the expression".to_owned(),
                    });
                }
                Some('\\') => match self.chars.get(self.pos + 1) {
                    Some(c @ ('\'' | '"' | '\\')) => {
                        text.push(*c);
                        self.pos += 2;
                    }
                    _ => {
                        text.push('\\');
                        self.pos += 1;
                    }
                },
                Some(c) if c == quote => {
                    self.pos += 1;
                    return Ok(Literal::Quoted(text));
                }
                Some(c) => {
                    text.push(c);
                    self.pos += 1;
                }
            }
        }
    }
}

/// Sorts an unquoted word into its literal kind.
fn classify(word: String) -> Literal {
    if word.eq_ignore_ascii_case("true") {
        return Literal::Bool(true);
    }
    if word.eq_ignore_ascii_case("false") {
        return Literal::Bool(false);
    }
    let hex = word
        .strip_prefix("0x")
        .or_else(|| word.strip_prefix("0X"))
        .is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()));
    if hex {
        return Literal::Hex(word);
    }
    let body = word.strip_prefix(['+', '-']).unwrap_or(&word);
    let number = match body.split_once('.') {
        Some((i, f)) => {
            !i.is_empty()
                && !f.is_empty()
                && i.bytes().all(|b| b.is_ascii_digit())
                && f.bytes().all(|b| b.is_ascii_digit())
        }
        None => !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit()),
    };
    if number {
        Literal::Number(word)
    } else {
        Literal::Bare(word)
    }
}
