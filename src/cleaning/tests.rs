use super::*;

fn options() -> Options {
    Options {
        dedupe: true,
        outlier_columns: vec!["x".into()],
        iqr_k: 1.5,
        by: None,
        impute_median: true,
    }
}

#[test]
fn duplicates_fences_and_imputation() {
    let df = df!(
        "x" => [Some(1.0), Some(2.0), Some(3.0), Some(4.0), Some(100.0), None, Some(2.0)],
        "y" => [Some(1i64), Some(2), Some(3), None, Some(5), Some(6), Some(2)],
    )
    .unwrap();
    let (out, report) = clean(&df, &options()).unwrap();
    // The last row duplicates row 1; 100 is above q3 + 1.5 IQR; the null x stays.
    assert_eq!(report.duplicates_removed, 1);
    assert_eq!(report.outliers[0].rows_removed, 1);
    let fence = &report.outliers[0].fences[0];
    // quartiles of [1, 2, 3, 4, 100]: 2 and 4
    assert_eq!(
        (fence.q1, fence.q3, fence.lower, fence.upper),
        (Some(2.0), Some(4.0), Some(-1.0), Some(7.0))
    );
    assert_eq!(out.height(), 5);
    let x: Vec<Option<f64>> = out.column("x").unwrap().f64().unwrap().iter().collect();
    assert_eq!(x, [Some(1.0), Some(2.0), Some(3.0), Some(4.0), Some(2.5)]);
    let y: Vec<Option<i64>> = out.column("y").unwrap().i64().unwrap().iter().collect();
    // median of [1, 2, 3, 6] = 2.5, rounded half to even
    assert_eq!(y, [Some(1), Some(2), Some(3), Some(2), Some(6)]);
    assert_eq!(report.imputed.len(), 2);
    assert_eq!(df.height(), 7, "the input is left as it was");
}

#[test]
fn fences_per_group() {
    let df = df!(
        "g" => ["a", "a", "a", "a", "b", "b", "b", "b"],
        "x" => [1.0, 2.0, 3.0, 50.0, 100.0, 101.0, 102.0, 103.0],
    )
    .unwrap();
    let pooled = clean(&df, &options()).unwrap().1;
    assert_eq!(pooled.outliers[0].rows_removed, 0);
    let by = Options {
        by: Some(vec!["g".into()]),
        ..options()
    };
    let (out, report) = clean(&df, &by).unwrap();
    assert_eq!(report.outliers[0].rows_removed, 1);
    assert_eq!(out.height(), 7);
    assert_eq!(
        report.kept_by_group[0],
        KeptShare {
            group: "g=a".into(),
            rows_in: 4,
            rows_out: 3
        }
    );
}

#[test]
fn degenerate_inputs() {
    let constant = df!("x" => [5.0, 5.0, 5.0, 6.0]).unwrap();
    let (out, _) = clean(
        &constant,
        &Options {
            dedupe: false,
            ..options()
        },
    )
    .unwrap();
    assert_eq!(out.height(), 3, "IQR 0 keeps only the constant");

    let empty = df!("x" => Vec::<f64>::new()).unwrap();
    let (out, report) = clean(&empty, &options()).unwrap();
    assert_eq!((out.height(), report.outliers[0].fences[0].q1), (0, None));

    let all_null = df!("x" => [None::<f64>, None]).unwrap();
    let (out, report) = clean(
        &all_null,
        &Options {
            dedupe: false,
            ..options()
        },
    )
    .unwrap();
    assert_eq!(out.height(), 2);
    assert_eq!(report.imputed[0].value, None);

    let err = clean(
        &constant,
        &Options {
            outlier_columns: vec!["nope".into()],
            ..options()
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("`nope`"), "{err}");
    let text = df!("x" => ["a"]).unwrap();
    assert!(clean(&text, &options())
        .unwrap_err()
        .to_string()
        .contains("numeric"));
}

#[test]
fn cancelled_cleaning_stops_with_interrupted() {
    let df = df!("x" => [1.0, 2.0, 3.0]).unwrap();
    let out = crate::cancel::within(crate::cancel::Token::cancelled(), || clean(&df, &options()));
    assert!(matches!(out, Err(DwcpError::Interrupted)));
}
