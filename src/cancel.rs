//! Cooperative cancellation of long computations (Ctrl-C in Python).
//!
//! Cancelling is process-wide, as a signal is: [`cancel_all`] bumps a counter,
//! and every [`Token`] taken before that reports itself cancelled. Long loops
//! check their token between chunks of work and stop early with
//! [`DwcpError::Interrupted`]; calls started afterwards are unaffected.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{DwcpError, Result};

static CANCELLATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static CURRENT: Cell<Option<Token>> = const { Cell::new(None) };
}

/// Whether work that started when the token was taken has since been cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token(u64);

impl Token {
    /// A token that is cancelled by the next [`cancel_all`].
    pub fn now() -> Self {
        Self(CANCELLATIONS.load(Ordering::SeqCst))
    }

    /// A token that is already cancelled (for tests of the checks).
    #[cfg(test)]
    pub fn cancelled() -> Self {
        Self(Self::now().0.wrapping_sub(1))
    }

    /// The token [`within`] set for this thread, or a fresh one.
    pub fn current() -> Self {
        CURRENT.with(Cell::get).unwrap_or_else(Self::now)
    }

    /// Whether [`cancel_all`] was called since the token was taken.
    pub fn is_cancelled(self) -> bool {
        CANCELLATIONS.load(Ordering::Relaxed) != self.0
    }

    /// `Err(Interrupted)` once cancelled.
    pub fn check(self) -> Result<()> {
        if self.is_cancelled() {
            Err(DwcpError::Interrupted)
        } else {
            Ok(())
        }
    }
}

/// Runs `f` with `token` as this thread's [`Token::current`].
pub fn within<T>(token: Token, f: impl FnOnce() -> T) -> T {
    let previous = CURRENT.with(|c| c.replace(Some(token)));
    let out = f();
    CURRENT.with(|c| c.set(previous));
    out
}

/// Cancels every computation whose token was taken before this call.
pub fn cancel_all() {
    CANCELLATIONS.fetch_add(1, Ordering::SeqCst);
}

#[cfg(test)]
mod tests {
    use super::*;

    // `cancel_all` is process-wide and would cancel other tests' work running
    // alongside: cancelling is tested from Python, in a process of its own.
    #[test]
    fn the_current_token_is_the_one_given() {
        let token = Token::now();
        assert!(within(token, || Token::current() == token && token.check().is_ok()));
        assert!(!Token::current().is_cancelled());
        assert!(Token::cancelled().check().is_err());
    }
}
