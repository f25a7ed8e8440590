//! Oracle labels: which compression path would have finished a transfer first.
//!
//! The design document asks for "performance metrics for oracle computation"
//! but never defines the oracle. Here an engine's estimated time is the
//! transfer-time model of [`crate::transfer`] plus a CPU penalty:
//!
//! `est_time_ms = compression_time_ms + compressed_bytes · 8 / (rate_mbps · 1000) + rtt_ms
//!                + cpu_weight · cpu_usage · compression_time_ms`
//!
//! AMST sends at `amst_transfer_rate_mbps`, HDE and baseline at
//! `available_bandwidth_mbps`. The label is the engine with the smallest
//! estimate; ties go to the first of hde, amst, baseline. An engine whose
//! inputs are null (or NaN) did not run for that row and cannot win; a row
//! where no engine can be estimated gets a null label.

use polars::prelude::*;
use polars_arrow::bitmap::Bitmap;
use polars_buffer::Buffer;
use rayon::prelude::*;

use crate::error::{DwcpError, Result};
use crate::schema::{self, COMPRESSIONS};
use crate::transfer::end_to_end_ms;

/// The inputs of one engine's estimate.
struct Engine {
    time: &'static str,
    size: &'static str,
    rate: &'static str,
}

/// hde, amst, baseline: the order of [`COMPRESSIONS`].
const ENGINES: [Engine; 3] = [
    Engine {
        time: "hde_compression_time_ms",
        size: "hde_compressed_size_bytes",
        rate: "available_bandwidth_mbps",
    },
    Engine {
        time: "amst_compression_time_ms",
        size: "amst_compressed_size_bytes",
        rate: "amst_transfer_rate_mbps",
    },
    Engine {
        time: "baseline_compression_time_ms",
        size: "baseline_compressed_size_bytes",
        rate: "available_bandwidth_mbps",
    },
];

/// The estimate columns added, in the order of [`COMPRESSIONS`].
pub const ESTIMATE_COLUMNS: [&str; 3] = ["est_time_hde_ms", "est_time_amst_ms", "est_time_baseline_ms"];
/// The label column added: `Enum[hde, amst, baseline]`.
pub const LABEL_COLUMN: &str = "oracle_compression";

/// A nullable Float64 column read in place; NaN reads as null.
struct Values {
    values: Buffer<f64>,
    validity: Option<Bitmap>,
}

impl Values {
    fn new(df: &DataFrame, name: &str) -> Result<Self> {
        let column = df.column(name).map_err(|_| DwcpError::Data {
            column: name.to_string(),
            row: None,
            rule: "oracle_inputs",
            message: "the oracle needs this column, and it is absent".into(),
        })?;
        if !column.dtype().is_primitive_numeric() {
            return Err(DwcpError::Data {
                column: name.to_string(),
                row: None,
                rule: "oracle_inputs",
                message: format!("expected a numeric column, found {}", column.dtype()),
            });
        }
        let ca = column.cast(&DataType::Float64)?.f64()?.rechunk().into_owned();
        // One array after rechunking (none for an empty column); clones share buffers.
        let values = match ca.downcast_iter().next() {
            Some(array) => Self {
                values: array.values().clone(),
                validity: array.validity().cloned(),
            },
            None => Self {
                values: Buffer::from(Vec::new()),
                validity: None,
            },
        };
        Ok(values)
    }

    #[inline]
    fn get(&self, row: usize) -> Option<f64> {
        let valid = self.validity.as_ref().is_none_or(|v| v.get_bit(row));
        valid.then(|| self.values[row]).filter(|x| !x.is_nan())
    }
}

