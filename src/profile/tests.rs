use super::*;

fn frame() -> DataFrame {
    df!(
        "link_type" => ["dc", "wan", "dc", "wan", "dc", "metro"],
        "rtt_ms" => [Some(1.0), Some(10.0), None, Some(f64::NAN), Some(3.0), Some(f64::INFINITY)],
        "region" => [Some("a"), Some("b"), Some("a"), None, Some("c"), Some("a")],
    )
    .unwrap()
}

#[test]
fn figures_of_a_block() {
    let p = Profile::of(&frame(), &[]).unwrap();
    let rtt = &p.all["rtt_ms"];
    assert_eq!((rtt.rows, rtt.nulls), (6, 1));
    let n = rtt.numeric.as_ref().unwrap();
    assert_eq!((n.nan, n.pos_inf, n.neg_inf, n.count), (1, 1, 0, 3));
    assert_eq!((n.min, n.max), (Some(1.0), Some(10.0)));
    assert!((n.mean - 14.0 / 3.0).abs() < 1e-12);
    assert!((n.variance().unwrap() - 67.0 / 3.0).abs() < 1e-12); // (1, 3, 10): mean 14/3, s² 67/3
    assert_eq!(n.bins.values().sum::<u64>(), 3);
    let region = &p.all["region"];
    let counts = region.counts.as_ref().unwrap();
    assert_eq!(
        (counts["a"], counts["b"], counts["c"], region.nulls),
        (3, 1, 1, 1)
    );
}

#[test]
fn blocks_merged_equal_the_whole_per_group() {
    let df = frame();
    let by = ["link_type".to_string()];
    let whole = Profile::of(&df, &by).unwrap();
    for cut in 0..=df.height() {
        let mut merged = Profile::of(&df.slice(0, cut), &by).unwrap();
        merged.merge(&Profile::of(&df.slice(cut as i64, df.height()), &by).unwrap());
        assert_eq!(merged.groups.keys().collect::<Vec<_>>(), ["dc", "metro", "wan"]);
        for (group, columns) in &whole.groups {
            for (name, column) in columns {
                let got = &merged.groups[group][name];
                assert_eq!(
                    (got.rows, got.nulls, &got.counts),
                    (column.rows, column.nulls, &column.counts)
                );
                if let (Some(a), Some(b)) = (&got.numeric, &column.numeric) {
                    assert_eq!(
                        (a.count, a.nan, a.pos_inf, a.min, a.max, &a.bins),
                        (b.count, b.nan, b.pos_inf, b.min, b.max, &b.bins)
                    );
                    assert!((a.mean - b.mean).abs() < 1e-12 && (a.m2 - b.m2).abs() < 1e-9);
                }
            }
        }
    }
}

#[test]
fn bins_bound_their_values_and_keep_their_order() {
    for x in [1e-300, 0.1, 1.0, 1.5, 3.0, 1e6, -2.5, -1e-9, 0.0, -0.0] {
        let (lo, hi) = bin_range(bin_of(x));
        assert!(lo <= x && x <= hi, "{x} in [{lo}, {hi}]");
        assert!(x == 0.0 || (hi - lo).abs() <= x.abs() * 2f64.powi(-(MANTISSA_BITS as i32)));
    }
    assert!(bin_of(1.0) < bin_of(1.1) && bin_of(-1.0) < bin_of(0.5));
}

#[test]
fn many_distinct_values_drop_their_counts_whatever_the_merge_order() {
    let values: Vec<String> = (0..MAX_CATEGORIES + 1).map(|i| format!("v{i}")).collect();
    let df = df!("s" => values).unwrap();
    let half = df.height() / 2;
    let (a, b) = (
        Profile::of(&df.slice(0, half), &[]).unwrap(),
        Profile::of(&df.slice(half as i64, df.height()), &[]).unwrap(),
    );
    assert!(a.all["s"].counts.is_some() && b.all["s"].counts.is_some());
    let (mut ab, mut ba) = (a.clone(), b.clone());
    ab.merge(&b);
    ba.merge(&a);
    assert!(ab.all["s"].counts.is_none() && ba.all["s"].counts.is_none());
    assert_eq!(ab.all["s"].rows, MAX_CATEGORIES as u64 + 1);
}
