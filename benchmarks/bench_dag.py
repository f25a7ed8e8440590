"""The weekly DAG at fleet scale: its tasks' memory and time, and its incremental export.

Usage:
  python benchmarks/bench_dag.py                         # the DAG's tasks at 10M rows, the export at 1M points
  python benchmarks/bench_dag.py --rows 10000000 40000000 --no-export   # the tasks at 10M and 40M
  python benchmarks/bench_dag.py --no-dag --points 1000000                # the export only

The DAG's tasks (:func:`dwcp_data.airflow.make_dag` on a landing folder of one
shard per day, 30 days): each runs here what the task runs, in a fresh
interpreter, so its peak RSS is its own: ``gather`` (the landing shards),
``prepare`` (``run_pipeline`` on the shards into a folder, out of core),
``publish`` (the folder published again: hard links, SHA-256 per shard, the
manifest), ``quality`` (§8's figures, which ``prepare`` gathered as it wrote,
taken from its report). Their total is
set against ``run_pipeline(folder, dir)`` alone (the target: at most 1.2x).

The export (``export_to_folder``): 1M points over 30 days in influxd 1.6.7 on
loopback, exported into day shards at concurrency 1, 2 and 4, next to the
single-file export (``export_to_file``) and to the server's ceiling: the same
day queries fetched by ``curl --parallel`` at the same concurrency. Then the
weekly case: 7 more days written, the 30-day window moved by 7 days, exported
into the same folder (the target: at most 0.35x the first export).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import urllib.parse
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bench_influx import fresh_server, phase

import dwcp_data
from dwcp_data import influx
from dwcp_data.influx import export as influx_export

from _common import curl_parallel, generate_shards, machine, measured

#: The export's window, in days.
WINDOW = 30
END = datetime(2026, 11, 1, tzinfo=timezone.utc)

TASKS = {
    "gather": """
import dwcp_data
shards = dwcp_data.Dataset({landing!r})
files, rows = [str(f) for f in shards.files], sum(shards.rows())
""",
    "prepare": """
import dwcp_data
files = sorted(str(p) for p in __import__("pathlib").Path({landing!r}).glob("*.parquet"))
assert dwcp_data.run_pipeline(files, {work!r} + "/training", show_progress=False).passed
""",
    "publish": """
import json
from pathlib import Path
from dwcp_data._outputs import publish_copy
from dwcp_data.pipeline import report_path_for
training = Path({work!r}) / "training"
report = json.loads(report_path_for(training).read_text())
info = {{k: report[k] for k in ("source", "input_validation", "output_validation", "cleaning")}}
publish_copy(training, Path({work!r}) / "published", kind="published", info=info)
""",
    "quality": """
import json
from pathlib import Path
from dwcp_data.pipeline import report_path_for
from dwcp_data.quality import flatten
assert flatten(json.loads(report_path_for(Path({work!r}) / "training").read_text())["quality"])["rows"] > 0
""",
}

ALONE = """
import dwcp_data
assert dwcp_data.run_pipeline({landing!r}, {work!r} + "/alone", show_progress=False).passed
"""


def dag_tasks(rows: int, days: int, tmp: Path) -> None:
    landing, work = tmp / f"landing-{rows}", tmp / f"work-{rows}"
    work.mkdir()
    generate_shards(
        landing,
        rows,
        "--shard-rows",
        str(-(-rows // days)),
        "--end",
        END.isoformat(),
        "--freq",
        f"{days * 86_400_000_000 // rows}us",
    )
    total = 0.0
    print(f"\n{rows:,} rows in {days} day shards: the DAG's tasks, each in a fresh interpreter")
    print(f"{'task':<12}{'seconds':>10}{'peak GiB':>10}")
    for name, code in TASKS.items():
        seconds, peak = measured(code.format(landing=str(landing), work=str(work)))
        total += seconds
        print(f"{name:<12}{seconds:>10.1f}{peak:>10.2f}")
    alone, peak = measured(ALONE.format(landing=str(landing), work=str(work)))
    print(f"{'all tasks':<12}{total:>10.1f}")
    print(
        f"{'run_pipeline alone':<20}{alone:>4.1f} s, peak {peak:.2f} GiB; DAG / alone: {total / alone:.2f}x"
    )
    shutil.rmtree(landing)
    shutil.rmtree(work)


def day_urls(url: str, start: datetime, end: datetime) -> list[str]:
    """The SELECT requests of a day-shard export of ``[start, end)``: each day's windows."""
    conn = influx.Connection(url, database="metrics")
    a, b = influx_export._range_ns(start, end)
    counts = influx_export._day_counts(conn, a, b) or {}
    urls = []
    for _, lo, hi in influx_export._days(a, b):
        for w in influx_export._day_windows(conn, lo, hi, counts.get(lo - lo % influx_export._DAY_NS, 0)):
            params = {"db": "metrics", "epoch": "ns", "chunked": "true", "chunk_size": "10000"}
            params["q"] = f"SELECT * {influx_export._where(w.lo, w.hi)}"
            urls.append(f"{url}/query?{urllib.parse.urlencode(params)}")
    return urls


