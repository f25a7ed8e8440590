//! The selector's inputs: chosen columns of a frame as one row-major `f32`
//! matrix, numeric columns as they are and categories one-hot, filled in
//! parallel blocks of rows.

use std::mem::MaybeUninit;
use std::ops::Range;

use polars::prelude::*;
use polars_arrow::array::PrimitiveArray;
use rayon::prelude::*;

use crate::error::{DwcpError, Result};
use crate::memory;
use crate::schema::{self, Kind};

/// Rows per parallel task: enough work to outweigh setting a task up, few
/// enough that both cores stay busy to the end.
const BLOCK: usize = 1 << 14;

/// About how many bytes of matrix rows are built column after column in a
/// core's buffer before they are streamed out: small enough to stay in L1
/// beside the columns' input (measured at 10M × 17: 64-row tiles, 4.3 KB,
/// beat 32, 48, 96 and 128 rows).
const TILE_BYTES: usize = 4 << 10;

/// A frame's columns as a matrix: `rows × names.len()` values, row after row.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    /// The values, row-major.
    pub values: Vec<f32>,
    /// Rows.
    pub rows: usize,
    /// The matrix's columns: a numeric column by its name, a category as `column=category`.
    pub names: Vec<String>,
}

/// One column of the frame, ready to be copied into the matrix.
enum Source {
    /// A float column (nulls and NaN become NaN).
    Float(Chunks<Float64Type>),
    /// An integer column, read as it is stored (nulls become NaN).
    Int(Chunks<Int64Type>),
    /// A schema Enum column's codes, one 0/1 matrix column per category (a
    /// null sets NaN in all of them), each with its [`hot_table`].
    OneHot(Chunks<UInt8Type>, Vec<[f32; 256]>),
}

impl Source {
    fn width(&self) -> usize {
        match self {
            Self::Float(_) | Self::Int(_) => 1,
            Self::OneHot(_, tables) => tables.len(),
        }
    }

    /// Writes rows `rows` of this source into `tile` (whole matrix rows of
    /// `width` values), from column `offset` on.
    fn fill(&self, rows: Range<usize>, tile: &mut [f32], width: usize, offset: usize) {
        match self {
            Self::Float(c) => c.fill(rows, tile, width, offset, |v| v as f32),
            Self::Int(c) => c.fill(rows, tile, width, offset, |v| v as f32),
            // One pass per category over the (cache-resident) codes: the
            // same single-cell loop as a numeric column's.
            Self::OneHot(codes, tables) => {
                for (category, hot) in tables.iter().enumerate() {
                    let cell = offset + category;
                    codes.fill(rows.clone(), tile, width, cell, |c| hot[usize::from(c)]);
                }
            }
        }
    }
}

/// Each code's cell in `category`'s one-hot column: 1.0 for the category's
/// own code, 0.0 for any other. Looked up rather than compared, since the
/// compiler turns a compare into a branch that random categories mispredict.
fn hot_table(category: usize) -> [f32; 256] {
    let mut table = [0.0; 256];
    table[category] = 1.0;
    table
}

/// A column's chunks and the row each starts at, so that any range of rows
/// is found without slicing (and allocating) per tile.
struct Chunks<T: PolarsNumericType> {
    arrays: Vec<PrimitiveArray<T::Native>>,
    /// `starts[i]` is chunk `i`'s first row; the last entry is the length.
    starts: Vec<usize>,
}

impl<T: PolarsNumericType> Chunks<T> {
    fn new(ca: &ChunkedArray<T>) -> Self {
        let arrays: Vec<_> = ca.downcast_iter().cloned().collect();
        let mut starts = vec![0];
        for array in &arrays {
            starts.push(starts[starts.len() - 1] + array.len());
        }
        Self { arrays, starts }
    }

    /// Writes rows `rows` into column `cell` of `tile`'s rows of `width`
    /// values, each as `convert` makes it from the row's value; NaN where the
    /// row is null.
    fn fill(
        &self,
        rows: Range<usize>,
        tile: &mut [f32],
        width: usize,
        cell: usize,
        convert: impl Fn(T::Native) -> f32,
    ) {
        let mut chunk = self.starts.partition_point(|&s| s <= rows.start) - 1;
        let mut row = rows.start;
        while row < rows.end {
            let (array, first) = (&self.arrays[chunk], self.starts[chunk]);
            let end = rows.end.min(self.starts[chunk + 1]);
            let from = row - first;
            let part = &mut tile[(row - rows.start) * width..(end - rows.start) * width];
            // The next tile's values, so that its loads do not wait on memory.
            let next = (from + (end - row)).min(array.len());
            prefetch(&array.values()[next..(next + end - row).min(array.len())]);
            for (r, &v) in part.chunks_exact_mut(width).zip(&array.values()[from..]) {
                r[cell] = convert(v);
            }
            if let Some(valid) = array.validity().filter(|v| v.unset_bits() > 0) {
                for (i, r) in part.chunks_exact_mut(width).enumerate() {
                    if !valid.get_bit(from + i) {
                        r[cell] = f32::NAN;
                    }
                }
            }
            row = end;
            chunk += 1;
        }
    }
}

