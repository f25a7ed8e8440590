"""Validation: dwcp_data.validate (full report) vs §5.1's pandas function vs idiomatic Polars.

Usage: python benchmarks/bench_validate.py [--rows N] [--repeat K]
"""

from __future__ import annotations

import pandas as pd
import polars as pl

import dwcp_data

from _common import frame_arguments, medians, print_table

#: The columns §5.1 requires.
# fmt: off
REQUIRED = ["timestamp", "data_size_bytes", "rtt_ms", "available_bandwidth_mbps",
            "hde_compression_ratio", "amst_transfer_rate_mbps", "baseline_compression_ratio"]
# fmt: on


def validate_pandas(df: pd.DataFrame) -> bool:
    """§5.1 of the design document, as written."""
    checks = []
    checks.append(all(col in df.columns for col in REQUIRED))
    missing_pct = df.isnull().sum() / len(df)
    checks.append((missing_pct < 0.1).all())
    checks.append((df["rtt_ms"] >= 0).all())
    checks.append((df["rtt_ms"] < 1000).all())
    checks.append((df["available_bandwidth_mbps"] > 0).all())
    checks.append((df["cpu_usage"] >= 0).all() and (df["cpu_usage"] <= 1).all())
    checks.append((df["hde_compression_ratio"] >= 1).all())
    checks.append((df["hde_compression_ratio"] < 1000).all())
    checks.append(len(df) >= 10000)
    if "current_compression" in df.columns:
        class_dist = df["current_compression"].value_counts(normalize=True)
        checks.append((class_dist > 0.05).all())
    return all(checks)


def validate_polars(df: pl.DataFrame) -> bool:
    """The same checks as idiomatic Polars expressions, in one select."""
    if not all(c in df.columns for c in REQUIRED):
        return False
    out = df.select(
        pl.max_horizontal(pl.all().null_count() / pl.len()).alias("max_missing"),
        pl.col("rtt_ms").is_between(0, 1000, closed="left").all().alias("rtt"),
        (pl.col("available_bandwidth_mbps") > 0).all().alias("bw"),
        pl.col("cpu_usage").is_between(0, 1).all().alias("cpu"),
        pl.col("hde_compression_ratio").is_between(1, 1000, closed="left").all().alias("hde"),
        (pl.col("current_compression").value_counts(normalize=True).struct.field("proportion") > 0.05)
        .all()
        .alias("classes"),
    ).row(0, named=True)
    return (
        out["max_missing"] < 0.1
        and out["rtt"]
        and out["bw"]
        and out["cpu"]
        and out["hde"]
        and out["classes"]
        and df.height >= 10_000
    )


def main() -> None:
    args = frame_arguments(__doc__, repeat=5)
    df = dwcp_data.generate_synthetic(args.rows, seed=1, freq="1m")
    pdf = df.to_pandas()
    assert dwcp_data.validate(df).passed and validate_polars(df) and validate_pandas(pdf)
    rows = medians(
        [
            ("dwcp_data.validate (document)", lambda: dwcp_data.validate(df)),
            ("dwcp_data.validate (strict)", lambda: dwcp_data.validate(df, profile="strict")),
            ("Polars expressions (bool only)", lambda: validate_polars(df)),
            ("pandas (design doc §5.1)", lambda: validate_pandas(pdf)),
        ],
        args.repeat,
    )
    print_table("validate", rows, ours="dwcp_data.validate (document)")


if __name__ == "__main__":
    main()
