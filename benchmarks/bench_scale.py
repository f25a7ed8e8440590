"""Data sets larger than memory: the pipeline shard by shard, next to the in-memory pipeline and Polars' streaming engine.

Usage:
  python benchmarks/bench_scale.py                      # 10M rows (all three sides) and the equality check
  python benchmarks/bench_scale.py --rows 100000000     # also the out-of-core pipeline at 100M
  python benchmarks/bench_scale.py --rows 100000000 --peer-at-scale   # and Polars' there too
  python benchmarks/bench_scale.py --rounds 3           # in memory and out of core taking turns, 3 each
  python benchmarks/bench_scale.py --small 20000000 --rounds 1 --no-peer   # equality checked at 20M
  python benchmarks/bench_scale.py --ray --no-peer --rows 100000000   # the Ray engine at 10M and 100M
  pip install ".[bench]" && python benchmarks/bench_scale.py --duckdb --no-peer   # cleaning only: DuckDB's SQL

Shards come from ``dwcp-data generate --shard-rows 5000000``. Each side runs in a
fresh interpreter, so its peak RSS is its own:

* ``in memory``: ``run_pipeline(folder, "out.parquet")``: read, validate, clean,
  label, validate, write one Parquet file;
* ``out of core``: ``run_pipeline(folder, "out_dir")``, as ``dwcp-data pipeline
  --source DIR --out DIR`` runs it: the same stages shard by shard;
* ``polars streaming`` (the peer, cleaning only: Polars has no validation or
  oracle): §5.2's steps written with Polars' lazy API and streaming engine:
  ``scan_parquet`` … ``unique(maintain_order=True)``, the fences from streamed
  quantiles of the survivors, medians, ``sink_parquet``;
* ``ray`` (``--ray``): ``run_pipeline(folder, "out_dir", engine="ray")`` on a
  local Ray of 2 CPUs: one task per shard and pass; its driver's and workers'
  CPU time and peak RSS (workers sampled every 0.2 s), and its output checked
  to equal the out-of-core one;
* ``duckdb`` (``--duckdb``, cleaning only, next to ``clean out of core``:
  ``clean_dataset(folder, dir)``): the same cleaning in DuckDB's SQL, out of
  core too (3 GB memory limit, 2 threads, spilling to a temporary folder):
  ``read_parquet`` with ``file_row_number`` for the data set's order, the first
  of each set of equal rows (``row_number() OVER (PARTITION BY`` every column),
  ``quantile_cont`` fences on the survivors one column after the other,
  ``median`` fills (one query a column: DuckDB's median does not spill). Its
  output is checked to equal ``clean_dataset``'s.

At the smaller size the out-of-core output is checked to equal the in-memory one.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import generate_shards, machine

SHARD_ROWS = 5_000_000

IN_MEMORY = """
import dwcp_data
assert dwcp_data.run_pipeline({src!r}, {out!r} + "/labelled.parquet").passed
"""

OUT_OF_CORE = """
import dwcp_data
assert dwcp_data.run_pipeline({src!r}, {out!r} + "/labelled", show_progress=False).passed
"""

ON_RAY = """
import json, resource, threading, time
import psutil, ray
import dwcp_data

ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
         object_store_memory=4 << 30, logging_level="warning", log_to_driver=False)
workers, stop = {{}}, threading.Event()

def watch():  # each Ray worker's peak RSS and last CPU time, and their peak total RSS
    peak_total = 0
    while not stop.is_set():
        total = 0
        for p in psutil.process_iter(["pid", "cmdline", "memory_info", "cpu_times"]):
            if (p.info["cmdline"] or [""])[0].startswith("ray::"):
                rss, cpu = p.info["memory_info"].rss, sum(p.info["cpu_times"][:2])
                old = workers.get(p.info["pid"], (0, 0.0))
                workers[p.info["pid"]] = (max(old[0], rss), cpu)
                total += rss
        peak_total = max(peak_total, total)
        workers["total"] = (peak_total, 0.0)
        stop.wait(0.2)

