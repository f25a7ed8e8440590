"""InfluxDB ingest and export: dwcp_data.influx next to the server's own ceiling and the ``influxdb`` client.

Usage: pip install ".[bench]" && python benchmarks/bench_influx.py [--rows N] [--days D] [--rounds R]

The server sets the pace, so the library is measured against the server's own
ceiling on the same machine (Debian's influxd 1.6.7, loopback), in the design
document's collector layout (five tags; node ids as string fields):

* ``ceiling``: ingest: the same points, pre-encoded by dwcp_data's encoder
  (batches of 5,000), posted by ``curl --parallel`` with the same concurrency
  (4), both gzipped and plain (what ``write_metrics`` sends a loopback server);
  the faster of the two is the ceiling. Export: the same InfluxQL CSV answers
  dwcp_data asks for (the same windows), fetched by ``curl`` to /dev/null.
* ``dwcp_data``: ``write_metrics`` and ``export_metrics`` with default settings.
* ``client``: the ``influxdb`` PyPI client, ``DataFrameClient.write_points(
  batch_size=5000, protocol="line")`` and ``query``.

This machine's speed drifts between minutes, so sides alternate: ingests go
into fresh servers, curl (gzipped, plain) and dwcp_data taking turns (``rounds - 1`` each; the
client once); exports all read one server holding the same data, curl,
dwcp_data and a single-window dwcp_data export taking turns ``rounds`` times
(the client once). Medians are reported. Every phase starts once the server is
idle (compactions done) and reports the server's CPU seconds next to this
process's (curl's included).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl

import dwcp_data
from dwcp_data import _core, influx
from dwcp_data._frames import to_core
from dwcp_data.influx import export as influx_export
from dwcp_data.influx import write as influx_write

from _common import curl_parallel, machine
from influx_server import InfluxServer

BATCH = 5000
CONCURRENCY = 4
Timing = tuple[float, float, float]


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


def phase(pid: int, fn: Callable[[], Any]) -> tuple[Timing, Any]:
    """Wall seconds, server CPU seconds and this process's CPU seconds (with
    its children's, e.g. curl) of ``fn()``; its result."""
    wait_idle(pid)

    def own() -> float:
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    cpu0, own0, started = server_cpu(pid), own(), time.perf_counter()
    result = fn()
    return (time.perf_counter() - started, server_cpu(pid) - cpu0, own() - own0), result


def encoded_batches(df: pl.DataFrame, folder: Path, gzipped: bool) -> list[Path]:
    """``df`` encoded exactly as write_metrics encodes it, one file per batch."""
    frame, codes = to_core(df)
    level = influx_write._GZIP_LEVEL if gzipped else None
    files = []
    for i, offset in enumerate(range(0, frame.height, BATCH)):
        body, _ = _core.encode_line_protocol(
            frame.slice(offset, BATCH), codes, influx.MEASUREMENT, list(influx.TAGS), level
        )
        path = folder / f"batch-{i:05d}.lp{'.gz' if gzipped else ''}"
        path.write_bytes(body)
        files.append(path)
    return files


def curl_ingest(url: str, files: list[Path], folder: Path, gzipped: bool) -> None:
    config = folder / "ingest.curl"
    header = 'header = "Content-Encoding: gzip"\n' if gzipped else ""
    blocks = [
        f'url = "{url}/write?db=metrics&precision=ns"\ndata-binary = "@{path}"\n'
        f'{header}output = "/dev/null"\nfail\nsilent\n'
        for path in files
    ]
    config.write_text("next\n".join(blocks))
    curl_parallel(config, CONCURRENCY)


def select_urls(url: str, start: Any, end: Any) -> list[str]:
    """The SELECT requests dwcp_data's default export sends for ``[start, end)``."""
    conn = influx.Connection(url, database="metrics")
    urls = []
    for w in influx_export._plan(conn, start, end, None):
        params = {"db": "metrics", "epoch": "ns", "chunked": "true", "chunk_size": "10000"}
        params["q"] = f"SELECT * {influx_export._where(w.lo, w.hi)}"
        urls.append(f"{url}/query?{urllib.parse.urlencode(params)}")
    return urls


def curl_export(urls: list[str]) -> None:
    for u in urls:
        subprocess.run(
            ["curl", "-s", "-f", "-H", "Accept: application/csv", "-o", "/dev/null", u], check=True
        )