/// The columns `numeric` (any numeric type) and `one_hot` (schema Enum
/// columns, one matrix column per category in the schema's order) of `df`,
/// in that order, as one matrix.
///
/// A matrix that could never fit in memory is refused (see [`ensure_room`]).
pub fn matrix(df: &DataFrame, numeric: &[String], one_hot: &[String]) -> Result<Matrix> {
    ensure_room(df.height(), numeric, one_hot)?;
    let (sources, names) = resolve(df, numeric, one_hot)?;
    let n = df.height() * names.len();
    let mut values = memory::uninit_column::<f32>(n);
    fill(&sources, names.len(), &mut values.spare_capacity_mut()[..n]);
    // SAFETY: `fill` wrote every one of the `n` values.
    unsafe { values.set_len(n) };
    Ok(Matrix {
        values,
        rows: df.height(),
        names,
    })
}

/// Refuses a new matrix of `rows` rows of `numeric` and `one_hot` columns
/// that could never fit in memory (see [`memory::ensure_room`]). It needs no
/// column, so a caller can check before the frame's columns are read.
pub fn ensure_room(rows: usize, numeric: &[String], one_hot: &[String]) -> Result<()> {
    let categories: usize = one_hot
        .iter()
        .filter_map(|name| match schema::spec(name)?.kind {
            Kind::Enum(categories) => Some(categories.len()),
            _ => None,
        })
        .sum();
    let cells = (rows as u64).saturating_mul((numeric.len() + categories) as u64);
    memory::ensure_room(
        cells.saturating_mul(size_of::<f32>() as u64),
        "the feature matrix",
        "build it for fewer rows at a time",
    )
}

/// [`matrix`] written into `values`, a caller's row-major buffer of `shape`
/// (rows, columns), which must be the matrix's (every value is overwritten);
/// the matrix's column names. Another shape is refused before anything is
/// written.
pub fn matrix_into(
    df: &DataFrame,
    numeric: &[String],
    one_hot: &[String],
    values: &mut [f32],
    shape: (usize, usize),
) -> Result<Vec<String>> {
    let (sources, names) = resolve(df, numeric, one_hot)?;
    let expected = (df.height(), names.len());
    if shape != expected || values.len() != shape.0 * shape.1 {
        return Err(DwcpError::invalid_argument(
            "out",
            format!("expected an array of shape {expected:?}, got {shape:?}"),
        ));
    }
    // SAFETY: `MaybeUninit<f32>` has `f32`'s layout, and `fill` writes only
    // initialized values, so `values` stays initialized.
    let cells = unsafe { std::slice::from_raw_parts_mut(values.as_mut_ptr().cast(), values.len()) };
    fill(&sources, names.len(), cells);
    Ok(names)
}

/// The sources of the matrix's columns and the columns' names; an absent,
/// non-numeric or non-schema-Enum column is refused.
fn resolve(df: &DataFrame, numeric: &[String], one_hot: &[String]) -> Result<(Vec<Source>, Vec<String>)> {
    let mut sources = Vec::with_capacity(numeric.len() + one_hot.len());
    let mut names = Vec::new();
    for name in numeric {
        let column = df.column(name).map_err(|_| absent(name))?;
        if !column.dtype().is_primitive_numeric() {
            return Err(refuse(
                name,
                format!("a feature must be numeric, found {}", column.dtype()),
            ));
        }
        sources.push(match column.dtype() {
            DataType::Int64 => Source::Int(Chunks::new(column.i64()?)),
            _ => Source::Float(Chunks::new(column.cast(&DataType::Float64)?.f64()?)),
        });
        names.push(name.clone());
    }
    for name in one_hot {
        let Some(kind @ Kind::Enum(categories)) = schema::spec(name).map(|c| c.kind) else {
            return Err(refuse(
                name,
                "only the schema's Enum columns are one-hot encoded".into(),
            ));
        };
        let column = df.column(name).map_err(|_| absent(name))?;
        if kind.dtype().ok().as_ref() != Some(column.dtype()) {
            return Err(refuse(
                name,
                format!("expected the schema's Enum, found {}", column.dtype()),
            ));
        }
        let codes = column.as_materialized_series().to_physical_repr();
        let tables = (0..categories.len()).map(hot_table).collect();
        sources.push(Source::OneHot(Chunks::new(codes.u8()?), tables));
        names.extend(categories.iter().map(|c| format!("{name}={c}")));
    }
    Ok((sources, names))
}