threading.Thread(target=watch, daemon=True).start()
cpu0, t0 = time.process_time(), time.perf_counter()
result = dwcp_data.run_pipeline({src!r}, {out!r} + "/labelled", engine="ray")
assert result.passed
seconds, driver_cpu = time.perf_counter() - t0, time.process_time() - cpu0
stop.set()
total = workers.pop("total", (0, 0.0))[0]
stats = {{"seconds": seconds, "driver_cpu": driver_cpu, "worker_cpu": sum(c for _, c in workers.values()),
         "driver_peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
         "worker_peak_gib": max((r for r, _ in workers.values()), default=0) / 2**30,
         "workers_peak_total_gib": total / 2**30, "workers": len(workers),
         "blocks": len(result.report["source"]["files"])}}
json.dump(stats, open({out!r} + "/ray-stats.json", "w"))
ray.shutdown()
"""

CLEAN_OUT_OF_CORE = """
import dwcp_data
dwcp_data.clean_dataset({src!r}, {out!r} + "/clean")
"""

DUCKDB = """
import duckdb, polars as pl, pathlib
shard = sorted(pathlib.Path({src!r}).glob("*.parquet"))[0]
schema = pl.read_parquet_schema(shard)
tmp = pathlib.Path({out!r}) / "duckdb-tmp"
con = duckdb.connect(config={{"memory_limit": "3GB", "threads": 2, "temp_directory": str(tmp)}})
q = lambda c: '"' + c + '"'
cols = ", ".join(f"CASE WHEN isnan({{q(c)}}) THEN NULL ELSE {{q(c)}} END AS {{q(c)}}" if t == pl.Float64 else q(c)
                 for c, t in schema.items())
con.execute(f"CREATE TABLE t AS SELECT {{cols}}, filename AS _f, file_row_number AS _r "
            f"FROM read_parquet('{src}/*.parquet', filename=true, file_row_number=true)")
every = ", ".join(q(c) for c in schema)
con.execute(f"CREATE TABLE u AS SELECT * FROM t QUALIFY row_number() OVER (PARTITION BY {{every}} ORDER BY _f, _r) = 1")
con.execute("DROP TABLE t")
for c in ["rtt_ms", "available_bandwidth_mbps", "data_size_bytes"]:
    q1, q3 = con.execute(f"SELECT quantile_cont({{q(c)}}, 0.25), quantile_cont({{q(c)}}, 0.75) FROM u").fetchone()
    if q1 is not None:
        lo, hi = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
        con.execute(f"DELETE FROM u WHERE {{q(c)}} IS NOT NULL AND NOT ({{q(c)}} BETWEEN {{lo!r}} AND {{hi!r}})")
fills = []
for c, t in schema.items():
    if t.is_numeric() and con.execute(f"SELECT count(*) - count({{q(c)}}) FROM u").fetchone()[0]:
        m = con.execute(f"SELECT median({{q(c)}}) FROM u").fetchone()[0]
        if m is not None:
            fills.append((c, m if t.is_float() else round(m)))
filled = {{c: m for c, m in fills}}
out_cols = ", ".join(f"coalesce({{q(c)}}, {{filled[c]!r}}) AS {{q(c)}}" if c in filled else q(c) for c in schema)
con.execute(f"COPY (SELECT {{out_cols}} FROM u ORDER BY _f, _r) TO '{out}/duckdb.parquet' (FORMAT parquet)")
"""

POLARS_STREAMING = """
import polars as pl
lf = pl.scan_parquet({src!r} + "/*.parquet").with_columns(pl.col(pl.Float64).fill_nan(None))
lf = lf.unique(maintain_order=True)
for c in ["rtt_ms", "available_bandwidth_mbps", "data_size_bytes"]:
    q1, q3 = lf.select(pl.col(c).quantile(0.25, "linear").alias("q1"), pl.col(c).quantile(0.75, "linear").alias("q3")).collect(
        engine="streaming").row(0)
    lo, hi = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
    lf = lf.filter(pl.col(c).is_null() | pl.col(c).cast(pl.Float64).is_between(lo, hi))
