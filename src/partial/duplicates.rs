//! Exact-row duplicates across the shards of a data set, with bounded memory.
//!
//! Each shard's rows are hashed ([`RowKeys::strong_hashes`], 128 bits over
//! the canonical bytes of the whole row) and appended, with their global row
//! numbers, to partition files on disk chosen by the hash. One partition at a
//! time is then sorted: a row whose hash an earlier row already has is a
//! duplicate, so the first occurrence in data-set order is the one kept, as in
//! memory. The duplicates of each partition are written sorted, and a shard
//! finds its own by binary search, reading only its range.
//!
//! The same records can travel in memory instead ([`partition_records`],
//! [`repeated_rows`]): the Ray engine shuffles them between tasks.
//!
//! Memory: one shard's hashes, then one partition (24 bytes a row over the
//! partition count). Exactness rests on the 128-bit hash: two different rows
//! collide with probability 2^-128 (about 10^-20 for 2.6 billion rows).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::cancel::Token;
use crate::error::{DwcpError, Result};

/// Bytes of one record of a partition file: the hash and the global row number.
const RECORD: usize = 24;

/// Records per partition the partition count aims at (about 200 MB each).
const RECORDS_PER_PARTITION: u64 = 8 << 20;

/// Partitions for a data set of about `rows` rows: a power of two that keeps
/// each partition near [`RECORDS_PER_PARTITION`] records.
pub fn partition_count(rows: u64) -> u32 {
    rows.div_ceil(RECORDS_PER_PARTITION)
        .next_power_of_two()
        .clamp(1, 1 << 12) as u32
}

/// `parts` must be a partition count [`partition_count`] could give.
fn check_parts(parts: u32) -> Result<()> {
    if (1..=1 << 12).contains(&parts) {
        Ok(())
    } else {
        Err(DwcpError::invalid_argument(
            "parts",
            format!("must be 1 to 4096, got {parts}"),
        ))
    }
}

fn hashes_file(dir: &Path, part: u32) -> PathBuf {
    dir.join(format!("hashes-{part:05}.bin"))
}

fn duplicates_file(dir: &Path, part: u32) -> PathBuf {
    dir.join(format!("duplicates-{part:05}.bin"))
}

/// The partition of a hash (its top bits, spread over `parts`).
fn partition_of(hash: u128, parts: u32) -> usize {
    (((hash >> 96) as u64 * u64::from(parts)) >> 32) as usize
}

/// One shard's records (hash, then global row number from `first_row`), in
/// the partition-file format, split by partition: `parts` byte strings.
pub fn partition_records(hashes: &[u128], first_row: u64, parts: u32) -> Result<Vec<Vec<u8>>> {
    check_parts(parts)?;
    let mut buckets: Vec<Vec<u8>> = vec![Vec::new(); parts as usize];
    for (row, &hash) in (first_row..).zip(hashes) {
        let bucket = &mut buckets[partition_of(hash, parts)];
        bucket.extend_from_slice(&hash.to_le_bytes());
        bucket.extend_from_slice(&row.to_le_bytes());
    }
    Ok(buckets)
}

/// Appends one shard's row hashes (rows `first_row..`) to the partition files in `dir`.
pub fn write_partitions(hashes: &[u128], first_row: u64, dir: &Path, parts: u32) -> Result<()> {
    let buckets = partition_records(hashes, first_row, parts)?;
    for (part, records) in (0..parts).zip(&buckets) {
        if !records.is_empty() {
            let path = hashes_file(dir, part);
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?
                .write_all(records)?;
        }
    }
    Ok(())
}

/// The rows of one partition's records (`pieces` of partition-file bytes, in
/// any order) whose hash an earlier row has, sorted: the first occurrence in
/// data-set order is the one kept.
pub fn repeated_rows(pieces: &[&[u8]]) -> Result<Vec<u64>> {
    if let Some(bad) = pieces.iter().find(|p| p.len() % RECORD != 0) {
        return Err(DwcpError::invalid_argument(
            "records",
            format!(
                "{} bytes is not a whole number of {RECORD}-byte records",
                bad.len()
            ),
        ));
    }
    let mut records: Vec<(u128, u64)> = pieces
        .par_iter()
        .flat_map_iter(|p| p.chunks_exact(RECORD))
        .map(|r| {
            // `r` is exactly RECORD bytes: the hash, then the row
            let hash = u128::from_le_bytes(std::array::from_fn(|i| r[i]));
            let row = u64::from_le_bytes(std::array::from_fn(|i| r[16 + i]));
            (hash, row)
        })
        .collect();
    records.par_sort_unstable();
    let mut repeats: Vec<u64> = records
        .windows(2)
        .filter(|w| w[0].0 == w[1].0)
        .map(|w| w[1].1)
        .collect();
    repeats.par_sort_unstable();
    Ok(repeats)
}

