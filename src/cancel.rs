//! Cooperative cancellation of long computations (Ctrl-C in Python).
//!
//! Each call from Python runs with a [`Token`] of its own (see [`within`]);
//! when the calling thread sees a signal it cancels that token only, so other
//! threads' calls run on. Long loops check their token between chunks of work
//! and stop early with [`DwcpError::Interrupted`].

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::error::{DwcpError, Result};

thread_local! {
    static CURRENT: RefCell<Option<Token>> = const { RefCell::new(None) };
}

/// Whether one call's work has been cancelled. Clones share the state.
#[derive(Debug, Clone, Default)]
pub struct Token(Arc<AtomicBool>);

impl PartialEq for Token {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Token {
    /// A token that nothing has cancelled yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A token that is already cancelled (for tests of the checks).
    #[cfg(test)]
    pub fn cancelled() -> Self {
        let token = Self::new();
        token.cancel();
        token
    }

    /// The token [`within`] set for this thread, or a fresh one. Kernels take
    /// it on the calling thread and share it with their parallel workers.
    pub fn current() -> Self {
        CURRENT.with(|c| c.borrow().clone()).unwrap_or_default()
    }

    /// Cancels the work holding this token (or a clone of it).
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether [`Token::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// `Err(Interrupted)` once cancelled.
    pub fn check(&self) -> Result<()> {
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
    CURRENT.with(|c| *c.borrow_mut() = previous);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_current_token_is_the_one_given() {
        let token = Token::new();
        assert!(within(token.clone(), || Token::current() == token
            && token.check().is_ok()));
        assert!(Token::current() != token, "outside `within`, a fresh token");
        assert!(Token::cancelled().check().is_err());
    }

    #[test]
    fn cancelling_one_call_leaves_the_others() {
        let (one, other) = (Token::new(), Token::new());
        within(one.clone(), || Token::current().cancel());
        assert!(one.is_cancelled() && !other.is_cancelled());
    }
}
