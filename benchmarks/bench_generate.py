"""Synthetic generation: dwcp_data vs the design document's pandas generator vs numpy + Polars.

Usage: python benchmarks/bench_generate.py [--rows N] [--repeat K]
"""

from __future__ import annotations

import argparse

import polars as pl

import dwcp_data

from _common import machine, median_seconds, print_table
from reference import numpy_polars_generate, pandas_generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-pandas", action="store_true", help="leave out the slow pandas reference")
    args = parser.parse_args()
    n = args.rows
    print(f"{machine()}; polars {pl.__version__}; {n:,} rows, median of {args.repeat}")

    rows = [
        ("dwcp_data.generate_synthetic", median_seconds(lambda: dwcp_data.generate_synthetic(n), args.repeat))
    ]
    rows.append(("numpy + Polars (idiomatic)", median_seconds(lambda: numpy_polars_generate(n), args.repeat)))
    if not args.skip_pandas:
        rows.append(("pandas (design doc §6.1)", median_seconds(lambda: pandas_generate(n), args.repeat)))
    print_table("generate", rows, ours="dwcp_data.generate_synthetic")


if __name__ == "__main__":
    main()
