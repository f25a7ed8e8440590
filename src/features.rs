//! The selector's inputs: chosen columns of a frame as one row-major `f32`
//! matrix, numeric columns as they are and categories one-hot, filled in
//! parallel blocks of rows.

use polars::prelude::*;
use rayon::prelude::*;

use crate::error::{DwcpError, Result};
use crate::memory;
use crate::schema::{self, Kind};

/// Rows filled per parallel task.
const BLOCK: usize = 1 << 11;

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
    /// `width` values), at column `offset`.
    fn fill(&self, start: usize, block: &mut [f32], width: usize, offset: usize) {
        let rows = block.len() / width;
        // Cell `offset` of every row of the block, then of the rows after it.
        let mut cells = block[offset..].iter_mut().step_by(width);
        match self {
            Self::Float(ca) => fill_numeric(ca, start, rows, &mut cells, |v| v as f32),
            Self::Int(ca) => fill_numeric(ca, start, rows, &mut cells, |v| v as f32),
            Self::OneHot(codes, categories) => {
                let mut row = 0;
                for array in codes.slice(start as i64, rows).downcast_iter() {
                    for code in array.iter() {
                        let cell = &mut block[row * width + offset..][..*categories];
                        match code {
                            Some(&c) => cell[usize::from(c)] = 1.0,
                            None => cell.fill(f32::NAN),
                        }
                        row += 1;
                    }
                }
            }
        }
    }
}

/// Writes rows `start..start + rows` of `ca`, converted by `f32_of`, into `cells`
/// (nulls as NaN).
fn fill_numeric<'a, T: PolarsNumericType>(
    ca: &ChunkedArray<T>,
    start: usize,
    rows: usize,
    cells: &mut impl Iterator<Item = &'a mut f32>,
    f32_of: impl Fn(T::Native) -> f32,
) {
    for array in ca.slice(start as i64, rows).downcast_iter() {
        let values = array.values().iter();
        match array.validity() {
            None => values.zip(&mut *cells).for_each(|(&v, cell)| *cell = f32_of(v)),
            Some(valid) => values
                .zip(valid.iter())
                .zip(&mut *cells)
                .for_each(|((&v, ok), cell)| *cell = if ok { f32_of(v) } else { f32::NAN }),
        }
    }
}

/// The columns `numeric` (any numeric type) and `one_hot` (schema Enum
/// columns, one matrix column per category in the schema's order) of `df`,
/// in that order, as one matrix.
pub fn matrix(df: &DataFrame, numeric: &[String], one_hot: &[String]) -> Result<Matrix> {
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
    let (rows, width) = (df.height(), names.len());
    let mut values = memory::zeroed_column::<f32>(rows * width);
    if width > 0 {
        values
            .par_chunks_mut(BLOCK * width)
            .enumerate()
            .for_each(|(b, block)| {
                let mut offset = 0;
                for source in &sources {
                    source.fill(b * BLOCK, block, width, offset);
                    offset += source.width();
                }
            });
    }
    Ok(Matrix { values, rows, names })
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
