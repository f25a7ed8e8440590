"""The whole pipeline at scale: time per stage and peak memory.

Usage:
  python benchmarks/bench_pipeline.py                       # 10M synthetic rows through every stage
  python benchmarks/bench_pipeline.py --shards 100000000    # 100M rows streamed to Parquet shards

Each measurement runs in a fresh interpreter so that its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

from _common import machine

PIPELINE = """
import json, resource, time, dwcp_data
t0 = time.perf_counter()
result = dwcp_data.run_pipeline(out={out!r}, rows={rows}, seed=1, freq="1m")
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({{"stages": result.report["stages"], "seconds": time.perf_counter() - t0, "peak": peak}}))
"""

SHARDS = """
import json, resource, subprocess, sys, time
t0 = time.perf_counter()
subprocess.run([sys.executable, "-m", "dwcp_data", "generate", "-n", "{rows}", "--freq", "1m", "--shard-rows", "{shard}",
                "--out", {out!r}, "--no-progress", "--json"], check=True, stdout=subprocess.DEVNULL)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
print(json.dumps({{"seconds": time.perf_counter() - t0, "peak": peak}}))
"""


def run(code: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument(
        "--shards",
        type=int,
        default=None,
        metavar="ROWS",
        help="instead: stream ROWS synthetic rows to Parquet shards",
    )
    parser.add_argument("--shard-rows", type=int, default=5_000_000)
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        if args.shards:
            m = run(SHARDS.format(rows=args.shards, shard=args.shard_rows, out=f"{tmp}/shards"))
            print(
                f"\n{args.shards:,} rows in shards of {args.shard_rows:,}: {m['seconds']:.1f} s, "
                f"peak RSS {m['peak'] / 2**30:.2f} GiB"
            )
            return
        m = run(PIPELINE.format(rows=args.rows, out=f"{tmp}/training.parquet"))
    print(f"\npipeline on {args.rows:,} synthetic rows")
    print(f"{'stage':<20}{'rows':>14}{'seconds':>10}")
    for s in m["stages"]:
        print(f"{s['stage']:<20}{s['rows']:>14,}{s['seconds']:>10.2f}")
    print(f"{'total':<20}{'':>14}{m['seconds']:>10.2f}   peak RSS {m['peak'] / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
