//! A block's cleaned rows, by the rules the in-memory `clean` applies to the
//! whole frame: float NaN as null, the rows kept, nulls filled with the
//! columns' fill values.

use polars::prelude::*;

use crate::error::Result;

/// Float NaN becomes null: cleaning treats it as missing, as pandas does.
pub fn nan_to_null(df: &mut DataFrame) -> Result<()> {
    let with_nan: Vec<PlSmallStr> = df
        .columns()
        .iter()
        .filter(|c| c.dtype() == &DataType::Float64)
        .filter(|c| {
            c.f64()
                .is_ok_and(|ca| ca.downcast_iter().any(|a| a.values().iter().any(|v| v.is_nan())))
        })
        .map(|c| c.name().clone())
        .collect();
    for name in with_nan {
        let ca = df.column(&name)?.f64()?.clone();
        let cleaned: Float64Chunked = ca.iter().map(|v| v.filter(|x| !x.is_nan())).collect();
        df.with_column(cleaned.with_name(name).into_column())?;
    }
    Ok(())
}

/// Fills each `(column, value)`'s nulls with `value`: a float column stays
/// Float64; any other numeric column becomes Int64 and takes `value` as an
/// integer (fill values of integer columns are whole: see `Imputation::filled`).
pub fn fill_nulls(df: &mut DataFrame, fills: &[(String, f64)]) -> Result<()> {
    for (name, value) in fills {
        let column = df.column(name)?;
        let filled = if column.dtype().is_float() {
            let values = column.cast(&DataType::Float64)?;
            values.f64()?.fill_null_with_values(*value)?.into_column()
        } else {
            let values = column.cast(&DataType::Int64)?;
            values.i64()?.fill_null_with_values(*value as i64)?.into_column()
        };
        df.with_column(filled.with_name(name.as_str().into()))?;
    }
    Ok(())
}

/// A block's rows as cleaning writes them: NaN as null, the rows `keep`
/// keeps, nulls filled by `fills`.
pub fn finish(df: &DataFrame, keep: &[bool], fills: &[(String, f64)]) -> Result<DataFrame> {
    let mut df = df.clone();
    nan_to_null(&mut df)?;
    let mut out = df.filter(&BooleanChunked::from_slice("keep".into(), keep))?;
    fill_nulls(&mut out, fills)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_is_null_kept_rows_stay_and_fills_keep_the_column_kind() {
        let df = df!(
            "x" => [Some(1.0), Some(f64::NAN), None, Some(4.0)],
            "n" => [Some(1i32), None, Some(3), None],
            "s" => ["a", "b", "c", "d"],
        )
        .unwrap();
        let fills = [("x".to_string(), 2.5), ("n".to_string(), 7.0)];
        let out = finish(&df, &[true, true, true, false], &fills).unwrap();
        let x: Vec<Option<f64>> = out.column("x").unwrap().f64().unwrap().iter().collect();
        assert_eq!(x, [Some(1.0), Some(2.5), Some(2.5)]);
        let n: Vec<Option<i64>> = out.column("n").unwrap().i64().unwrap().iter().collect();
        assert_eq!(n, [Some(1), Some(7), Some(3)]);
        assert_eq!(out.column("s").unwrap().dtype(), &DataType::String);
    }
}
