use super::*;
use crate::generator::{generate, Config};

fn options(profile: Profile) -> Options {
    Options {
        profile,
        min_rows: 10,
        max_missing_fraction: 0.1,
        min_class_share: 0.05,
        now_us: i64::MAX,
        max_examples: 5,
    }
}

fn generated(n: usize) -> DataFrame {
    generate(&Config {
        n,
        seed: 3,
        end_us: 1_763_123_696_000_000,
        freq_us: 3_600_000_000,
    })
    .unwrap()
}

fn find<'a>(results: &'a [RuleResult], rule: &str, column: Option<&str>) -> &'a RuleResult {
    results
        .iter()
        .find(|r| r.rule == rule && (column.is_none() || r.column.as_deref() == column))
        .unwrap_or_else(|| panic!("no result for {rule}"))
}

#[test]
fn generated_data_passes_both_profiles() {
    let df = generated(5000);
    for profile in [Profile::Document, Profile::Strict] {
        let results = validate(&df, &options(profile)).unwrap();
        let failed: Vec<_> = results.iter().filter(|r| !r.passed).collect();
        assert!(failed.is_empty(), "{profile:?}: {failed:#?}");
    }
}

#[test]
fn range_rule_reports_count_and_first_rows() {
    let mut df = generated(100);
    let mut rtt: Vec<f64> = df
        .column("rtt_ms")
        .unwrap()
        .f64()
        .unwrap()
        .into_no_null_iter()
        .collect();
    rtt[3] = 1000.0;
    rtt[7] = -0.1;
    rtt[9] = f64::NAN;
    df.with_column(Column::new("rtt_ms".into(), rtt)).unwrap();
    let results = validate(&df, &options(Profile::Document)).unwrap();
    let r = find(&results, "rtt_ms_range", None);
    assert!(!r.passed);
    assert_eq!((r.failing_rows, r.examples.clone()), (3, vec![3, 7, 9]));
}

#[test]
fn absent_columns_fail_the_rules_that_need_them() {
    let df = generated(100).drop("rtt_ms").unwrap();
    let results = validate(&df, &options(Profile::Document)).unwrap();
    assert!(!find(&results, "required_columns", None).passed);
    let r = find(&results, "rtt_ms_range", None);
    assert_eq!(r.observed, Observed::Text("column `rtt_ms` is absent".into()));
}

/// `df` with `names` replaced by all-null columns of their types, as an export
/// from a server that never stored them gives.
fn without_values(mut df: DataFrame, names: &[&str]) -> DataFrame {
    for name in names {
        let column = df.column(name).unwrap();
        let nulls = Column::full_null((*name).into(), df.height(), column.dtype());
        df.with_column(nulls).unwrap();
    }
    df
}

#[test]
fn columns_the_collector_never_writes_are_absent_not_missing() {
    let collector = ["node_id", "peer_id", "active_transfers", "hde_throughput_mbps"];
    let df = without_values(generated(100), &collector);
    let document = validate(&df, &options(Profile::Document)).unwrap();
    let failed: Vec<_> = document.iter().filter(|r| !r.passed).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    let r = find(&document, "missing_values", Some("node_id"));
    assert_eq!(
        r.observed,
        Observed::Text("absent: the column has no values".into())
    );

    let strict = validate(&df, &options(Profile::Strict)).unwrap();
    let r = find(&strict, "schema_columns", None);
    assert!(!r.passed);
    assert_eq!(
        r.observed,
        Observed::Text(
            "absent: node_id (no values), peer_id (no values), active_transfers (no values), \
             hde_throughput_mbps (no values)"
                .into()
        )
    );
    assert!(!find(&strict, "missing_values", Some("node_id")).passed);
}

#[test]
fn a_required_column_without_values_fails() {
    let df = without_values(generated(100), &["rtt_ms"]);
    let results = validate(&df, &options(Profile::Document)).unwrap();
    let r = find(&results, "required_columns", None);
    assert_eq!(r.observed, Observed::Text("absent: rtt_ms (no values)".into()));
    let r = find(&results, "rtt_ms_range", None);
    assert!(!r.passed);
    assert_eq!(r.observed, Observed::Text("column `rtt_ms` has no values".into()));
}