numeric = [c for c, t in lf.collect_schema().items() if t.is_numeric()]
medians = lf.select(pl.col(numeric).median()).collect(engine="streaming").row(0, named=True)
lf.with_columns(pl.col(c).fill_null(m) for c, m in medians.items() if m is not None).sink_parquet(
    {out!r} + "/polars.parquet")
"""


def run(code: str) -> dict:
    """Wall seconds and peak RSS (GiB) of ``code`` in a fresh interpreter, or why it failed."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    except BaseException:
        proc.kill()
        raise
    seconds = time.perf_counter() - started
    err = proc.stderr.read() if proc.stderr else ""
    result = {"seconds": seconds, "peak_gib": usage.ru_maxrss / 2**20}
    if os.waitstatus_to_exitcode(status) != 0:
        last = err.strip().splitlines()[-1:] or [f"exit status {status}"]
        result["failed"] = last[0][:200]
    return result


def assert_same_rows(a: Path, b: Path, message: str) -> None:
    """That the data sets ``a`` and ``b`` hold the same rows, read in a fresh interpreter."""
    check = (
        "import dwcp_data\n"
        f"a, b = (dwcp_data.read_training_data(p) for p in ({str(a)!r}, {str(b)!r}))\n"
        f"assert a.equals(b), {message!r}\n"
    )
    subprocess.run([sys.executable, "-c", check], check=True)


def generate(rows: int, folder: Path) -> float:
    return generate_shards(folder, rows, "--shard-rows", str(SHARD_ROWS), "--seed", "1")


def show(rows: int, side: str, r: dict) -> None:
    rate = f"{rows / r['seconds']:>12,.0f}" if "failed" not in r else f"{'-':>12}"
    note = f"  FAILED: {r['failed']}" if "failed" in r else ""
    print(f"{rows:>13,}  {side:<18}{r['seconds']:>9.1f}{rate}{r['peak_gib']:>10.2f}{note}", flush=True)


def show_ray(rows: int, stats: dict, seconds: dict[str, list[float]]) -> None:
    """The Ray side's own figures: its driver and workers, its cost against one machine."""
    print(
        f"{'':>13}  ray: {stats['seconds']:.1f} s in the run, {stats['blocks']} blocks; driver "
        f"{stats['driver_cpu']:.1f} CPU-s, peak {stats['driver_peak_gib']:.2f} GiB; {stats['workers']} "
        f"workers {stats['worker_cpu']:.1f} CPU-s, peak {stats['worker_peak_gib']:.2f} GiB each, "
        f"{stats['workers_peak_total_gib']:.2f} GiB together",
        flush=True,
    )
    local = seconds.get("out of core")
    if local:
        ratio = stats["seconds"] / statistics.median(local)
        print(f"{'':>13}  ray / out of core time at {rows:,} rows: {ratio:.2f}", flush=True)
    print(json.dumps({"rows": rows, **stats}), flush=True)


