"""A landing folder of many small shards: the out-of-core stages' cost per file, next to DuckDB on the same folder.

Usage:
  pip install ".[bench]" && python benchmarks/bench_small_shards.py            # 10,000 shards of 5 rows
  python benchmarks/bench_small_shards.py --shards 24000 --rows 360            # a day of a 1,000-node fleet

The collector writes a file per node per hour. Each side runs in a fresh
interpreter on the same folder:

* ``in memory``: ``clean(read_training_data(folder))``: the rows' own cost;
* ``validate_dataset`` and ``clean_dataset`` (out of core, local engine);
* ``duckdb read``: ``SELECT count(*)`` over ``read_parquet`` of the folder
  with ``filename`` and ``file_row_number`` (what reading the files costs it);
* ``duckdb clean``: §5.2's cleaning in DuckDB's SQL (the query of
  ``bench_scale.py --duckdb``).

``per file`` is each side's wall time over the number of shards: the budget is
2 ms a file for the stages (this package's issue #33).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench_scale import DUCKDB, run

from _common import machine

IN_MEMORY = """
import dwcp_data
dwcp_data.clean(dwcp_data.read_training_data({src!r}))
"""

VALIDATE = """
import dwcp_data
dwcp_data.validate_dataset({src!r})
"""

CLEAN = """
import dwcp_data
dwcp_data.clean_dataset({src!r}, {out!r} + "/clean")
"""

DUCKDB_READ = """
import duckdb
duckdb.sql("SELECT count(*) FROM read_parquet('{src}/*.parquet', filename=true, file_row_number=true)").fetchall()
"""

WRITE = """
import dwcp_data, pathlib
df = dwcp_data.generate_synthetic({shards} * {rows}, seed=1, freq="1s")
folder = pathlib.Path({src!r})
folder.mkdir()
for i in range({shards}):
    df.slice(i * {rows}, {rows}).write_parquet(folder / f"part-{{i:06d}}.parquet")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--shards", type=int, default=10_000, help="how many shard files")
    parser.add_argument("--rows", type=int, default=5, help="rows per shard")
    parser.add_argument(
        "--work", default=None, help="folder for shards and outputs (default: a temporary one)"
    )
    args = parser.parse_args()
    print(f"{machine()}; {args.shards:,} shards of {args.rows:,} rows")
    print(f"{'side':<18}{'seconds':>9}{'per file ms':>13}{'peak GiB':>10}")
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        src = Path(tmp) / "landing"
        written = run(WRITE.format(src=str(src), shards=args.shards, rows=args.rows))
        assert "failed" not in written, written
        sides = {
            "in memory": IN_MEMORY,
            "validate_dataset": VALIDATE,
            "clean_dataset": CLEAN,
            "duckdb read": DUCKDB_READ,
            "duckdb clean": DUCKDB,
        }
        seconds = {}
        for n, (side, code) in enumerate(sides.items()):
            out = Path(tmp) / f"out-{n}"
            out.mkdir()
            result = run(code.format(src=str(src), out=str(out)))
            note = f"  FAILED: {result['failed']}" if "failed" in result else ""
            seconds[side] = result["seconds"]
            per_file = result["seconds"] / args.shards * 1e3
            print(
                f"{side:<18}{result['seconds']:>9.2f}{per_file:>13.3f}{result['peak_gib']:>10.2f}{note}",
                flush=True,
            )
        for side in ("validate_dataset", "clean_dataset"):
            print(f"{side} / duckdb clean: {seconds[side] / seconds['duckdb clean']:.2f}")


if __name__ == "__main__":
    main()
