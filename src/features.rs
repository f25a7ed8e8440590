//! The selector's inputs: chosen columns of a frame as one row-major `f32`
//! matrix, numeric columns as they are and categories one-hot, filled in
//! parallel blocks of rows.

use std::ops::Range;

use polars::prelude::*;
use polars_arrow::bitmap::Bitmap;
use rayon::prelude::*;

use crate::error::{DwcpError, Result};
use crate::memory;
use crate::schema::{self, Kind};

/// Rows filled per parallel task: long runs of each input column for the
/// hardware prefetcher, while the block's rows (about 1 MB at 17 columns)
/// stay near one core's L2 between columns (measured: 2^14 rows beat 2^11
/// by a fifth at 10M rows; 2^16 and more were slower again).
const BLOCK: usize = 1 << 14;

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
    Float(Float64Chunked),
    /// An integer column, read as it is stored (nulls become NaN).
    Int(Int64Chunked),
    /// A schema Enum column's codes, one 0/1 matrix column per category (a
    /// null sets NaN in all of them).
    OneHot(UInt8Chunked, usize),
}

impl Source {
    fn width(&self) -> usize {
        match self {
            Self::Float(_) | Self::Int(_) => 1,
            Self::OneHot(_, categories) => *categories,
        }
    }

    /// Writes rows `start..` of this source into `block` (whole matrix rows of
    /// `width` values), at column `offset`: the values first, then NaN over
    /// the rows that are null.
    fn fill(&self, start: usize, block: &mut [f32], width: usize, offset: usize) {
        let cells = offset..offset + self.width();
        match self {
            Self::Float(ca) => fill_column(ca, start, block, width, cells, |c, v| c[0] = v as f32),
            Self::Int(ca) => fill_column(ca, start, block, width, cells, |c, v| c[0] = v as f32),
            Self::OneHot(codes, _) => fill_column(codes, start, block, width, cells, |c, code| {
                // Branch-free; a null's code (any byte) is overwritten with NaN after.
                for (category, cell) in c.iter_mut().enumerate() {
                    *cell = f32::from(u8::from(category == usize::from(code)));
                }
            }),
        }
    }
}

/// Writes rows `start..` of `ca` into `cells` of `block`'s rows of `width`
/// values, a row's cells by `write` from its value, then NaN over null rows.
fn fill_column<T: PolarsNumericType>(
    ca: &ChunkedArray<T>,
    start: usize,
    block: &mut [f32],
    width: usize,
    cells: Range<usize>,
    write: impl Fn(&mut [f32], T::Native),
) {
    let mut done = 0;
    for array in ca.slice(start as i64, block.len() / width).downcast_iter() {
        let part = &mut block[done * width..(done + array.len()) * width];
        for (row, &v) in part.chunks_exact_mut(width).zip(array.values().iter()) {
            write(&mut row[cells.clone()], v);
        }
        mark_nulls(array.validity(), part, width, cells.clone());
        done += array.len();
    }
}

/// Sets `cells` of every row of `part` (rows of `width` values) that
/// `validity` marks null to NaN.
fn mark_nulls(validity: Option<&Bitmap>, part: &mut [f32], width: usize, cells: Range<usize>) {
    let Some(valid) = validity.filter(|v| v.unset_bits() > 0) else {
        return;
    };
    for (row, ok) in part.chunks_exact_mut(width).zip(valid.iter()) {
        if !ok {
            row[cells.clone()].fill(f32::NAN);
        }
    }
}

/// The columns `numeric` (any numeric type) and `one_hot` (schema Enum
/// columns, one matrix column per category in the schema's order) of `df`,
/// in that order, as one matrix.
pub fn matrix(df: &DataFrame, numeric: &[String], one_hot: &[String]) -> Result<Matrix> {
    let (sources, names) = resolve(df, numeric, one_hot)?;
    let mut values = memory::zeroed_column::<f32>(df.height() * names.len());
    fill(&sources, names.len(), &mut values);
    Ok(Matrix {
        values,
        rows: df.height(),
        names,
    })
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
    fill(&sources, names.len(), values);
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
            DataType::Int64 => Source::Int(column.i64()?.clone()),
            _ => Source::Float(column.cast(&DataType::Float64)?.f64()?.clone()),
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
        let codes = column.as_materialized_series().to_physical_repr().u8()?.clone();
        sources.push(Source::OneHot(codes, categories.len()));
        names.extend(categories.iter().map(|c| format!("{name}={c}")));
    }
    Ok((sources, names))
}

/// Writes every value of the `width`-column matrix `values` from `sources`,
/// in parallel blocks of rows.
fn fill(sources: &[Source], width: usize, values: &mut [f32]) {
    if width == 0 {
        return;
    }
    values
        .par_chunks_mut(BLOCK * width)
        .enumerate()
        .for_each(|(b, block)| {
            let mut offset = 0;
            for source in sources {
                source.fill(b * BLOCK, block, width, offset);
                offset += source.width();
            }
        });
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
        let m = matrix(
            &df,
            &names(&["rtt_ms", "data_size_bytes"]),
            &names(&["link_type"]),
        )
        .unwrap();
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

    #[test]
    fn blocks_and_chunks_do_not_change_the_matrix() {
        let n = 3 * BLOCK + 17;
        let values: Vec<f64> = (0..n).map(|i| i as f64 * 0.5).collect();
        let mut a = Float64Chunked::from_vec("x".into(), values[..100].to_vec());
        a.append(&Float64Chunked::from_vec("x".into(), values[100..].to_vec()))
            .unwrap();
        let df = DataFrame::new(n, vec![a.into_column()]).unwrap();
        let m = matrix(&df, &names(&["x"]), &[]).unwrap();
        assert!(m.values.iter().zip(&values).all(|(&g, &w)| g == w as f32));
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
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&reused), bits(&fresh.values)); // NaN is the same NaN
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