def _turns(args: argparse.Namespace, small: bool) -> list[tuple[str, str]]:
    """The sides to run at one size, in order, as ``(name, code)``."""
    turns = [("in memory", IN_MEMORY), ("out of core", OUT_OF_CORE)] * args.rounds
    if not small:
        turns = [("out of core", OUT_OF_CORE)]
    if args.ray:
        turns.append(("ray", ON_RAY))
    if args.duckdb:
        turns += [("clean out of core", CLEAN_OUT_OF_CORE), ("duckdb", DUCKDB)]
    if not args.no_peer and (small or args.peer_at_scale):
        turns.append(("polars streaming", POLARS_STREAMING))
    return turns


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000_000, help="rows for the three-way comparison")
    parser.add_argument("--rows", type=int, default=None, help="also run the out-of-core path at this size")
    parser.add_argument(
        "--peer-at-scale", action="store_true", help="run Polars' streaming engine at --rows too"
    )
    parser.add_argument(
        "--work", default=None, help="folder for shards and outputs (default: a temporary one)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="at --small, run in memory and out of core this many times each, taking turns "
        "(this VM's speed drifts); the ratio is of the medians",
    )
    parser.add_argument("--no-peer", action="store_true", help="leave Polars' streaming engine out")
    parser.add_argument(
        "--duckdb",
        action="store_true",
        help="also the cleaning alone: clean_dataset next to DuckDB's SQL (pip install '.[bench]')",
    )
    parser.add_argument(
        "--ray",
        action="store_true",
        help="also the Ray engine (`engine='ray'`, local Ray of 2 CPUs) at each size",
    )
    args = parser.parse_args()
    print(f"{machine()}; shards of {SHARD_ROWS:,} rows; the pipeline (polars: clean only)")
    print(f"{'rows':>13}  {'side':<18}{'seconds':>9}{'rows/s':>12}{'peak GiB':>10}")
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        work = Path(tmp)
        for rows in [args.small] + ([args.rows] if args.rows else []):
            src = work / f"in-{rows}"
            generate(rows, src)
            small = rows == args.small
            turns = _turns(args, small)
            seconds: dict[str, list[float]] = {}
            for side, code in turns:
                out = work / f"out-{rows}-{side.replace(' ', '-')}"
                shutil.rmtree(out, ignore_errors=True)
                out.mkdir()
                result = run(code.format(src=str(src), out=str(out)))
                show(rows, side, result)
                seconds.setdefault(side, []).append(result["seconds"])
                if side == "ray" and "failed" not in result:
                    show_ray(rows, json.loads((out / "ray-stats.json").read_text()), seconds)
            if args.duckdb:
                ratio = statistics.median(seconds["duckdb"]) / statistics.median(seconds["clean out of core"])
                ours, theirs = work / f"out-{rows}-clean-out-of-core" / "clean", work / f"out-{rows}-duckdb"
                assert_same_rows(ours, theirs / "duckdb.parquet", "duckdb differs from clean_dataset")
                print(f"{'':>13}  duckdb / clean_dataset time: {ratio:.2f}; the same rows: yes", flush=True)
            if small:
                ratio = statistics.median(seconds["in memory"]) / statistics.median(seconds["out of core"])
                print(f"{'':>13}  out of core / in memory throughput (medians): {ratio:.2f}", flush=True)
            if args.ray:
                check = (  # shard by shard: the outputs may not fit in memory
                    "import polars as pl, pathlib\n"
                    f"a = sorted(pathlib.Path({str(work / f'out-{rows}-out-of-core' / 'labelled')!r}).iterdir())\n"
                    f"b = sorted(pathlib.Path({str(work / f'out-{rows}-ray' / 'labelled')!r}).iterdir())\n"
                    "assert [p.name for p in a] == [p.name for p in b], 'different shards'\n"
                    "for x, y in zip(a, b):\n"
                    "    assert pl.read_parquet(x).equals(pl.read_parquet(y)), f'ray differs in {y.name}'\n"
                )
                subprocess.run([sys.executable, "-c", check], check=True)
                print(f"{'':>13}  ray == out of core at {rows:,} rows: yes", flush=True)
            if rows == args.small:
                ours, theirs = work / f"out-{rows}-out-of-core" / "labelled", work / f"out-{rows}-in-memory"
                assert_same_rows(ours, theirs / "labelled.parquet", "out of core differs from in memory")
                print(f"{'':>13}  out of core == in memory at {rows:,} rows: yes", flush=True)
            for p in work.iterdir():
                if p.name.startswith("out-") or p == src:
                    shutil.rmtree(p)
    print(json.dumps({"machine": machine()}))


if __name__ == "__main__":
    main()
