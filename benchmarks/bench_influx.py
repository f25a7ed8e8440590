"""InfluxDB ingest and export: dwcp_data.influx vs the ``influxdb`` PyPI client, same server, same points.

Usage: pip install influxdb && python benchmarks/bench_influx.py [--rows N]

Starts its own influxd (Debian's influxdb package) on a free loopback port.
Each side writes into a fresh database and exports everything back.
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta

import polars as pl

import dwcp_data
from dwcp_data import influx

from _common import machine
from influx_server import InfluxServer

TAGS = ["region", "az", "link_type", "data_type", "current_compression", "node_id", "peer_id"]


def timed(fn):
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def main() -> None:
    from influxdb import DataFrameClient

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk", default="30d", help="dwcp_data's export window (default one window: 30d)")
    args = parser.parse_args()
    n = args.rows
    df = dwcp_data.generate_synthetic(n, seed=1, freq="1s")
    start, end = df["timestamp"].min(), df["timestamp"].max() + timedelta(microseconds=1)
    pdf = df.with_columns(pl.col(pl.Enum).cast(pl.String)).to_pandas().set_index("timestamp")
    pdf.index = pdf.index.astype("datetime64[ns, UTC]")  # pandas 3: else the client writes 1970 times
    print(f"{machine()}; influxd 1.6.7; {n:,} points")
    server = InfluxServer()
    try:
        host, port = server.url.removeprefix("http://").split(":")
        server.query("CREATE DATABASE ours")
        server.query("CREATE DATABASE client")
        client = DataFrameClient(host=host, port=int(port), database="client")

        w_ours, _ = timed(lambda: influx.write_metrics(df, url=server.url, database="ours"))
        w_client, _ = timed(
            lambda: client.write_points(
                pdf, "compression_metrics", tag_columns=TAGS, batch_size=5000, protocol="line"
            )
        )
        e_ours, out = timed(
            lambda: influx.export_metrics(
                url=server.url, database="ours", start=start, end=end, chunk=args.chunk
            )
        )
        query = f"SELECT * FROM compression_metrics WHERE time >= '{start.isoformat()}' AND time < '{end.isoformat()}'"
        e_client, got = timed(lambda: client.query(query, chunked=False))
        assert out.height == n, out.height
        assert len(got["compression_metrics"]) == n
    finally:
        server.stop()
    print(f"\n{'':<26}{'dwcp_data':>14}{'influxdb client':>18}{'ratio':>8}")
    print(f"{'ingest (points/s)':<26}{n / w_ours:>14,.0f}{n / w_client:>18,.0f}{w_client / w_ours:>7.1f}x")
    print(f"{'export (s)':<26}{e_ours:>14.2f}{e_client:>18.2f}{e_client / e_ours:>7.1f}x")


if __name__ == "__main__":
    main()
