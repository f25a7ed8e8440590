"""The Flux export path: client CPU per 1M points, and count-sized windows against one window.

Usage: pip install ".[bench]" && python benchmarks/bench_flux.py [--rows N] [--days D] [--rounds R]

No InfluxDB 2.x (or 1.8) runs on this machine, so the server is the tests' stub of
InfluxDB 1.8.3 (``tests/flux_stub.py``: its HTTP, headers, chunking, errors and
query shapes, checked against a real server's recorded answers) in a process of its
own, with its answers pre-rendered from the points (one annotated-CSV table per
answer, every field a column) so that it answers at memory speed. It is not a
server's speed: what this measures is the client, in CPU seconds of the client's
process (``time.process_time``), next to wall time.

Sides, taking turns ``rounds`` times (medians reported):

* ``count-sized windows``: ``export_metrics(bucket=...)`` as shipped (one count
  query per shard group, windows of up to ``WINDOW_POINTS`` points that never
  cross a 1.x shard group);
* ``one window``: ``chunk`` = the whole range (what a 2.x server would allow);
* ``1-day windows``: ``chunk="1d"`` (the default before counts sized the windows);
* ``influxdb-client``: the official client's Flux CSV parser (``FluxCsvParser``,
  DataFrame mode) reading the answer for the first 100,000 points, parsing only
  (its CPU per 1M points scaled from those).
"""

from __future__ import annotations

import argparse
import bisect
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl

import dwcp_data
from dwcp_data import influx
from dwcp_data.influx import export as influx_export

from _common import machine

BUCKET = "dwcp_metrics/autogen"
#: Points the official client parses (pure Python: a sample, its CPU scaled per 1M points).
OFFICIAL_ROWS = 100_000


def render(df: pl.DataFrame) -> tuple[list[int], list[str], str]:
    """Each point as a data row of a pivoted Flux table, in time order, with the header block."""
    df = df.sort("timestamp")
    tags = list(influx.TAGS)
    fields = sorted(c for c in df.columns if c not in (*tags, "timestamp"))
    kinds = {pl.Float64: "double", pl.Int64: "long"}
    types = [kinds.get(df.schema[c], "string") for c in fields]  # type: ignore[call-overload]
    header = "\r\n".join(
        [
            ",".join(["#datatype", "string", "long", "dateTime:RFC3339", *["string"] * len(tags), *types]),
            ",".join(["#group", "false", "false", "false", *["true"] * len(tags), *["false"] * len(fields)]),
            ",".join(["#default", "_result", "", "", *[""] * (len(tags) + len(fields))]),
            ",".join(["", "result", "table", "_time", *tags, *fields]),
        ]
    )
    text = df.select(
        pl.concat_str(
            [
                pl.lit(",,0"),
                pl.col("timestamp").dt.strftime("%Y-%m-%dT%H:%M:%S%.fZ"),
                *[pl.col(c).cast(pl.String).fill_null("") for c in (*tags, *fields)],
            ],
            separator=",",
        )
    )
    ns = df["timestamp"].dt.epoch("ns").to_list()
    return ns, text.to_series().to_list(), header


def serve(parquet: str) -> None:
    """The stub, its data queries answered from pre-rendered rows; prints its URL."""
    from flux_stub import _COUNT, _PIVOT, _SOURCE, FluxStub, Handler, State, counted

    ns, rows, header = render(pl.read_parquet(parquet))

    class Fast(Handler):
        def _query(self, query: str) -> None:
            source = _SOURCE.match(query)
            assert source is not None, query
            lo, hi = int(source[2]), int(source[3])
            i, j = bisect.bisect_left(ns, lo), bisect.bisect_left(ns, hi)
            rest = query[source.end() :]
            if rest == _PIVOT:
                text = f"{header}\r\n" + "\r\n".join(rows[i:j]) + "\r\n\r\n" if j > i else "\r\n"
            else:
                count = _COUNT.fullmatch(rest)
                assert count is not None, query
                text = counted(ns[i:j], lo, hi, int(count[1]))
            self._send(200, text.encode(), "text/csv; charset=utf-8", chunked=True)

    stub = FluxStub(State())
    stub.server.RequestHandlerClass = type("BoundFast", (Fast,), {"state": stub.state})
    with stub:
        print(stub.url, flush=True)
        sys.stdin.read()  # until the benchmark closes the pipe


def timed(fn: Any) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=float, default=30.0, help="the points span this many days")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    freq = timedelta(days=args.days) / args.rows
    df = dwcp_data.generate_synthetic(args.rows, seed=11, freq=freq)
    start, end = df["timestamp"].min(), df["timestamp"].max() + timedelta(microseconds=1)
    work = Path(tempfile.mkdtemp(prefix="bench-flux-"))
    df.write_parquet(work / "points.parquet")
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(work / "points.parquet")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    url = server.stdout.readline().strip()
    window = {"url": url, "bucket": BUCKET, "start": start, "end": end}
    sides = {
        "count-sized windows": lambda: influx.export_metrics(**window),
        "one window": lambda: influx.export_metrics(**window, chunk=end - start),
        "1-day windows": lambda: influx.export_metrics(**window, chunk="1d"),
    }
    conn = influx.Connection(url, bucket=BUCKET)
    ns = df["timestamp"].dt.epoch("ns").sort()
    sample = min(OFFICIAL_ROWS, args.rows)
    cut = int(ns[sample]) if sample < args.rows else int(ns[-1]) + 1
    one_answer = influx_export._fetch(conn, influx_export._Window(int(ns[0]), cut))

    def official() -> int:
        from influxdb_client.client.flux_csv_parser import FluxCsvParser, FluxSerializationMode

        answer = io.BytesIO(one_answer)
        answer.release_conn = lambda: None  # type: ignore[attr-defined]
        frames = FluxCsvParser(
            response=answer, serialization_mode=FluxSerializationMode.dataFrame
        ).generator()
        return sum(len(f) for f in frames)

    results: dict[str, list[tuple[float, float]]] = {
        name: [] for name in [*sides, "influxdb-client (parse only)"]
    }
    heights, parsed = set(), set()
    try:
        for _ in range(args.rounds):
            for name, fn in sides.items():
                wall, cpu, out = timed(fn)
                heights.add(out.height)
                results[name].append((wall, cpu))
            wall, cpu, n = timed(official)
            parsed.add(n)
            results["influxdb-client (parse only)"].append((wall, cpu))
    finally:
        server.stdin.close()  # type: ignore[union-attr]
        server.wait()
    assert heights == {args.rows} and parsed == {sample}, (heights, parsed)
    print(f"{machine()}; {args.rows:,} points over {args.days:g} days; medians of {args.rounds}")
    print(f"{'side':>30}  {'wall s':>8}  {'client CPU s':>12}  {'CPU s per 1M points':>20}")
    for name, runs in results.items():
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        points = sample if name.startswith("influxdb-client") else args.rows
        print(f"{name:>30}  {wall:8.2f}  {cpu:12.2f}  {cpu / points * 1e6:20.2f}")
    base = statistics.median(r[0] for r in results["one window"])
    print(
        f"count-sized / one window (wall): {statistics.median(r[0] for r in results['count-sized windows']) / base:.2f}"
    )
    print(json.dumps({"machine": machine()}))


if __name__ == "__main__":
    main()