#[test]
fn empty_frame_is_a_report() {
    let df = generated(0);
    let results = validate(&df, &options(Profile::Strict)).unwrap();
    assert!(!find(&results, "min_rows", None).passed);
    assert!(find(&results, "rtt_ms_range", None).passed);
}

#[test]
fn duplicate_pairs_are_found_after_the_fast_path() {
    let df = generated(50);
    let twice = df.vstack(&df.slice(10, 3)).unwrap();
    let results = validate(&twice, &options(Profile::Strict)).unwrap();
    let r = find(&results, "unique_timestamp_per_pair", None);
    assert_eq!((r.failing_rows, r.examples.clone()), (3, vec![50, 51, 52]));
}

#[test]
fn cancelled_validation_stops_with_interrupted() {
    let df = generated(100);
    let out = crate::cancel::within(crate::cancel::Token::cancelled(), || {
        validate(&df, &options(Profile::Strict))
    });
    assert!(matches!(out, Err(crate::error::DwcpError::Interrupted)));
}

#[test]
fn merged_shard_facts_give_the_whole_frames_results() {
    // Violations, nulls, a column without values in the first shards only,
    // NaN, and shards of unequal size (one empty).
    let mut df = without_values(generated(300), &["hde_throughput_mbps"]);
    let mut rtt: Vec<Option<f64>> = df.column("rtt_ms").unwrap().f64().unwrap().iter().collect();
    (rtt[3], rtt[150], rtt[299], rtt[7]) = (Some(1000.0), Some(-1.0), Some(f64::NAN), None);
    df.with_column(Column::new("rtt_ms".into(), rtt)).unwrap();
    let late = df.column("cpu_usage").unwrap().f64().unwrap().clone();
    let late: Float64Chunked = late
        .iter()
        .enumerate()
        .map(|(i, v)| v.filter(|_| i >= 200))
        .collect();
    df.with_column(late.with_name("cpu_usage".into()).into_column())
        .unwrap();
    for profile in [Profile::Document, Profile::Strict] {
        for keep in [1, 5, 1000] {
            let opts = Options {
                max_examples: keep,
                ..options(profile)
            };
            let whole = validate(&df, &opts).unwrap();
            let mut merged: Option<Facts> = None;
            for w in [0, 0, 120, 121, 300].windows(2) {
                let shard = super::facts(&df.slice(w[0] as i64, w[1] - w[0]), &opts).unwrap();
                // as if judged in another process
                let sent: Facts = serde_json::from_slice(&serde_json::to_vec(&shard).unwrap()).unwrap();
                assert_eq!(sent, shard);
                let shard = sent;
                merged = Some(match merged {
                    None => shard,
                    Some(m) => m.then(shard, keep).unwrap(),
                });
            }
            assert_eq!(
                super::results(&merged.unwrap(), &opts),
                whole,
                "{profile:?}, keep {keep}"
            );
        }
    }
}

#[test]
fn serialised_facts_name_only_schema_columns() {
    let facts = super::facts(&generated(10), &options(Profile::Strict)).unwrap();
    let text = String::from_utf8(serde_json::to_vec(&facts).unwrap()).unwrap();
    assert!(text.contains(r#""name":"rtt_ms","fits":true"#));
    let forged = text.replace(r#""name":"rtt_ms","fits""#, r#""name":"no_such","fits""#);
    let err = serde_json::from_str::<Facts>(&forged).unwrap_err();
    assert!(
        err.to_string().contains("`no_such` is not a schema column"),
        "{err}"
    );
}

#[test]
fn shards_with_other_columns_do_not_merge() {
    let opts = options(Profile::Document);
    let a = super::facts(&generated(10), &opts).unwrap();
    let b = super::facts(&generated(10).drop("rtt_ms").unwrap(), &opts).unwrap();
    assert!(a.then(b, 5).is_err());
}
