//! Rows as keys: parallel row hashes and exact row equality over a set of
//! columns, for deduplication and grouping.

use polars::prelude::*;
use polars_arrow::array::Array;
use rayon::prelude::*;

use crate::cancel::Token;
use crate::error::Result;

/// Rows hashed per parallel task.
const BLOCK: usize = 1 << 15;
/// The key of a null, whatever the column's type.
const NULL_KEY: u64 = 0x9e37_79b9_7f4a_7c15;

/// One column, in the physical form compared for equality.
enum KeyColumn {
    Float(Float64Chunked),
    Int(Int64Chunked),
    Code(UInt8Chunked),
    Text(StringChunked),
}

/// The columns that make up a row's key.
pub struct RowKeys {
    columns: Vec<KeyColumn>,
    height: usize,
}

/// Calls `f(array, from, to, out_offset)` for the part of each array of `ca`
/// that overlaps rows `start..start + len`: array rows `from..to` are rows
/// `start + out_offset ..` of the range. Chunked columns are read in place.
fn for_each_part<T: PolarsDataType>(
    ca: &ChunkedArray<T>,
    start: usize,
    len: usize,
    mut f: impl FnMut(&T::Array, usize, usize, usize),
) {
    let end = start + len;
    let mut offset = 0;
    for array in ca.downcast_iter() {
        let (a_start, a_end) = (offset, offset + array.len());
        offset = a_end;
        if a_end <= start {
            continue;
        }
        if a_start >= end {
            break;
        }
        let (from, to) = (start.max(a_start), end.min(a_end));
        f(array, from - a_start, to - a_start, from - start);
    }
}

/// murmur3's 64-bit finaliser: spreads every input bit over the output.
#[inline]
fn fmix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Folds `key` into the running row hash `h` (FxHash's step; the row's final
/// hash goes through [`fmix`]).
#[inline]
fn combine(h: u64, key: u64) -> u64 {
    (h.rotate_left(5) ^ key).wrapping_mul(0x517c_c1b7_2722_0a95)
}

/// Float keys: `-0.0` equals `0.0` and every NaN equals every NaN (as in pandas).
#[inline]
fn float_key(x: f64) -> u64 {
    if x == 0.0 {
        0
    } else if x.is_nan() {
        f64::NAN.to_bits()
    } else {
        x.to_bits()
    }
}

#[inline]
fn bytes_key(bytes: &[u8]) -> u64 {
    let mut h = bytes.len() as u64;
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let mut word = [0u8; 8];
        word.copy_from_slice(w);
        h = combine(h, u64::from_le_bytes(word));
    }
    let mut tail = [0u8; 8];
    tail[..words.remainder().len()].copy_from_slice(words.remainder());
    fmix(combine(h, u64::from_le_bytes(tail)))
}

/// Folds the keys of rows `start..start + out.len()` of a primitive column into `out`.
fn fold_primitive<T: PolarsNumericType>(
    ca: &ChunkedArray<T>,
    start: usize,
    out: &mut [u64],
    key: impl Fn(T::Native) -> u64,
) {
    for_each_part(ca, start, out.len(), |array, from, to, at| {
        let out = &mut out[at..at + (to - from)];
        let values = &array.values()[from..to];
        match array.validity() {
            None => {
                for (h, &v) in out.iter_mut().zip(values) {
                    *h = combine(*h, key(v));
                }
            }
            Some(validity) => {
                for (i, (h, &v)) in out.iter_mut().zip(values).enumerate() {
                    let k = if validity.get_bit(from + i) {
                        key(v)
                    } else {
                        NULL_KEY
                    };
                    *h = combine(*h, k);
                }
            }
        }
    });
}