def fresh_server() -> InfluxServer:
    server = InfluxServer()
    server.query("CREATE DATABASE metrics")
    return server


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=float, default=30.0, help="the points span this many days")
    parser.add_argument(
        "--rounds", type=int, default=3, help="export rounds (ingest: rounds - 1, at least 1)"
    )
    args = parser.parse_args()
    step_ms = max(1, round(args.days * 86_400_000 / args.rows))
    df = dwcp_data.generate_synthetic(args.rows, seed=1, freq=f"{step_ms}ms")
    n = df.height
    start, end = df["timestamp"].min(), df["timestamp"].max() + timedelta(microseconds=1)
    print(f"{machine()}; influxd 1.6.7; {n:,} points over {args.days:g} days; collector layout")
    pdf = df.with_columns(pl.col(pl.Enum).cast(pl.String)).to_pandas().set_index("timestamp")
    pdf.index = pdf.index.astype("datetime64[ns, UTC]")  # pandas 3: else the client writes 1970 times

    def client(url: str) -> Any:
        from influxdb import DataFrameClient

        host, port = url.removeprefix("http://").split(":")
        return DataFrameClient(host=host, port=int(port), database="metrics")

    def ingest(how: str, tmp: Path) -> Timing:
        """One ingest of every point into a fresh server."""
        server = fresh_server()
        try:
            if how.startswith("curl"):
                gzipped = how == "curl gzipped"
                files = encoded_batches(df, tmp, gzipped)
                return phase(server.process.pid, lambda: curl_ingest(server.url, files, tmp, gzipped))[0]
            if how == "dwcp_data":
                return phase(
                    server.process.pid, lambda: influx.write_metrics(df, url=server.url, database="metrics")
                )[0]
            return phase(
                server.process.pid,
                lambda: client(server.url).write_points(
                    pdf,
                    "compression_metrics",
                    tag_columns=list(influx.TAGS),
                    batch_size=BATCH,
                    protocol="line",
                ),
            )[0]
        finally:
            server.stop()

    # Ingest: each side into fresh servers, curl and dwcp_data alternating.
    ingests: dict[str, list[Timing]] = {"curl gzipped": [], "curl plain": [], "dwcp_data": [], "client": []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(max(1, args.rounds - 1)):
            for how in ("curl gzipped", "curl plain", "dwcp_data"):
                ingests[how].append(ingest(how, Path(tmp)))
        ingests["client"].append(ingest("client", Path(tmp)))
    ceiling = min(("curl gzipped", "curl plain"), key=lambda k: median([t[0] for t in ingests[k]]))
    ingests["ceiling"] = ingests[ceiling]

    # Export: every side reads the same server, alternating, after one warm-up read.
    exports: dict[str, list[Timing]] = {"ceiling": [], "dwcp_data": [], "one window": [], "client": []}
    server = fresh_server()
    try:
        influx.write_metrics(df, url=server.url, database="metrics")
        pid = server.process.pid
        urls = select_urls(server.url, start, end)
        query = f"SELECT * FROM compression_metrics WHERE time >= '{start.isoformat()}' AND time < '{end.isoformat()}'"
        read = {
            "ceiling": lambda: curl_export(urls),
            "dwcp_data": lambda: influx.export_metrics(
                url=server.url, database="metrics", start=start, end=end
            ),
            "one window": lambda: influx.export_metrics(
                url=server.url, database="metrics", start=start, end=end, chunk=end - start
            ),
        }
        phase(pid, read["ceiling"])
        for _ in range(args.rounds):
            for how, fn in read.items():
                exports[how].append(phase(pid, fn)[0])
        # epoch="ns": with pandas 3 the client cannot parse whole-second RFC 3339 times
        timing, got = phase(
            pid,
            lambda: len(client(server.url).query(query, chunked=False, epoch="ns")["compression_metrics"]),
        )
        assert got == n, f"client exported {got} of {n}"
        exports["client"].append(timing)
        assert influx.export_metrics(url=server.url, database="metrics", start=start, end=end).height == n
    finally:
        server.stop()

    def row(label: str, runs: dict[str, list[Timing]], rate: bool) -> None:
        walls = {k: median([t[0] for t in v]) for k, v in runs.items()}
        server_cpu_s = {k: median([t[1] for t in v]) for k, v in runs.items()}
        local = {k: median([t[2] for t in v]) for k, v in runs.items()}
        cells = [
            f"{n / walls[k]:,.0f}" if rate else f"{walls[k]:.2f}" for k in ("ceiling", "dwcp_data", "client")
        ]
        print(
            f"{label:<16}{cells[0]:>10}{cells[1]:>11}{cells[2]:>10}"
            f"{walls['ceiling'] / walls['dwcp_data']:>12.0%}{walls['client'] / walls['dwcp_data']:>11.1f}x"
            f"   {server_cpu_s['ceiling']:>10.1f} / {server_cpu_s['dwcp_data']:.1f} / {server_cpu_s['client']:<14.1f}"
            f"{local['ceiling']:>12.1f} / {local['dwcp_data']:.1f} / {local['client']:.1f}"
        )
        for k, v in runs.items():
            if k != "ceiling" or "curl plain" not in runs:
                print(f"{'':<18}{k}: " + ", ".join(f"{t[0]:.2f} s" for t in v))

    print(
        f"\nmedians         {'ceiling':>10}{'dwcp_data':>11}{'client':>10}   of ceiling   vs client"
        "   influxd CPU s (ceiling / ours / client)   local CPU s (curl / ours / client)"
    )
    row("ingest pts/s", ingests, rate=True)
    print(f"{'':<18}(ceiling: {ceiling}, the faster)")
    row("export s", {k: exports[k] for k in ("ceiling", "dwcp_data", "client")}, rate=False)
    default, single = (
        median([t[0] for t in exports["dwcp_data"]]),
        median([t[0] for t in exports["one window"]]),
    )
    print(
        f"\nexport windows (default, sized from the data): {len(urls)}; default settings {default:.2f} s vs "
        f"one window {single:.2f} s (medians): {default / single:.2f}x"
    )


if __name__ == "__main__":
    main()
