"""InfluxDB ingest and export: dwcp_data.influx vs the ``influxdb`` PyPI client, same server, same points.

Usage: pip install influxdb && python benchmarks/bench_influx.py [--rows N] [--layout tags|fields|both]

Starts its own influxd (Debian's influxdb package) on a free loopback port.
Each side writes into its own fresh influxd (same binary, same config) and
exports everything back. Every phase starts once the server is idle (its compactions done), and reports the
server's CPU seconds next to this process's, which shows where the time goes.

Layouts: ``tags`` is the issue's (node_id and peer_id as tags: about one
series per point); ``fields`` writes the ids as string fields (tags: the
document's five columns only).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import polars as pl

import dwcp_data
from dwcp_data import influx

from _common import machine
from influx_server import InfluxServer

LAYOUTS = {"tags": influx.TAGS, "fields": influx.TAGS[:5]}


def server_cpu(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_idle(pid: int) -> None:
    """Wait until the server uses under 5% of a core (its snapshots and compactions done)."""
    while True:
        before = server_cpu(pid)
        time.sleep(2)
        if server_cpu(pid) - before < 0.1:
            return


def phase(pid: int, fn: Callable[[], Any]) -> tuple[tuple[float, float, float], Any]:
    """Wall seconds, server CPU seconds and this process's CPU seconds of ``fn()``; its result."""
    wait_idle(pid)
    cpu0, own0, started = server_cpu(pid), time.process_time(), time.perf_counter()
    result = fn()
    return (time.perf_counter() - started, server_cpu(pid) - cpu0, time.process_time() - own0), result


Timing = tuple[float, float, float]


def on_fresh_server(
    write: Callable[[str], object], export: Callable[[str], int], n: int
) -> list[Timing] | str:
    """Ingest and export timings of one side on its own fresh influxd (database ``metrics``),
    or why it failed."""
    server = InfluxServer()
    pid = server.process.pid
    try:
        server.query("CREATE DATABASE metrics")
        ingest, _ = phase(pid, lambda: write(server.url))
        export_timing, exported = phase(pid, lambda: export(server.url))
        assert exported == n, f"exported {exported} of {n} points"
        return [ingest, export_timing]
    except Exception as exc:  # a failing side is a result to report
        return f"{type(exc).__name__}: {exc}"
    finally:
        server.stop()


def run(df: pl.DataFrame, layout: str, chunk: str) -> None:
    from influxdb import DataFrameClient

    tags = list(LAYOUTS[layout])
    n = df.height
    start, end = df["timestamp"].min(), df["timestamp"].max() + timedelta(microseconds=1)
    pdf = df.with_columns(pl.col(pl.Enum).cast(pl.String)).to_pandas().set_index("timestamp")
    pdf.index = pdf.index.astype("datetime64[ns, UTC]")  # pandas 3: else the client writes 1970 times
    query = f"SELECT * FROM compression_metrics WHERE time >= '{start.isoformat()}' AND time < '{end.isoformat()}'"

    def client(url: str) -> DataFrameClient:
        host, port = url.removeprefix("http://").split(":")
        return DataFrameClient(host=host, port=int(port), database="metrics")

    ours = on_fresh_server(
        lambda url: influx.write_metrics(df, url=url, database="metrics", tags=tags),
        lambda url: (
            influx.export_metrics(url=url, database="metrics", start=start, end=end, chunk=chunk).height
        ),
        n,
    )
    theirs = on_fresh_server(
        lambda url: client(url).write_points(
            pdf, "compression_metrics", tag_columns=tags, batch_size=5000, protocol="line"
        ),
        lambda url: len(client(url).query(query, chunked=False)["compression_metrics"]),
        n,
    )

    print(f"\nlayout {layout!r}: tags {', '.join(tags)}")
    for name, result in (("dwcp_data", ours), ("influxdb client", theirs)):
        if isinstance(result, str):
            print(f"{name} FAILED: {result}")
    if isinstance(ours, str) or isinstance(theirs, str):
        return
    print(
        f"{'':<14}{'dwcp_data':>11}{'client':>11}{'ratio':>8}   server CPU s ours / client   local CPU s ours / client"
    )
    for label, (w0, s0, l0), (w1, s1, l1) in zip(("ingest pts/s", "export s"), ours, theirs, strict=True):
        ours_text, theirs_text = (
            f"{n / w:,.0f}" if label.startswith("ingest") else f"{w:.2f}" for w in (w0, w1)
        )
        print(
            f"{label:<14}{ours_text:>11}{theirs_text:>11}{w1 / w0:>7.1f}x"
            f"   {s0:>12.1f} / {s1:<14.1f}{l0:>11.1f} / {l1:.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--layout", choices=["tags", "fields", "both"], default="both")
    parser.add_argument("--chunk", default="30d", help="dwcp_data's export window (default one window: 30d)")
    args = parser.parse_args()
    df = dwcp_data.generate_synthetic(args.rows, seed=1, freq="1s")
    print(f"{machine()}; influxd 1.6.7; {args.rows:,} points")
    for layout in ["tags", "fields"] if args.layout == "both" else [args.layout]:
        run(df, layout, args.chunk)


if __name__ == "__main__":
    main()