/// Writes `put`'s bytes of each value of rows `start..start + rows` of a
/// primitive column into the next of `cells` (a null: zeros).
fn encode_primitive<'a, T: PolarsNumericType>(
    ca: &ChunkedArray<T>,
    start: usize,
    rows: usize,
    cells: &mut impl Iterator<Item = &'a mut [u8]>,
    put: impl Fn(&mut [u8], T::Native),
) {
    for_each_part(ca, start, rows, |array, from, to, _| {
        let values = &array.values()[from..to];
        match array.validity() {
            None => values.iter().zip(&mut *cells).for_each(|(&v, cell)| put(cell, v)),
            Some(validity) => {
                for (i, (&v, cell)) in values.iter().zip(&mut *cells).enumerate() {
                    if validity.get_bit(from + i) {
                        put(cell, v);
                    } else {
                        cell.fill(0);
                    }
                }
            }
        }
    });
}

/// Folds the keys of rows `start..start + out.len()` of a String column into
/// `out`. A string of at most 12 bytes lives inside its Arrow view, so the
/// view itself is its key; longer ones are hashed byte by byte.
fn fold_strings(ca: &StringChunked, start: usize, out: &mut [u64]) {
    for_each_part(ca, start, out.len(), |array, from, to, at| {
        let out = &mut out[at..at + (to - from)];
        for (i, (h, view)) in out.iter_mut().zip(&array.views()[from..to]).enumerate() {
            let k = if !array.is_valid(from + i) {
                NULL_KEY
            } else if view.length <= 12 {
                let bits = view.as_u128();
                fmix(combine(bits as u64, (bits >> 64) as u64))
            } else {
                bytes_key(array.value(from + i).as_bytes())
            };
            *h = combine(*h, k);
        }
    });
}

impl KeyColumn {
    fn new(column: &Column) -> Result<Self> {
        let physical = column.as_materialized_series().to_physical_repr().into_owned();
        Ok(match physical.dtype() {
            DataType::Float64 | DataType::Float32 => {
                Self::Float(physical.cast(&DataType::Float64)?.f64()?.clone())
            }
            DataType::UInt8 => Self::Code(physical.u8()?.clone()),
            DataType::String => Self::Text(physical.str()?.clone()),
            dtype if dtype.is_integer() || dtype.is_bool() => {
                Self::Int(physical.cast(&DataType::Int64)?.i64()?.clone())
            }
            _ => Self::Text(physical.cast(&DataType::String)?.str()?.clone()),
        })
    }

    /// Folds the keys of rows `start..start + out.len()` into the row hashes
    /// `out` (equal values give equal keys; different ones may collide).
    fn fold_keys(&self, start: usize, out: &mut [u64]) {
        match self {
            Self::Float(ca) => fold_primitive(ca, start, out, float_key),
            Self::Int(ca) => fold_primitive(ca, start, out, |v| v as u64),
            Self::Code(ca) => fold_primitive(ca, start, out, u64::from),
            Self::Text(ca) => fold_strings(ca, start, out),
        }
    }

    /// Bytes of one value in a canonical row: a tag (0 for null) and the
    /// value; a text as its 128-bit hash.
    fn width(&self) -> usize {
        match self {
            Self::Float(_) | Self::Int(_) => 9,
            Self::Code(_) => 2,
            Self::Text(_) => 17,
        }
    }

