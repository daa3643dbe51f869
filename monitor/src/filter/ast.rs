//! The syntax tree of a filter expression, with the position of every condition.

/// A column range in the source, 1-based, counted in characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// Two or more alternatives.
    Or(Vec<Expr>),
    /// Two or more conjuncts.
    And(Vec<Expr>),
    Condition(Condition),
}

/// `lhs op value`.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    pub lhs: Path,
    pub op: Op,
    pub value: Literal,
    pub span: Span,
}

/// A parameter and the accessors applied to it: `data.myKey1`, `0`, `orders[2].amount`.
#[derive(Clone, Debug, PartialEq)]
pub struct Path {
    pub base: Base,
    pub accessors: Vec<Accessor>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Base {
    /// A parameter by name.
    Name(String),
    /// A parameter by position (`0`, `1`, ...).
    Position(usize),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Accessor {
    /// `[i]`: array element, tuple field or vec element by position.
    Index(usize),
    /// `.name` or `.0`: tuple field by name or position, map entry by key.
    Member(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Contains,
    StartsWith,
    EndsWith,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Contains => "contains",
            Op::StartsWith => "starts_with",
            Op::EndsWith => "ends_with",
        }
    }
}

/// The right-hand side, always a literal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Literal {
    /// `'text'` or `"text"`, escapes already resolved.
    Quoted(String),
    /// `true` / `false`, any case.
    Bool(bool),
    /// `0x...`: kept as text; numeric kinds read it as a hex number.
    Hex(String),
    /// `[+-]?digits(.digits)?`, as written.
    Number(String),
    /// Any other unquoted word (a Stellar strkey, for instance).
    Bare(String),
}

impl Literal {
    /// The literal's text, as compared against text values.
    pub fn text(&self) -> &str {
        match self {
            Literal::Quoted(s) | Literal::Hex(s) | Literal::Number(s) | Literal::Bare(s) => s,
            Literal::Bool(true) => "true",
            Literal::Bool(false) => "false",
        }
    }
}
