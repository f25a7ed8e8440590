"""The ``dwcp-data`` command.

Exit codes: 0 success, 2 bad usage or bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from datetime import datetime

from dwcp_data.errors import DwcpDataError
from dwcp_data.generator import generate_synthetic
from dwcp_data.io import write_training_data

EXIT_OK = 0
EXIT_BAD_INPUT = 2


def _iso_datetime(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 datetime: {text!r}") from exc


def _cmd_generate(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    df = generate_synthetic(args.rows, args.seed, end=args.end, freq=args.freq)
    path = write_training_data(df, args.out)
    summary = {"rows": df.height, "out": str(path), "seconds": round(time.perf_counter() - started, 3)}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"wrote {summary['rows']:,} synthetic rows to {summary['out']} in {summary['seconds']} s")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``dwcp-data``."""
    parser = argparse.ArgumentParser(prog="dwcp-data", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="generate synthetic training data (design document §6.1)")
    gen.add_argument("-n", "--rows", type=int, default=100_000, help="number of rows (default 100000)")
    gen.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    gen.add_argument("--end", type=_iso_datetime, default=None, help="last timestamp, ISO 8601 (default now)")
    gen.add_argument("--freq", default="1h", help="step between rows, e.g. 1h, 15m (default 1h)")
    gen.add_argument("--out", required=True, help="output file: .parquet or .csv")
    gen.add_argument("--json", action="store_true", help="print a JSON summary")
    gen.set_defaults(func=_cmd_generate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except DwcpDataError as exc:
        print(f"dwcp-data: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