    /// Writes the canonical bytes of rows `start..` into the rows of `block`
    /// (rows of `stride` bytes), at byte `offset` of each: equal values give
    /// equal bytes, different ones different bytes (texts: but for a 128-bit
    /// hash collision).
    fn encode(&self, start: usize, block: &mut [u8], stride: usize, offset: usize) {
        let rows = block.len() / stride;
        let mut cells = block
            .chunks_exact_mut(stride)
            .map(|row| &mut row[offset..offset + self.width()]);
        match self {
            Self::Float(ca) => encode_primitive(ca, start, rows, &mut cells, |cell, x| {
                cell[0] = 1;
                cell[1..].copy_from_slice(&float_key(x).to_le_bytes());
            }),
            Self::Int(ca) => encode_primitive(ca, start, rows, &mut cells, |cell, x| {
                cell[0] = 2;
                cell[1..].copy_from_slice(&x.to_le_bytes());
            }),
            Self::Code(ca) => encode_primitive(ca, start, rows, &mut cells, |cell, x| {
                cell.copy_from_slice(&[3, x]);
            }),
            Self::Text(ca) => for_each_part(ca, start, rows, |array, from, to, _| {
                for (i, cell) in (from..to).zip(&mut cells) {
                    if array.is_valid(i) {
                        cell[0] = 4;
                        let hash = xxhash_rust::xxh3::xxh3_128(array.value(i).as_bytes());
                        cell[1..].copy_from_slice(&hash.to_le_bytes());
                    } else {
                        cell.fill(0);
                    }
                }
            }),
        }
    }

    /// Whether rows `a` and `b` hold the same value (nulls equal nulls).
    #[inline]
    fn equal(&self, a: usize, b: usize) -> bool {
        match self {
            Self::Float(ca) => ca.get(a).map(float_key) == ca.get(b).map(float_key),
            Self::Int(ca) => ca.get(a) == ca.get(b),
            Self::Code(ca) => ca.get(a) == ca.get(b),
            Self::Text(ca) => ca.get(a) == ca.get(b),
        }
    }
}

impl RowKeys {
    /// The key columns `names` of `df` (every column when `names` is `None`).
    pub fn new(df: &DataFrame, names: Option<&[String]>) -> Result<Self> {
        let columns: Vec<&Column> = match names {
            None => df.columns().iter().collect(),
            Some(names) => names.iter().map(|n| df.column(n)).collect::<PolarsResult<_>>()?,
        };
        let columns = columns
            .into_par_iter()
            .map(KeyColumn::new)
            .collect::<Result<_>>()?;
        Ok(Self {
            columns,
            height: df.height(),
        })
    }

    /// One hash per row (blocks are left at zero once the calling thread's
    /// call is cancelled: callers check its token before using them).
    pub fn hashes(&self) -> Vec<u64> {
        let token = Token::current();
        let mut hashes = vec![0u64; self.height];
        hashes.par_chunks_mut(BLOCK).enumerate().for_each(|(b, out)| {
            if token.is_cancelled() {
                return; // the caller checks the token and throws these away
            }
            for column in &self.columns {
                column.fold_keys(b * BLOCK, out);
            }
            for h in out.iter_mut() {
                *h = fmix(*h);
            }
        });
        hashes
    }

    /// One 128-bit hash (xxh3) of each row's canonical bytes: equal rows hash
    /// equal, as [`RowKeys::rows_equal`] judges them, and two different rows
    /// share a hash with probability 2^-128, so rows of different frames (shards)
    /// can be compared through their hashes alone.
    pub fn strong_hashes(&self) -> Vec<u128> {
        let stride: usize = self.columns.iter().map(KeyColumn::width).sum();
        if stride == 0 {
            return vec![xxhash_rust::xxh3::xxh3_128(&[]); self.height]; // no columns: rows all equal
        }
        let mut hashes = vec![0u128; self.height];
        hashes.par_chunks_mut(BLOCK).enumerate().for_each(|(b, out)| {
            let mut block = vec![0u8; out.len() * stride];
            let mut offset = 0;
            for column in &self.columns {
                column.encode(b * BLOCK, &mut block, stride, offset);
                offset += column.width();
            }
            for (h, row) in out.iter_mut().zip(block.chunks_exact(stride)) {
                *h = xxhash_rust::xxh3::xxh3_128(row);
            }
        });
        hashes
    }

    /// Whether rows `a` and `b` are equal in every key column.
    pub fn rows_equal(&self, a: usize, b: usize) -> bool {
        self.columns.iter().all(|c| c.equal(a, b))
    }

