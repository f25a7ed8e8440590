//! The synthetic generator: the distributions of §6.1, drawn in parallel and
//! reproducibly.
//!
//! Rows are cut into chunks of [`CHUNK_ROWS`]; chunk `k` draws from its own
//! PCG stream (`Pcg64Dxsm::new(seed, k)`), so a frame depends on `(n, seed, end,
//! freq)` only, never on how many threads drew it.

mod model;

use std::collections::HashMap;
use std::ops::Range;

use bytemuck::Zeroable;
use polars::prelude::*;
use polars_arrow::array::{Utf8ViewArray, View};
use polars_arrow::datatypes::ArrowDataType;
use polars_buffer::Buffer;
use rayon::prelude::*;

pub use model::{Model, Row, Stream, ID_COUNT, REGIONS, TIME_NOISE_SIGMA, ZONE_LETTERS};
use model::{CODE_COLUMNS, FLOAT_COLUMNS, INDEX_COLUMNS, INT_COLUMNS};

use crate::cancel::Token;
use crate::error::{DwcpError, Result};
use crate::memory;
use crate::schema::{self, Kind, SCHEMA, TIME_RANGE_US};

/// Rows per PCG stream. Changing it changes every generated frame.
pub const CHUNK_ROWS: usize = 16_384;

/// The largest `n` accepted: about 330 GB of columns, far beyond any machine
/// this runs on, and small enough that every row index fits the timestamps.
pub const MAX_ROWS: usize = 1_000_000_000;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Number of rows.
    pub n: usize,
    /// Seed of every chunk's PCG stream.
    pub seed: u64,
    /// Timestamp of the last row, in microseconds since the Unix epoch (UTC).
    pub end_us: i64,
    /// Step between consecutive timestamps, in microseconds (> 0).
    pub freq_us: i64,
}

impl Config {
    /// Checks the arguments and that every timestamp is representable.
    pub fn validate(&self) -> Result<()> {
        if self.n > MAX_ROWS {
            return Err(DwcpError::invalid_argument(
                "n",
                format!(
                    "{} rows is more than the {MAX_ROWS} a frame may hold; generate shards instead",
                    self.n
                ),
            ));
        }
        if self.freq_us <= 0 {
            return Err(DwcpError::invalid_argument(
                "freq",
                format!("the step between rows must be positive, got {} µs", self.freq_us),
            ));
        }
        self.first_timestamp_us().map(|_| ())
    }

    /// Timestamp of row 0: `end - (n - 1) * freq`. Every timestamp must be
    /// one the rest of the package and InfluxDB hold ([`TIME_RANGE_US`]); the
    /// error says which `n` or `freq` fits.
    fn first_timestamp_us(&self) -> Result<i64> {
        let (earliest, latest) = TIME_RANGE_US;
        if !(earliest..=latest).contains(&self.end_us) {
            return Err(DwcpError::invalid_argument(
                "end",
                format!(
                    "{} is outside the times the package and InfluxDB store (1677-09-21 to 2262-04-11)",
                    time_text(self.end_us)
                ),
            ));
        }
        let steps = i128::try_from(self.n.saturating_sub(1)).unwrap_or(i128::MAX);
        let first = i128::from(self.end_us) - steps * i128::from(self.freq_us);
        if let Ok(first) = i64::try_from(first) {
            if first >= earliest {
                return Ok(first);
            }
        }
        let room = i128::from(self.end_us) - i128::from(earliest);
        Err(DwcpError::invalid_argument(
            "n",
            format!(
                "{} rows {} apart ending at {} would begin in about the year {}, before 1677-09-21, the \
                 earliest time the package and InfluxDB store: at this freq at most {} rows fit, and {} \
                 rows fit with a freq of at most {}",
                self.n,
                duration_text(i128::from(self.freq_us)),
                time_text(self.end_us),
                1970 + first.div_euclid(MICROS_PER_YEAR),
                room / i128::from(self.freq_us) + 1,
                self.n,
                duration_text(room / steps.max(1)),
            ),
        ))
    }
}

/// Microseconds in an average Gregorian year.
const MICROS_PER_YEAR: i128 = 31_556_952_000_000;

