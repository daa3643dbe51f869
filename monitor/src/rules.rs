//! The matching rule table, shared by every chain:
//!
//! | the monitor has | it matches a transaction when |
//! |---|---|
//! | no conditions | the transaction involves a monitored address |
//! | only transaction conditions | a transaction condition holds |
//! | no transaction conditions | a function or an event condition holds |
//! | both | (a function or an event condition holds) and a transaction condition holds |
//!
//! In every case the transaction must involve a monitored address first (EVM: sender,
//! recipient or a log's emitter; Stellar: source, invoked contract or an event's
//! contract); a monitor with no addresses watches every transaction.

/// Which kinds of condition a monitor has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub calls_or_events: bool,
    pub transactions: bool,
}

/// Whether a transaction that involves the monitor's addresses matches.
pub fn holds(shape: Shape, call_or_event_matched: bool, transaction_condition_held: bool) -> bool {
    match (shape.calls_or_events, shape.transactions) {
        (false, false) => true,
        (false, true) => transaction_condition_held,
        (true, false) => call_or_event_matched,
        (true, true) => call_or_event_matched && transaction_condition_held,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table() {
        let s = |c, t| Shape {
            calls_or_events: c,
            transactions: t,
        };
        for (shape, matched, held, expected) in [
            (s(false, false), false, false, true),
            (s(false, true), false, true, true),
            (s(false, true), true, false, false),
            (s(true, false), true, false, true),
            (s(true, false), false, true, false),
            (s(true, true), true, true, true),
            (s(true, true), true, false, false),
            (s(true, true), false, true, false),
        ] {
            assert_eq!(
                holds(shape, matched, held),
                expected,
                "{shape:?} {matched} {held}"
            );
        }
    }
}