    /// For every row, whether an earlier row equals it. Checks the calling
    /// thread's cancellation token between its phases and while comparing.
    pub fn duplicated(&self) -> Result<Vec<bool>> {
        let token = Token::current();
        let mut order: Vec<(u64, u32)> = self.hashes().into_iter().zip(0u32..).collect();
        token.check()?;
        order.par_sort_unstable();
        token.check()?;
        // Rows of a run ascend; each is compared with the distinct rows before it.
        let runs: Vec<&[(u64, u32)]> = order
            .chunk_by(|a, b| a.0 == b.0)
            .filter(|run| run.len() > 1)
            .collect();
        let repeats: Vec<usize> = runs
            .par_iter()
            .flat_map_iter(|run| {
                let mut firsts: Vec<usize> = Vec::new();
                let mut repeats = Vec::new();
                if token.is_cancelled() {
                    return repeats; // the answer is thrown away below
                }
                for &(_, row) in *run {
                    let row = row as usize;
                    if firsts.iter().any(|&first| self.rows_equal(first, row)) {
                        repeats.push(row);
                    } else {
                        firsts.push(row);
                    }
                }
                repeats
            })
            .collect();
        token.check()?;
        let mut duplicated = vec![false; self.height];
        for row in repeats {
            duplicated[row] = true;
        }
        Ok(duplicated)
    }

    /// Dense group ids and each group's first row. Groups come in order of
    /// first appearance; for a single Enum column, in category order (nulls last).
    pub fn groups(&self) -> (Vec<u32>, Vec<usize>) {
        if let [KeyColumn::Code(codes)] = self.columns.as_slice() {
            return code_groups(codes);
        }
        let hashes = self.hashes();
        let mut firsts: Vec<usize> = Vec::new();
        let mut by_hash: PlHashMap<u64, Vec<u32>> = PlHashMap::new();
        let ids = hashes
            .iter()
            .enumerate()
            .map(|(row, h)| {
                let candidates = by_hash.entry(*h).or_default();
                if let Some(&id) = candidates
                    .iter()
                    .find(|&&id| self.rows_equal(firsts[id as usize], row))
                {
                    return id;
                }
                let id = firsts.len() as u32;
                firsts.push(row);
                candidates.push(id);
                id
            })
            .collect();
        (ids, firsts)
    }
}

/// Groups of a code column without hashing: the codes (null as 256) ranked.
fn code_groups(codes: &UInt8Chunked) -> (Vec<u32>, Vec<usize>) {
    const NULL: usize = 256;
    let keys: Vec<u16> = codes.iter().map(|c| c.map_or(NULL as u16, u16::from)).collect();
    let mut firsts = [usize::MAX; NULL + 1];
    for (row, &k) in keys.iter().enumerate() {
        let first = &mut firsts[usize::from(k)];
        if *first == usize::MAX {
            *first = row;
        }
    }
    let mut dense = [u32::MAX; NULL + 1];
    let mut rows = Vec::new();
    for (key, &first) in firsts.iter().enumerate().filter(|(_, f)| **f != usize::MAX) {
        dense[key] = rows.len() as u32;
        rows.push(first);
    }
    let ids = keys.par_iter().map(|&k| dense[usize::from(k)]).collect();
    (ids, rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_and_groups() {
        let df = df!(
            "x" => [Some(1.0), Some(-0.0), Some(1.0), None, Some(0.0), None, Some(f64::NAN), Some(f64::NAN)],
            "s" => ["a", "b", "a", "c", "b", "c", "d", "d"],
        )
        .unwrap();
        let keys = RowKeys::new(&df, None).unwrap();
        assert_eq!(
            keys.duplicated().unwrap(),
            [false, false, true, false, true, true, false, true]
        );
        let (ids, firsts) = RowKeys::new(&df, Some(&["s".to_string()])).unwrap().groups();
        assert_eq!(ids, [0, 1, 0, 2, 1, 2, 3, 3]);
        assert_eq!(firsts, [0, 1, 3, 6]);
    }
}
