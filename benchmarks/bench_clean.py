"""Cleaning: dwcp_data.clean vs §5.2's pandas function vs idiomatic Polars.

Usage: python benchmarks/bench_clean.py [--rows N] [--repeat K]

The input has 1% exact duplicates and 1% nulls in two columns, so that every
step (dedupe, three IQR fences, imputation) does real work.
"""

from __future__ import annotations

import polars as pl

import dwcp_data

from _common import frame_arguments, medians, print_table
from reference import pandas_clean, polars_clean


def dirty(n: int) -> pl.DataFrame:
    """``n`` synthetic rows with duplicates and nulls."""
    df = dwcp_data.generate_synthetic(n - n // 100, seed=3, freq="1m")
    df = pl.concat([df, df.sample(n // 100, seed=4)])
    null = pl.int_range(pl.len()) % 100 == 7
    return df.with_columns(
        pl.when(null).then(None).otherwise(pl.col("rtt_ms")).alias("rtt_ms"),
        pl.when(null).then(None).otherwise(pl.col("jitter_ms")).alias("jitter_ms"),
    )


def main() -> None:
    args = frame_arguments(__doc__, repeat=3)
    df = dirty(args.rows)
    pdf = df.to_pandas()
    ours = dwcp_data.clean(df)
    assert ours.equals(polars_clean(df)), "the implementations disagree"
    sides = [
        ("dwcp_data.clean", lambda: dwcp_data.clean(df)),
        ("dwcp_data.clean(by='link_type')", lambda: dwcp_data.clean(df, by="link_type")),
        ("Polars (unique/quantile/filter)", lambda: polars_clean(df)),
        ("pandas (design doc §5.2)", lambda: pandas_clean(pdf)),
    ]
    rows = medians(sides, args.repeat)
    print_table("clean", rows, ours="dwcp_data.clean")


if __name__ == "__main__":
    main()
