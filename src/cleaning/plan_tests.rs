//! The plan driven block by block, as the Python drivers do, against the
//! in-memory `clean` of the same rows.

use polars::prelude::*;

use super::*;
use crate::cleaning::{clean, fence, FenceCounts};
use crate::partial::rank::{shard_partials, Partial};

/// Rows with nulls, ties and heavy tails; `g` groups them (first seen: b, a, c).
fn rows() -> DataFrame {
    let n = 2_000usize;
    let x: Vec<Option<f64>> = (0..n)
        .map(|i| {
            (i % 13 != 4).then(|| ((i * 7919) % 1000) as f64 / 10.0 + if i % 97 == 0 { 1e4 } else { 0.0 })
        })
        .collect();
    let y: Vec<Option<i64>> = (0..n)
        .map(|i| (i % 11 != 2).then(|| ((i * 104_729) % 5000) as i64 - if i % 89 == 0 { 90_000 } else { 0 }))
        .collect();
    let g: Vec<Option<&str>> = (0..n)
        .map(|i| match i % 7 {
            0 | 3 => Some("b"),
            1 | 5 => Some("a"),
            6 => None,
            _ => Some("c"),
        })
        .collect();
    df!("x" => x, "y" => y, "g" => g).unwrap()
}

/// Each row's group id in order of first appearance, and the keys, one row per id.
fn first_seen(df: &DataFrame, by: &str) -> (Vec<u32>, DataFrame) {
    let keys = df.column(by).unwrap().cast(&DataType::String).unwrap();
    let keys = keys.str().unwrap();
    let mut seen: Vec<Option<String>> = Vec::new();
    let ids = keys
        .iter()
        .map(|k| {
            let k = k.map(str::to_string);
            let id = seen.iter().position(|s| *s == k).unwrap_or_else(|| {
                seen.push(k.clone());
                seen.len() - 1
            });
            id as u32
        })
        .collect();
    let table = df!(by => seen).unwrap();
    (ids, table)
}

/// `clean` of `df` (no duplicates in it) block by block through a [`Plan`].
fn clean_in_blocks(df: &DataFrame, options: &Options, block: usize) -> CleaningReport {
    let n = df.height();
    let (gids, groups) = match &options.by {
        Some(by) => {
            let (ids, table) = first_seen(df, &by[0]);
            (ids, GroupOrder::of(&table, by).unwrap())
        }
        None => (vec![0; n], GroupOrder::pooled()),
    };
    let n_groups = gids.iter().max().map_or(1, |m| *m as usize + 1);
    let nulls: PlHashMap<String, u64> = df
        .columns()
        .iter()
        .map(|c| (c.name().to_string(), c.null_count() as u64))
        .collect();
    let mut plan = Plan::new(options.clone(), &df.clear(), &nulls, groups, None).unwrap();
    let mut keep = vec![true; n];
    while let Some(pass) = plan.next_pass() {
        let FenceCounts { judged, removed } = match &pass.fence {
            Some(fence) => {
                let values = df
                    .column(&fence.column)
                    .unwrap()
                    .cast(&DataType::Float64)
                    .unwrap();
                let values: Vec<Option<f64>> = values.f64().unwrap().iter().collect();
                let present: Vec<bool> = values.iter().map(Option::is_some).collect();
                let values: Vec<f64> = values.iter().map(|v| v.unwrap_or(0.0)).collect();
                fence::apply(&values, Some(&present), Some(&gids), &fence.bounds, &mut keep)
            }
            None => FenceCounts {
                judged: vec![0; n_groups],
                removed: vec![0; n_groups],
            },
        };
        let mask = BooleanChunked::from_slice("keep".into(), &keep);
        let (mut partials, mut nulls) = (Vec::new(), Vec::new());
        for (column, probes) in &pass.probes {
            let values = df.column(column).unwrap().cast(&DataType::Float64).unwrap();
            let values = values.f64().unwrap().filter(&mask).unwrap();
            let ids = if pass.grouped { gids.clone() } else { vec![0; n] };
            let ids = UInt32Chunked::from_vec("g".into(), ids).filter(&mask).unwrap();
            let mut merged: Option<Vec<Partial>> = None;
            for start in (0..values.len().max(1)).step_by(block) {
                let part = shard_partials(
                    &values.slice(start as i64, block),
                    Some(&ids.slice(start as i64, block)),
                    probes,
                )
                .unwrap();
                merged = Some(match merged {
                    None => part,
                    Some(mut m) => {
                        m.iter_mut().zip(&part).for_each(|(a, b)| a.merge(b).unwrap());
                        m
                    }
                });
            }
            partials.push(merged.unwrap());
            nulls.push(values.null_count() as u64);
        }
        plan.take(Scan {
            partials,
            nulls,
            judged,
            removed,
        })
        .unwrap();
    }
    let count = |rows: &mut dyn Iterator<Item = usize>| {
        let mut per = vec![0u64; n_groups];
        rows.for_each(|r| per[gids[r] as usize] += 1);
        RowCounts {
            total: per.iter().sum(),
            groups: per,
            links: Vec::new(),
        }
    };
    let rows_in = count(&mut (0..n));
    let rows_out = count(&mut (0..n).filter(|&r| keep[r]));
    plan.report(0, &rows_in, &rows_out).unwrap()
}

fn options(by: Option<&str>, impute: bool) -> Options {
    Options {
        dedupe: false,
        outlier_columns: vec!["x".into(), "y".into()],
        iqr_k: 1.5,
        by: by.map(|b| vec![b.to_string()]),
        impute_median: impute,
    }
}

#[test]
fn block_by_block_gives_the_in_memory_report() {
    let df = rows();
    for (by, impute) in [(None, true), (Some("g"), true), (Some("g"), false)] {
        let options = options(by, impute);
        let (_, expected) = clean(&df, &options).unwrap();
        for block in [150, 777, 5_000] {
            assert_eq!(
                clean_in_blocks(&df, &options, block),
                expected,
                "{by:?} {impute} {block}"
            );
        }
    }
}

#[test]
fn the_columns_are_checked_as_in_memory() {
    let df = rows();
    let nulls = PlHashMap::new();
    for (column, by) in [("absent", None), ("g", None), ("x", Some("absent"))] {
        let mut options = options(by, true);
        options.outlier_columns = vec![column.into()];
        let in_memory = clean(&df, &options).unwrap_err().to_string();
        let planned = Plan::new(options, &df.clear(), &nulls, GroupOrder::pooled(), None)
            .unwrap_err()
            .to_string();
        assert_eq!(planned, in_memory);
    }
}

#[test]
fn results_of_another_pass_and_early_reports_are_refused() {
    let df = rows();
    let nulls = PlHashMap::new();
    let mut plan = Plan::new(
        options(None, true),
        &df.clear(),
        &nulls,
        GroupOrder::pooled(),
        None,
    )
    .unwrap();
    assert!(plan
        .report(0, &RowCounts::default(), &RowCounts::default())
        .is_err());
    assert!(plan
        .take(Scan {
            partials: vec![],
            nulls: vec![],
            judged: vec![0],
            removed: vec![0]
        })
        .is_err());
    plan.next_pass().unwrap();
    let wrong = Scan {
        partials: vec![],
        nulls: vec![],
        judged: vec![0],
        removed: vec![0],
    };
    assert!(plan.take(wrong).is_err());
}