/// A time in µs since the epoch as `YYYY-MM-DD HH:MM:SS UTC` (or the number).
fn time_text(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros).map_or_else(
        || format!("{micros} µs since the epoch"),
        |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

/// A duration in µs as the generator's `freq` is written (`1h`, `4m35s`):
/// its two largest whole units, rounded down.
fn duration_text(micros: i128) -> String {
    const UNITS: [(&str, i128); 6] = [
        ("d", 86_400_000_000),
        ("h", 3_600_000_000),
        ("m", 60_000_000),
        ("s", 1_000_000),
        ("ms", 1_000),
        ("us", 1),
    ];
    let mut left = micros.max(0);
    let mut parts = Vec::new();
    for (unit, size) in UNITS {
        if left >= size && parts.len() < 2 {
            parts.push(format!("{}{unit}", left / size));
            left %= size;
        } else if !parts.is_empty() {
            break;
        }
    }
    if parts.is_empty() {
        "0us".to_string()
    } else {
        parts.concat()
    }
}

/// Generates `cfg.n` rows in the schema's column order and types.
pub fn generate(cfg: &Config) -> Result<DataFrame> {
    generate_rows(cfg, 0..cfg.n)
}

/// Generates rows `rows` of the `cfg.n`-row data set: the same values as the
/// matching slice of [`generate`], so shards written one after another add up
/// to the whole data set, bit for bit.
pub fn generate_rows(cfg: &Config, rows: Range<usize>) -> Result<DataFrame> {
    cfg.validate()?;
    if rows.start > rows.end || rows.end > cfg.n {
        return Err(DwcpError::invalid_argument(
            "rows",
            format!(
                "{}..{} is not a range of rows of a {}-row data set",
                rows.start, rows.end, cfg.n
            ),
        ));
    }
    let n = rows.len();
    let row_bytes = size_of::<i64>() * (FLOAT_COLUMNS.len() + INT_COLUMNS.len() + 1) // + timestamp
        + CODE_COLUMNS.len()
        + INDEX_COLUMNS.len() * size_of::<View>();
    memory::ensure_room(
        (n as u64).saturating_mul(row_bytes as u64),
        &format!("a frame of {n} rows"),
        "generate it in shards of fewer rows",
    )?;
    let first_us = cfg.first_timestamp_us()? + rows.start as i64 * cfg.freq_us;
    // Rows before `rows.start` in its chunk are drawn and dropped: chunk streams stay global.
    let first_chunk = rows.start / CHUNK_ROWS;
    let skip = rows.start % CHUNK_ROWS;
    let model = Model::new();
    let dictionaries = INDEX_COLUMNS.map(dictionary);

    let mut floats = zeroed_columns::<f64, { FLOAT_COLUMNS.len() }>(n);
    let mut ints = zeroed_columns::<i64, { INT_COLUMNS.len() }>(n);
    let mut codes = zeroed_columns::<u8, { CODE_COLUMNS.len() }>(n);
    let mut strings = zeroed_columns::<View, { INDEX_COLUMNS.len() }>(n);

    let head = CHUNK_ROWS - skip;
    let token = Token::current();
    split_into_chunks(&mut floats, head)
        .into_par_iter()
        .zip(split_into_chunks(&mut ints, head))
        .zip(split_into_chunks(&mut codes, head))
        .zip(split_into_chunks(&mut strings, head))
        .enumerate()
        .for_each(|(j, (((mut f, mut i), mut c), mut s))| {
            if token.is_cancelled() {
                return; // the frame is dropped below
            }
            let mut rng = Stream::new(u128::from(cfg.seed), (first_chunk + j) as u128);
            if j == 0 {
                for _ in 0..skip {
                    model.sample(&mut rng);
                }
            }
            let rows = f.first().map_or(0, |s| s.len());
            for r in 0..rows {
                let row = model.sample(&mut rng);
                write_row(&mut f, r, row.floats());
                write_row(&mut i, r, row.ints());
                write_row(&mut c, r, row.codes());
                let indices = row.indices();
                for ((column, dictionary), index) in s.iter_mut().zip(&dictionaries).zip(indices) {
                    column[r] = dictionary[index as usize];
                }
            }
        });

    token.check()?;
    let mut built: HashMap<&str, Column> = HashMap::with_capacity(SCHEMA.len());
    built.insert("timestamp", timestamps(n, first_us, cfg.freq_us));
    for (name, values) in FLOAT_COLUMNS.into_iter().zip(floats) {
        built.insert(name, Float64Chunked::from_vec(name.into(), values).into_column());
    }
    for (name, values) in INT_COLUMNS.into_iter().zip(ints) {
        built.insert(name, Int64Chunked::from_vec(name.into(), values).into_column());
    }
    for (name, values) in CODE_COLUMNS.into_iter().zip(codes) {
        let Some(Kind::Enum(categories)) = schema::spec(name).map(|c| c.kind) else {
            unreachable!("{name} is an Enum column of the schema")
        };
        let codes = UInt8Chunked::from_vec(name.into(), values);
        built.insert(name, schema::enum_from_codes(codes, categories)?);
    }
    for (name, views) in INDEX_COLUMNS.into_iter().zip(strings) {
        built.insert(name, inline_string_column(name, views));
    }

    let columns = SCHEMA
        .iter()
        .map(|spec| built.remove(spec.name).expect("every schema column is generated"))
        .collect();
    Ok(DataFrame::new(n, columns)?)
}

/// Longest string an Arrow view holds inline, without a data buffer.
const MAX_INLINE: usize = 12;

/// The distinct values a dictionary-indexed String column is drawn from, as
/// inline Arrow views (every one is at most [`MAX_INLINE`] bytes).
fn dictionary(name: &str) -> Vec<View> {
    let values: Vec<String> = match name {
        "region" => REGIONS.iter().map(|r| r.to_string()).collect(),
        "az" => REGIONS
            .iter()
            .flat_map(|r| ZONE_LETTERS.iter().map(move |z| format!("{r}{z}")))
            .collect(),
        "node_id" => (0..ID_COUNT).map(|i| format!("node-{i}")).collect(),
        "peer_id" => (0..ID_COUNT).map(|i| format!("peer-{i}")).collect(),
        _ => unreachable!("{name} is not a dictionary-indexed column"),
    };
    values
        .iter()
        .map(|v| {
            assert!(v.len() <= MAX_INLINE, "{v:?} does not fit an inline view");
            View::new_inline(v.as_bytes())
        })
        .collect()
}

/// A String column from inline views (no data buffers).
fn inline_string_column(name: &str, views: Vec<View>) -> Column {
    let no_buffers: Buffer<Buffer<u8>> = Buffer::from(Vec::new());
    // SAFETY: every view was made by `View::new_inline` from a `&str` of at most
    // 12 bytes (checked in `dictionary`): it is valid UTF-8 held in the view
    // itself and references no data buffer.
    let array = unsafe {
        Utf8ViewArray::new_unchecked_unknown_md(
            ArrowDataType::Utf8View,
            Buffer::from(views),
            no_buffers,
            None,
            Some(0),
        )
    };
    StringChunked::with_chunk(name.into(), array).into_column()
}

/// The UTC timestamps `first, first + freq, …` (they cannot overflow: the
/// last one is `end`, checked by [`Config::validate`]).
fn timestamps(n: usize, first_us: i64, freq_us: i64) -> Column {
    let mut values = memory::zeroed_column::<i64>(n);
    values
        .par_chunks_mut(CHUNK_ROWS)
        .enumerate()
        .for_each(|(block, out)| {
            let mut t = first_us + (block * CHUNK_ROWS) as i64 * freq_us;
            for v in out {
                *v = t;
                t += freq_us;
            }
        });
    Int64Chunked::from_vec("timestamp".into(), values)
        .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
        .into_series()
        .into_column()
}

/// `K` zeroed columns of `n` values (see [`memory::zeroed_column`]).
fn zeroed_columns<T: Zeroable, const K: usize>(n: usize) -> Vec<Vec<T>> {
    (0..K).map(|_| memory::zeroed_column(n)).collect()
}

/// Cuts every column into slices of `head` rows, then [`CHUNK_ROWS`] rows, and
/// regroups them by chunk: `result[k][j]` is chunk `k` of column `j`.
fn split_into_chunks<T>(columns: &mut [Vec<T>], head: usize) -> Vec<Vec<&mut [T]>> {
    let width = columns.len();
    let mut chunks: Vec<Vec<&mut [T]>> = Vec::new();
    for column in columns.iter_mut() {
        let len = column.len();
        let (first, rest) = column.split_at_mut(head.min(len));
        let slices = std::iter::once(first)
            .filter(|s| !s.is_empty())
            .chain(rest.chunks_mut(CHUNK_ROWS));
        for (k, slice) in slices.enumerate() {
            if k == chunks.len() {
                chunks.push(Vec::with_capacity(width));
            }
            chunks[k].push(slice);
        }
    }
    chunks
}

/// Writes one row's values into the chunk's column slices.
#[inline]
fn write_row<T: Copy, const K: usize>(columns: &mut [&mut [T]], row: usize, values: [T; K]) {
    for (column, value) in columns.iter_mut().zip(values) {
        column[row] = value;
    }
}

#[cfg(test)]
mod tests;
