"""Profiles: dwcp_data.profile next to the per-column summaries Polars and pandas give.

Usage:
  python benchmarks/bench_profile.py              # 1M rows, median of 3
  python benchmarks/bench_profile.py --rows 10000000

Each side summarises the 33 columns of every row and per ``link_type``:
``dwcp_data.profile(df)`` (counts, nulls, NaN/inf, min, max, mean, variance,
histograms, text counts); Polars ``describe()`` over the whole frame and each
group; pandas ``describe(include="all")`` likewise. Polars and pandas give
less (no histograms, no NaN/inf counts): they are the floor, not the same work.
"""

from __future__ import annotations

import polars as pl

import dwcp_data

from _common import frame_arguments, medians, print_table


def polars_summary(df: pl.DataFrame) -> list[pl.DataFrame]:
    return [df.describe()] + [part.describe() for _, part in df.group_by("link_type")]


def pandas_summary(pdf) -> list:  # type: ignore[no-untyped-def]
    return [pdf.describe(include="all")] + [
        part.describe(include="all") for _, part in pdf.groupby("link_type", observed=True)
    ]


def main() -> None:
    args = frame_arguments(__doc__, repeat=3)
    df = dwcp_data.generate_synthetic(args.rows, seed=1, freq="1s")
    pdf = df.to_pandas()
    sides = [
        ("dwcp_data.profile (by link_type)", lambda: dwcp_data.profile(df)),
        ("Polars describe (whole + groups)", lambda: polars_summary(df)),
        ("pandas describe (whole + groups)", lambda: pandas_summary(pdf)),
    ]
    print_table("profile", medians(sides, args.repeat), ours=sides[0][0])


if __name__ == "__main__":
    main()
