"""InfluxDB ingest and export: dwcp_data.influx next to the server's own ceiling and the ``influxdb`` client.

Usage: pip install influxdb && python benchmarks/bench_influx.py [--rows N] [--days D]

The server sets the pace, so each side is measured on its own fresh influxd
(Debian's 1.6.7, same binary and config, loopback), in the design document's
collector layout (five tags; node ids as string fields):

* ``ceiling``: the server's own ceiling. Ingest: the same points, pre-encoded
  and gzipped by dwcp_data's encoder (the same bytes, batches of 5,000), posted by
  ``curl --parallel`` with the same concurrency (4). Export: the same InfluxQL
  CSV answers dwcp_data asks for (the same windows), fetched by ``curl`` to
  /dev/null one after the other.
* ``dwcp_data``: ``write_metrics`` and ``export_metrics`` with default settings.
* ``influxdb client``: ``DataFrameClient.write_points(batch_size=5000,
  protocol="line")`` and ``query``.

Each phase starts once the server is idle (its compactions done) and reports
the server's CPU seconds next to this process's. Finally, on dwcp_data's
server, the default export (windows sized from the data) is timed against the
best single-window export of the same range.
"""

from __future__ import annotations

import argparse
import os
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

from _common import machine
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


def gzipped_batches(df: pl.DataFrame, folder: Path) -> list[Path]:
    """``df`` encoded exactly as write_metrics encodes it, one gzip file per batch."""
    frame, codes = to_core(df)
    files = []
    for i, offset in enumerate(range(0, frame.height, BATCH)):
        body, _ = _core.encode_line_protocol(
            frame.slice(offset, BATCH), codes, influx.MEASUREMENT, list(influx.TAGS), influx._GZIP_LEVEL
        )
        path = folder / f"batch-{i:05d}.lp.gz"
        path.write_bytes(body)
        files.append(path)
    return files


def curl_ingest(url: str, files: list[Path], folder: Path) -> None:
    config = folder / "ingest.curl"
    blocks = [
        f'url = "{url}/write?db=metrics&precision=ns"\ndata-binary = "@{path}"\n'
        'header = "Content-Encoding: gzip"\noutput = "/dev/null"\nfail\nsilent\n'
        for path in files
    ]
    config.write_text("next\n".join(blocks))
    subprocess.run(
        [
            "curl",
            "-s",
            "--no-progress-meter",
            "--parallel",
            "--parallel-max",
            str(CONCURRENCY),
            "-K",
            str(config),
        ],
        check=True,
    )


def select_urls(url: str, start: Any, end: Any) -> list[str]:
    """The SELECT requests dwcp_data's default export sends for ``[start, end)``."""
    conn = influx.Connection(url, database="metrics")
    urls = []
    for w in influx._plan(conn, start, end, None):
        params = {"db": "metrics", "epoch": "ns", "chunked": "true", "chunk_size": "10000"}
        params["q"] = f"SELECT * {influx._where(w.lo, w.hi)}"
        urls.append(f"{url}/query?{urllib.parse.urlencode(params)}")
    return urls


def curl_export(urls: list[str]) -> None:
    for u in urls:
        subprocess.run(
            ["curl", "-s", "-f", "-H", "Accept: application/csv", "-o", "/dev/null", u], check=True
        )