/// Asks the cache to fetch `values`, so that the loads that read them later
/// do not wait on memory.
fn prefetch<T>(values: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let base = values.as_ptr().cast::<i8>();
        for line in (0..size_of_val(values)).step_by(64) {
            // SAFETY: the address lies inside `values`; a prefetch never
            // faults and changes nothing but the cache.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(base.add(line)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = values; // elsewhere the hardware prefetcher is left to it
}

/// Writes every value of the `width`-column matrix `values` from `sources`,
/// in parallel blocks of rows. Each block is built one tile at a time in a
/// small buffer that stays in the core's L1 cache while every column writes
/// its cells, and the finished tile is streamed out to `values`. Every value
/// of `values` is written.
fn fill(sources: &[Source], width: usize, values: &mut [MaybeUninit<f32>]) {
    if width == 0 {
        return;
    }
    // A multiple of 16 rows is a whole number of 64-byte lines.
    let tile_rows = (TILE_BYTES / (width * size_of::<f32>()))
        .max(1)
        .next_multiple_of(16);
    values.par_chunks_mut(BLOCK * width).enumerate().for_each_init(
        || vec![0.0; tile_rows * width],
        |buffer, (b, block)| {
            for (t, tile) in block.chunks_mut(tile_rows * width).enumerate() {
                let start = b * BLOCK + t * tile_rows;
                let rows = start..start + tile.len() / width;
                let buffer = &mut buffer[..tile.len()];
                let mut offset = 0;
                for source in sources {
                    source.fill(rows.clone(), buffer, width, offset);
                    offset += source.width();
                }
                memory::stream_copy(buffer, tile);
            }
            memory::stream_fence();
        },
    );
}

fn absent(name: &str) -> DwcpError {
    refuse(name, "the column is absent".into())
}

fn refuse(name: &str, message: String) -> DwcpError {
    DwcpError::Data {
        column: name.to_string(),
        row: None,
        rule: "features",
        message: format!("column `{name}`: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn columns_become_rows_of_f32_with_categories_one_hot() {
        let link = schema::enum_from_codes(
            UInt8Chunked::new("link_type".into(), [Some(2u8), None, Some(0)]),
            &schema::LINK_TYPES,
        )
        .unwrap();
        let df = DataFrame::new(
            3,
            vec![
                Column::new("rtt_ms".into(), [Some(1.5f64), None, Some(f64::NAN)]),
                Column::new("data_size_bytes".into(), [7i64, 8, 9]),
                link,
            ],
        )
        .unwrap();
        let m = rtt_size_and_link(&df);
        assert_eq!(
            m.names,
            [
                "rtt_ms",
                "data_size_bytes",
                "link_type=dc",
                "link_type=metro",
                "link_type=wan"
            ]
        );
        let nan = f32::NAN;
        let expected = [
            [1.5, 7.0, 0.0, 0.0, 1.0],
            [nan, 8.0, nan, nan, nan],
            [nan, 9.0, 1.0, 0.0, 0.0],
        ];
        assert_eq!(m.rows, 3);
        for (got, want) in m.values.chunks(5).zip(expected) {
            for (g, w) in got.iter().zip(want) {
                assert!(g == &w || (g.is_nan() && w.is_nan()), "{got:?} vs {want:?}");
            }
        }
    }

    fn bits(values: &[f32]) -> Vec<u32> {
        values.iter().map(|x| x.to_bits()).collect()
    }

    /// The matrix of `rtt_ms`, `data_size_bytes` and one-hot `link_type`,
    /// checked to be the one written over a buffer of stale values (so a cell
    /// `fill` skipped cannot pass for a zero the allocator happened to give).
    fn rtt_size_and_link(df: &DataFrame) -> Matrix {
        let (numeric, one_hot) = (names(&["rtt_ms", "data_size_bytes"]), names(&["link_type"]));
        let m = matrix(df, &numeric, &one_hot).unwrap();
        let mut stale = vec![7.5f32; m.values.len()];
        let shape = (m.rows, m.names.len());
        matrix_into(df, &numeric, &one_hot, &mut stale, shape).unwrap();
        assert_eq!(bits(&stale), bits(&m.values)); // NaN is the same NaN
        m
    }

    /// `values` cut into chunks at `cuts`.
    fn chunked<T: PolarsNumericType>(values: &[Option<T::Native>], cuts: &[usize]) -> ChunkedArray<T> {
        let mut bounds = vec![0];
        bounds.extend(cuts);
        bounds.push(values.len());
        let mut parts = bounds
            .windows(2)
            .map(|w| ChunkedArray::<T>::from_iter_options("x".into(), values[w[0]..w[1]].iter().copied()));
        let mut ca = parts.next().unwrap();
        for part in parts {
            ca.append(&part).unwrap();
        }
        ca
    }

    #[test]
    fn blocks_tiles_chunks_and_nulls_do_not_change_the_matrix() {
        let n = 3 * BLOCK + 17;
        let floats: Vec<Option<f64>> = (0..n).map(|i| (i % 7 != 3).then_some(i as f64 * 0.5)).collect();
        let ints: Vec<Option<i64>> = (0..n).map(|i| (i % 11 != 5).then_some(i as i64 - 9)).collect();
        let codes: Vec<Option<u8>> = (0..n)
            .map(|i| (i % 13 != 1).then_some((i * 7 % 3) as u8))
            .collect();
        // Chunk edges inside tiles, on a tile edge (64 rows) and on a block edge.
        let link = chunked::<UInt8Type>(&codes, &[5, 64, 1000, BLOCK + 3]);
        let df = DataFrame::new(
            n,
            vec![
                chunked::<Float64Type>(&floats, &[100, 101, 2 * BLOCK])
                    .with_name("rtt_ms".into())
                    .into_column(),
                chunked::<Int64Type>(&ints, &[63, BLOCK])
                    .with_name("data_size_bytes".into())
                    .into_column(),
                schema::enum_from_codes(link.with_name("link_type".into()), &schema::LINK_TYPES).unwrap(),
            ],
        )
        .unwrap();
        let m = rtt_size_and_link(&df);
        let cell = |v: Option<f64>| v.map_or(f32::NAN, |v| v as f32);
        for (i, row) in m.values.chunks(5).enumerate() {
            let hot = |c: u8| codes[i].map_or(f32::NAN, |code| f32::from(u8::from(code == c)));
            let want = [
                cell(floats[i]),
                cell(ints[i].map(|v| v as f64)),
                hot(0),
                hot(1),
                hot(2),
            ];
            let same = row.iter().zip(&want).all(|(g, w)| g.to_bits() == w.to_bits());
            assert!(same, "row {i}: {row:?} vs {want:?}");
        }
    }

    #[test]
    fn a_row_wider_than_a_tile_is_filled_whole() {
        let n = 40;
        let columns: Vec<Column> = (0..1500)
            .map(|j| {
                Column::new(
                    format!("c{j}").into(),
                    (0..n).map(|i| (i * j) as f64).collect::<Vec<_>>(),
                )
            })
            .collect();
        let names: Vec<String> = columns.iter().map(|c| c.name().to_string()).collect();
        let m = matrix(&DataFrame::new(n, columns).unwrap(), &names, &[]).unwrap();
        for (i, row) in m.values.chunks(1500).enumerate() {
            assert!(
                row.iter().enumerate().all(|(j, &v)| v == (i * j) as f32),
                "row {i}"
            );
        }
    }

    #[test]
    fn a_callers_buffer_is_overwritten_whole_or_refused() {
        let link = schema::enum_from_codes(
            UInt8Chunked::new("link_type".into(), [Some(1u8), None, Some(2), Some(0)]),
            &schema::LINK_TYPES,
        )
        .unwrap();
        let df = DataFrame::new(
            4,
            vec![
                Column::new("rtt_ms".into(), [Some(1.0f64), None, Some(3.0), Some(4.0)]),
                link,
            ],
        )
        .unwrap();
        let (numeric, one_hot) = (names(&["rtt_ms"]), names(&["link_type"]));
        let fresh = matrix(&df, &numeric, &one_hot).unwrap();
        let mut reused = vec![7.5f32; 16];
        let got = matrix_into(&df, &numeric, &one_hot, &mut reused, (4, 4)).unwrap();
        assert_eq!(got, fresh.names);
        assert_eq!(bits(&reused), bits(&fresh.values));
        for shape in [(4, 3), (3, 4), (16, 1), (2, 8)] {
            let mut wrong = vec![7.5f32; shape.0 * shape.1];
            let err = matrix_into(&df, &numeric, &one_hot, &mut wrong, shape).unwrap_err();
            let message = format!("expected an array of shape (4, 4), got {shape:?}");
            assert!(err.to_string().contains(&message), "{err}");
            assert!(wrong.iter().all(|&v| v == 7.5));
        }
    }

    #[test]
    fn absent_text_and_unknown_columns_are_refused() {
        let df = DataFrame::new(1, vec![Column::new("region".into(), ["us-east-1"])]).unwrap();
        for (numeric, one_hot, message) in [
            (vec!["rtt_ms"], vec![], "absent"),
            (vec!["region"], vec![], "must be numeric"),
            (vec![], vec!["region"], "only the schema's Enum columns"),
        ] {
            let err = matrix(&df, &names(&numeric), &names(&one_hot)).unwrap_err();
            assert!(err.to_string().contains(message), "{err}");
        }
    }
}