/// `df` with the estimate columns and the oracle label added (replacing any
/// earlier ones). `cpu_weight` must be finite and non-negative.
pub fn label_oracle(df: &DataFrame, cpu_weight: f64) -> Result<DataFrame> {
    if !(cpu_weight.is_finite() && cpu_weight >= 0.0) {
        return Err(DwcpError::invalid_argument(
            "cpu_weight",
            format!("must be a finite number >= 0, got {cpu_weight}"),
        ));
    }
    let rtt = Values::new(df, "rtt_ms")?;
    let cpu = if cpu_weight > 0.0 {
        Some(Values::new(df, "cpu_usage")?)
    } else {
        None
    };
    let engines = ENGINES
        .iter()
        .map(|e| {
            Ok([
                Values::new(df, e.time)?,
                Values::new(df, e.size)?,
                Values::new(df, e.rate)?,
            ])
        })
        .collect::<Result<Vec<_>>>()?;

    let estimate = |row: usize| -> ([Option<f64>; 3], Option<u8>) {
        let mut times = [None; 3];
        let (Some(rtt), Some(penalty_rate)) = (rtt.get(row), cpu.as_ref().map_or(Some(0.0), |c| c.get(row)))
        else {
            return (times, None);
        };
        let mut best: Option<(u8, f64)> = None;
        for (k, [time, size, rate]) in engines.iter().enumerate() {
            let (Some(t), Some(b), Some(r)) = (time.get(row), size.get(row), rate.get(row)) else {
                continue;
            };
            let est = end_to_end_ms(t, b, r, rtt) + cpu_weight * penalty_rate * t;
            if est.is_nan() {
                continue;
            }
            times[k] = Some(est);
            if best.is_none_or(|(_, b)| est < b) {
                best = Some((k as u8, est));
            }
        }
        (times, best.map(|(k, _)| k))
    };
    let rows: Vec<([Option<f64>; 3], Option<u8>)> = (0..df.height()).into_par_iter().map(estimate).collect();

    let mut out = df.clone();
    for (k, name) in ESTIMATE_COLUMNS.iter().enumerate() {
        let ca = Float64Chunked::from_iter_options((*name).into(), rows.iter().map(|r| r.0[k]));
        out.with_column(ca.into_column())?;
    }
    let codes = UInt8Chunked::from_iter_options(LABEL_COLUMN.into(), rows.iter().map(|r| r.1));
    out.with_column(schema::enum_from_codes(codes, &COMPRESSIONS)?)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One row per case: (hde time, size; amst time, size, rate; baseline time, size; bandwidth; rtt; cpu).
    fn frame(rows: &[[Option<f64>; 10]]) -> DataFrame {
        let col =
            |i: usize, name: &str| Column::new(name.into(), rows.iter().map(|r| r[i]).collect::<Vec<_>>());
        DataFrame::new_infer_height(vec![
            col(0, "hde_compression_time_ms"),
            col(1, "hde_compressed_size_bytes"),
            col(2, "amst_compression_time_ms"),
            col(3, "amst_compressed_size_bytes"),
            col(4, "amst_transfer_rate_mbps"),
            col(5, "baseline_compression_time_ms"),
            col(6, "baseline_compressed_size_bytes"),
            col(7, "available_bandwidth_mbps"),
            col(8, "rtt_ms"),
            col(9, "cpu_usage"),
        ])
        .unwrap()
    }

    fn labels(df: &DataFrame) -> Vec<Option<String>> {
        let s = df.column(LABEL_COLUMN).unwrap().cast(&DataType::String).unwrap();
        s.str().unwrap().iter().map(|v| v.map(str::to_string)).collect()
    }

    #[test]
    fn hand_computed_cases() {
        let s = Some;
        #[rustfmt::skip]
        let df = frame(&[
            // HDE: 10 + 1e6*8/(100*1000)=80 + 5 = 95; AMST: 1 + 2e6*8/(80*1000)=200 + 5 = 206; baseline: 2 + 160 + 5 = 167
            [s(10.0), s(1e6), s(1.0), s(2e6), s(80.0), s(2.0), s(2e6), s(100.0), s(5.0), s(0.5)],
            // AMST wins: its rate is much higher
            [s(10.0), s(1e6), s(1.0), s(1e6), s(1000.0), s(2.0), s(2e6), s(100.0), s(5.0), s(0.5)],
            // baseline wins: HDE and AMST did not run
            [None, None, None, s(1e6), s(1000.0), s(2.0), s(2e6), s(100.0), s(5.0), s(0.5)],
            // a tie between HDE and baseline goes to HDE
            [s(2.0), s(2e6), s(1.0), s(9e6), s(100.0), s(2.0), s(2e6), s(100.0), s(5.0), s(0.5)],
            // no engine can be estimated
            [s(10.0), s(1e6), s(1.0), s(2e6), s(80.0), s(2.0), s(2e6), s(100.0), None, s(0.5)],
        ]);
        let out = label_oracle(&df, 0.0).unwrap();
        let est: Vec<Option<f64>> = out
            .column("est_time_hde_ms")
            .unwrap()
            .f64()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(est[0], Some(95.0));
        assert_eq!(est[2], None);
        let expected = [Some("hde"), Some("amst"), Some("baseline"), Some("hde"), None];
        assert_eq!(labels(&out), expected.map(|l| l.map(str::to_string)));
    }

    #[test]
    fn cpu_weight_prefers_cheap_engines_on_busy_nodes() {
        let s = Some;
        // HDE 100 ms compressing saves sending time: 100 + 8 + 1 = 109 vs baseline 5 + 120 + 1 = 126
        let row = [
            s(100.0),
            s(1e5),
            None,
            None,
            None,
            s(5.0),
            s(1.5e6),
            s(100.0),
            s(1.0),
            s(0.9),
        ];
        let df = frame(&[row]);
        assert_eq!(
            labels(&label_oracle(&df, 0.0).unwrap()),
            [Some("hde".to_string())]
        );
        // weight 1 at 90% CPU: HDE 109 + 90 = 199 vs baseline 126 + 4.5 = 130.5
        let out = label_oracle(&df, 1.0).unwrap();
        assert_eq!(labels(&out), [Some("baseline".to_string())]);
        let est = out
            .column("est_time_baseline_ms")
            .unwrap()
            .f64()
            .unwrap()
            .get(0)
            .unwrap();
        assert!((est - 130.5).abs() < 1e-9);
    }

    #[test]
    fn absent_inputs_and_bad_weights_are_errors() {
        let df = df!("rtt_ms" => [1.0]).unwrap();
        assert!(label_oracle(&df, 0.0)
            .unwrap_err()
            .to_string()
            .contains("hde_compression_time_ms"));
        assert!(label_oracle(&df, -1.0)
            .unwrap_err()
            .to_string()
            .contains("cpu_weight"));
    }
}