/// Finds the duplicates of every partition in `dir` (one at a time) and
/// writes each partition's duplicate rows, sorted; the number of duplicates.
pub fn find_duplicates(dir: &Path, parts: u32) -> Result<u64> {
    let token = Token::current();
    let mut total = 0;
    for part in 0..parts {
        token.check()?;
        let mut bytes = Vec::new();
        if let Ok(mut file) = File::open(hashes_file(dir, part)) {
            file.read_to_end(&mut bytes)?;
        }
        let repeats = repeated_rows(&[&bytes])?;
        drop(bytes);
        total += repeats.len() as u64;
        let mut out = BufWriter::new(File::create(duplicates_file(dir, part))?);
        for row in &repeats {
            out.write_all(&row.to_le_bytes())?;
        }
        out.flush()?;
    }
    Ok(total)
}

/// The number of sorted u64s in `file` below `bound` (binary search on disk).
fn count_below(file: &File, len: u64, bound: u64) -> Result<u64> {
    let (mut lo, mut hi) = (0, len);
    let mut word = [0u8; 8];
    while lo < hi {
        let mid = (lo + hi) / 2;
        crate::fs::read_exact_at(file, &mut word, mid * 8)?;
        if u64::from_le_bytes(word) < bound {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

/// For rows `first_row..first_row + rows` (one shard), whether each repeats an
/// earlier row of the data set, from the files [`find_duplicates`] wrote.
pub fn duplicate_flags(dir: &Path, parts: u32, first_row: u64, rows: usize) -> Result<Vec<bool>> {
    check_parts(parts)?;
    let end = first_row
        .checked_add(rows as u64)
        .ok_or_else(|| DwcpError::invalid_argument("rows", "they end past the largest row number"))?;
    let mut flags = vec![false; rows];
    for part in 0..parts {
        let file = File::open(duplicates_file(dir, part))?;
        let len = file.metadata()?.len() / 8;
        let (from, to) = (count_below(&file, len, first_row)?, count_below(&file, len, end)?);
        let mut bytes = vec![0u8; ((to - from) * 8) as usize];
        crate::fs::read_exact_at(&file, &mut bytes, from * 8)?;
        for word in bytes.chunks_exact(8) {
            let row = u64::from_le_bytes(word.try_into().expect("8 bytes"));
            flags[(row - first_row) as usize] = true;
        }
    }
    Ok(flags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cleaning::RowKeys;
    use polars::prelude::*;

    #[test]
    fn duplicates_across_shards_match_the_in_memory_answer() {
        let whole = df!(
            "x" => [Some(1.0), Some(-0.0), None, Some(1.0), Some(0.0), Some(2.0), None, Some(1.0)],
            "s" => [Some("a"), Some("b"), None, Some("a"), Some("b"), Some("a long string, past 12 bytes"), None, Some("c")],
            "n" => [1i64, 2, 3, 1, 2, 4, 3, 1],
        )
        .unwrap();
        let expected = RowKeys::new(&whole, None).unwrap().duplicated().unwrap();
        let dir = std::env::temp_dir().join(format!("dwcp-dups-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let parts = 4;
        let shards = [(0, 3), (3, 0), (3, 4), (7, 1)]; // one empty
        for &(start, len) in &shards {
            let shard = whole.slice(start, len);
            let hashes = RowKeys::new(&shard, None).unwrap().strong_hashes();
            write_partitions(&hashes, start as u64, &dir, parts).unwrap();
        }
        assert_eq!(find_duplicates(&dir, parts).unwrap(), 3);
        let mut got = Vec::new();
        for &(start, len) in &shards {
            got.extend(duplicate_flags(&dir, parts, start as u64, len).unwrap());
        }
        assert_eq!(got, expected);
        // in memory, the records of each partition gathered from every shard
        let mut pieces: Vec<Vec<Vec<u8>>> = vec![Vec::new(); parts as usize];
        for &(start, len) in shards.iter().rev() {
            let hashes = RowKeys::new(&whole.slice(start, len), None)
                .unwrap()
                .strong_hashes();
            for (part, records) in partition_records(&hashes, start as u64, parts)
                .unwrap()
                .into_iter()
                .enumerate()
            {
                pieces[part].push(records);
            }
        }
        let mut repeats: Vec<u64> = Vec::new();
        for part in &pieces {
            repeats.extend(repeated_rows(&part.iter().map(Vec::as_slice).collect::<Vec<_>>()).unwrap());
        }
        repeats.sort_unstable();
        let expected_rows: Vec<u64> = (0..)
            .zip(&expected)
            .filter(|(_, d)| **d)
            .map(|(r, _)| r)
            .collect();
        assert_eq!(repeats, expected_rows);
        assert!(repeated_rows(&[&[0u8; 23]]).is_err());
        assert!(write_partitions(&[1], 0, &dir, 0).is_err());
        assert!(duplicate_flags(&dir, parts, u64::MAX, 2).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!((partition_count(0), partition_count(100_000_000)), (1, 16));
    }
}