def curl_export(urls: list[str], concurrency: int, tmp: Path) -> None:
    config = tmp / "export.curl"
    config.write_text(
        "next\n".join(
            f'url = "{u}"\nheader = "Accept: application/csv"\noutput = "/dev/null"\nfail\n' for u in urls
        )
    )
    curl_parallel(config, concurrency)


def export(points: int, tmp: Path) -> None:
    server = fresh_server()
    try:
        freq = timedelta(microseconds=WINDOW * 86_400_000_000 // points)
        df = dwcp_data.generate_synthetic(points, seed=3, end=END - freq, freq=freq)
        influx.write_metrics(df, url=server.url, database="metrics")
        start = END - timedelta(days=WINDOW)
        conn = {"url": server.url, "database": "metrics"}
        urls = day_urls(server.url, start, END)
        pid = server.process.pid
        print(
            f"\nexport of {points:,} points over {WINDOW} days from influxd on loopback ({len(urls)} day queries)"
        )
        print(f"{'side':<34}{'seconds':>10}{'influxd CPU s':>15}")
        (timing, _) = phase(
            pid, lambda: influx.export_to_file(tmp / "one.parquet", start=start, end=END, **conn)
        )
        print(f"{'one file (export_to_file)':<34}{timing[0]:>10.2f}{timing[1]:>15.1f}")
        firsts = {}
        for c in (1, 2, 4):
            (ceiling, _) = phase(pid, lambda c=c: curl_export(urls, c, tmp))
            out = tmp / f"days-{c}"
            (ours, _) = phase(
                pid,
                lambda c=c, out=out: influx.export_to_folder(
                    out, start=start, end=END, concurrency=c, **conn
                ),
            )
            firsts[c] = ours[0]
            print(f"{f'curl, {c} at once (ceiling)':<34}{ceiling[0]:>10.2f}{ceiling[1]:>15.1f}")
            print(
                f"{f'day shards, concurrency {c}':<34}{ours[0]:>10.2f}{ours[1]:>15.1f}"
                f"   {ceiling[0] / ours[0]:.0%} of the ceiling"
            )
        # the weekly run: 7 more days, the window moved on by 7 days
        week = dwcp_data.generate_synthetic(
            points * 7 // WINDOW, seed=4, end=END + timedelta(days=7) - freq, freq=freq
        )
        influx.write_metrics(week, url=server.url, database="metrics")
        c = influx.EXPORT_CONCURRENCY
        (weekly, report) = phase(
            pid,
            lambda: influx.export_to_folder(
                tmp / f"days-{c}",
                start=start + timedelta(days=7),
                end=END + timedelta(days=7),
                concurrency=c,
                **conn,
            ),
        )
        print(
            f"{'next week, 7 new days of 30':<34}{weekly[0]:>10.2f}{weekly[1]:>15.1f}"
            f"   {weekly[0] / firsts[c]:.2f}x the first export ({len(report.exported)} days read)"
        )
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000_000])
    parser.add_argument("--days", type=int, default=30, help="day shards of the DAG's landing folder")
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--no-dag", action="store_true")
    parser.add_argument("--no-export", action="store_true")
    parser.add_argument("--work", default=None, help="folder for the data (default: a temporary one)")
    args = parser.parse_args()
    print(json.dumps({"machine": machine(), "date": datetime.now(timezone.utc).date().isoformat()}))
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        if not args.no_dag:
            for rows in args.rows:
                dag_tasks(rows, args.days, Path(tmp))
        if not args.no_export:
            export(args.points, Path(tmp))


if __name__ == "__main__":
    main()
