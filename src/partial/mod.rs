//! Mergeable partial statistics for data sets larger than memory: each shard
//! (or Ray block) yields a small partial whose size does not depend on its
//! rows, partials merge by a pure function, and the merged answer is exactly
//! the in-memory one.
//!
//! * [`rank`]: exact order statistics (quartiles, medians), digit by digit.
//! * [`duplicates`]: exact-row duplicates across shards, through row hashes
//!   partitioned on disk.

pub mod duplicates;
pub mod rank;
