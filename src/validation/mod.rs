//! Validation of training data (§5.1 of the design document), as a report of
//! one result per rule (and per column, for column-wise rules) instead of one
//! bool.
//!
//! Nulls count toward the missing-value rule only: range rules judge the values
//! that are present. NaN is a value, not a null: it fails every range rule (as
//! `NaN >= 0` is false in pandas too) and, in the strict profile, the
//! finite-values rule.

mod facts;
mod rules;
mod scan;

use polars::prelude::*;

pub use facts::Facts;
pub use rules::DUPLICATE_KEY;
pub use scan::Violations;

use crate::error::Result;

/// Which rules to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Profile {
    /// Exactly the rules of §5.1.
    Document,
    /// §5.1 plus schema, category, finiteness, sign, interval, future-time and
    /// duplicate checks.
    Strict,
}

/// Thresholds of the rules.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Options {
    /// Which rules to run.
    pub profile: Profile,
    /// Fewest rows a training set may have.
    pub min_rows: u64,
    /// A column's share of nulls must stay below this.
    pub max_missing_fraction: f64,
    /// Every class of `current_compression` must have a larger share than this.
    pub min_class_share: f64,
    /// "Now" for the strict profile's no-future-timestamps rule (µs since the epoch, UTC).
    pub now_us: i64,
    /// How many failing rows to list per rule.
    pub max_examples: usize,
}

/// What a rule measured.
#[derive(Debug, Clone, PartialEq)]
pub enum Observed {
    /// A number (a count, share, or extreme value).
    Number(f64),
    /// A description (absent columns, unknown values, a dtype).
    Text(String),
    /// Nothing could be measured (e.g. an empty column).
    Nothing,
}

/// The outcome of one rule (on one column, for column-wise rules).
#[derive(Debug, Clone, PartialEq)]
pub struct RuleResult {
    /// Stable rule identifier, e.g. `rtt_ms_range`.
    pub rule: &'static str,
    /// The column judged, for column-wise rules.
    pub column: Option<String>,
    /// What the rule demands, in words.
    pub description: String,
    /// Whether the data meets it.
    pub passed: bool,
    /// What was measured.
    pub observed: Observed,
    /// The limit, in words (e.g. `< 0.1`).
    pub threshold: String,
    /// Rows breaking the rule (0 for frame-level rules such as `min_rows`).
    pub failing_rows: u64,
    /// The first failing rows (0-based).
    pub examples: Vec<u64>,
}

/// Runs every rule of `options.profile` on `df`.
///
/// Never fails on the data itself: absent columns, wrong types and empty
/// frames are failed rules, not errors.
pub fn validate(df: &DataFrame, options: &Options) -> Result<Vec<RuleResult>> {
    rules::run(df, options)
}

/// What the rules need to know of `df` (one shard of a data set): merge the
/// facts of consecutive shards with [`Facts::then`], then [`results`].
pub fn facts(df: &DataFrame, options: &Options) -> Result<Facts> {
    rules::facts(df, options)
}

/// The results of the rules from the facts of a frame or of merged shards.
pub fn results(facts: &Facts, options: &Options) -> Vec<RuleResult> {
    rules::results(facts, options)
}

#[cfg(test)]
mod tests;
