"""Profiles: dwcp_data.profile next to the per-column summaries Polars and pandas give.

Usage:
  python benchmarks/bench_profile.py              # 1M rows, median of 3
  python benchmarks/bench_profile.py --rows 10000000
  python benchmarks/bench_profile.py --folder-rows 100000000   # and a shard folder, out of core

With ``--folder-rows N``, N generated rows are also written as a shard folder
(``dwcp-data generate``, 5M rows a shard) and profiled from it in a fresh interpreter, one read
a block at a time: its wall time and peak memory (the target: 100M rows at
most 2 GiB).

Each side summarises the 33 columns of every row and per ``link_type``:
``dwcp_data.profile(df)`` (counts, nulls, NaN/inf, min, max, mean, variance,
histograms, text counts); Polars ``describe()`` over the whole frame and each
group; pandas ``describe(include="all")`` likewise. Polars and pandas give
less (no histograms, no NaN/inf counts): they are the floor, not the same work.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl

import dwcp_data

from _common import frame_arguments, generate_shards, measured, medians, print_table


def polars_summary(df: pl.DataFrame) -> list[pl.DataFrame]:
    return [df.describe()] + [part.describe() for _, part in df.group_by("link_type")]


def pandas_summary(pdf) -> list:  # type: ignore[no-untyped-def]
    return [pdf.describe(include="all")] + [
        part.describe(include="all") for _, part in pdf.groupby("link_type", observed=True)
    ]


def folder_profile(rows: int) -> None:
    """``rows`` generated into a shard folder, then profiled from it in a fresh interpreter."""
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        folder = Path(tmp) / "shards"
        generated = generate_shards(folder, rows, "--shard-rows", "5000000")
        files = list(folder.glob("*.parquet"))
        size = sum(f.stat().st_size for f in files)
        code = (
            "import dwcp_data\n"
            f"found = dwcp_data.profile({str(folder)!r}, show_progress=False)\n"
            f"assert found.rows == {rows}, found.rows\n"
        )
        seconds, peak = measured(code)
    print(
        f"\nshard folder: {rows:,} rows in {len(files)} shards ({size / 1e9:.1f} GB, generated in "
        f"{generated:.0f} s): dwcp_data.profile {seconds:.1f} s ({rows / seconds / 1e6:.2f} M rows/s), "
        f"peak memory {peak:.2f} GiB"
    )


def main() -> None:
    args = frame_arguments(
        __doc__, repeat=3, more=lambda p: p.add_argument("--folder-rows", type=int, default=None)
    )
    df = dwcp_data.generate_synthetic(args.rows, seed=1, freq="1s")
    pdf = df.to_pandas()
    sides = [
        ("dwcp_data.profile (by link_type)", lambda: dwcp_data.profile(df)),
        ("Polars describe (whole + groups)", lambda: polars_summary(df)),
        ("pandas describe (whole + groups)", lambda: pandas_summary(pdf)),
    ]
    print_table("profile", medians(sides, args.repeat), ours=sides[0][0])
    if args.folder_rows:
        del df, pdf
        folder_profile(args.folder_rows)


if __name__ == "__main__":
    main()