def on_fresh_server(
    phases: Callable[[InfluxServer], list[tuple[Timing, Any]]],
) -> list[tuple[Timing, Any]] | str:
    server = InfluxServer()
    try:
        server.query("CREATE DATABASE metrics")
        return phases(server)
    except Exception as exc:  # a failing side is a result to report
        return f"{type(exc).__name__}: {exc}"
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=float, default=30.0, help="the points span this many days")
    args = parser.parse_args()
    step_ms = max(1, round(args.days * 86_400_000 / args.rows))
    df = dwcp_data.generate_synthetic(args.rows, seed=1, freq=f"{step_ms}ms")
    n = df.height
    start, end = df["timestamp"].min(), df["timestamp"].max() + timedelta(microseconds=1)
    print(f"{machine()}; influxd 1.6.7; {n:,} points over {args.days:g} days; collector layout")

    def ours(server: InfluxServer) -> list[tuple[Timing, Any]]:
        pid = server.process.pid
        ingest = phase(pid, lambda: influx.write_metrics(df, url=server.url, database="metrics"))
        export = phase(
            pid, lambda: influx.export_metrics(url=server.url, database="metrics", start=start, end=end)
        )
        assert export[1].height == n, f"exported {export[1].height} of {n}"
        one_window = phase(
            pid,
            lambda: influx.export_metrics(
                url=server.url, database="metrics", start=start, end=end, chunk=end - start
            ),
        )
        default_again = phase(
            pid, lambda: influx.export_metrics(url=server.url, database="metrics", start=start, end=end)
        )
        return [ingest, export, one_window, default_again]

    def ceiling(server: InfluxServer) -> list[tuple[Timing, Any]]:
        pid = server.process.pid
        with tempfile.TemporaryDirectory() as tmp:
            files = gzipped_batches(df, Path(tmp))
            ingest = phase(pid, lambda: curl_ingest(server.url, files, Path(tmp)))
        urls = select_urls(server.url, start, end)
        export = phase(pid, lambda: curl_export(urls))
        return [ingest, (export[0], len(urls))]

    def client(server: InfluxServer) -> list[tuple[Timing, Any]]:
        from influxdb import DataFrameClient

        pid = server.process.pid
        pdf = df.with_columns(pl.col(pl.Enum).cast(pl.String)).to_pandas().set_index("timestamp")
        pdf.index = pdf.index.astype("datetime64[ns, UTC]")  # pandas 3: else the client writes 1970 times
        host, port = server.url.removeprefix("http://").split(":")
        c = DataFrameClient(host=host, port=int(port), database="metrics")
        query = f"SELECT * FROM compression_metrics WHERE time >= '{start.isoformat()}' AND time < '{end.isoformat()}'"
        ingest = phase(
            pid,
            lambda: c.write_points(
                pdf, "compression_metrics", tag_columns=list(influx.TAGS), batch_size=BATCH, protocol="line"
            ),
        )
        # epoch="ns": with pandas 3 the client cannot parse whole-second RFC 3339 times
        export = phase(pid, lambda: len(c.query(query, chunked=False, epoch="ns")["compression_metrics"]))
        assert export[1] == n, f"client exported {export[1]} of {n}"
        return [ingest, export]

    results = {"ceiling (curl)": on_fresh_server(ceiling), "dwcp_data": on_fresh_server(ours)}
    results["influxdb client"] = on_fresh_server(client)
    for name, result in results.items():
        if isinstance(result, str):
            print(f"{name} FAILED: {result}")
    if any(isinstance(r, str) for r in results.values()):
        return
    (c_in, _), (c_out, windows) = results["ceiling (curl)"][0], results["ceiling (curl)"][1]
    (o_in, _), (o_out, _), (one, _), (again, _) = results["dwcp_data"]
    (k_in, _), (k_out, _) = results["influxdb client"]

    print(
        f"\n{'':<16}{'ceiling':>10}{'dwcp_data':>11}{'client':>10}   of ceiling   vs client"
        "   influxd CPU s (ceiling / ours / client)   local CPU s (curl / ours / client)"
    )
    for label, c, o, k in (("ingest pts/s", c_in, o_in, k_in), ("export s", c_out, o_out, k_out)):
        if label.startswith("ingest"):
            cells = [f"{n / t[0]:,.0f}" for t in (c, o, k)]
        else:
            cells = [f"{t[0]:.2f}" for t in (c, o, k)]
        print(
            f"{label:<16}{cells[0]:>10}{cells[1]:>11}{cells[2]:>10}{c[0] / o[0]:>12.0%}{k[0] / o[0]:>11.1f}x"
            f"   {c[1]:>10.1f} / {o[1]:.1f} / {k[1]:<14.1f}{c[2]:>12.1f} / {o[2]:.1f} / {k[2]:.1f}"
        )
    print(f"\nexport windows (default, sized from the data): {windows}")
    best = min(one[0], again[0], o_out[0])
    print(
        f"export, default settings: {o_out[0]:.2f} s and {again[0]:.2f} s; one window: {one[0]:.2f} s; "
        f"default vs best single window: {min(o_out[0], again[0]) / one[0]:.2f}x (best of all runs {best:.2f} s)"
    )


if __name__ == "__main__":
    main()
