"""InfluxDB ingest and export against a real influxd (and a local Flux stub)."""

from __future__ import annotations

import gzip
import http.server
import io
import itertools
import json
import re
import shutil
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import ClassVar

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import dwcp_data
from dwcp_data import influx
from dwcp_data.errors import DataError, InfluxError, InvalidArgumentError
from dwcp_data.influx import export as influx_export
from dwcp_data.influx import transport as influx_transport
from dwcp_data.influx import write as influx_write

import collector
from helpers import END
from influx_server import InfluxServer, free_port

HOUR = timedelta(hours=1)


def window(df: pl.DataFrame) -> dict:
    return {"start": df["timestamp"].min(), "end": df["timestamp"].max() + timedelta(microseconds=1)}


@pytest.mark.slow
def test_round_trip_200k_rows(influxd):
    df = dwcp_data.generate_synthetic(200_000, seed=31, end=END, freq="1m")
    report = influx.write_metrics(df, url=influxd.url, database="metrics", batch_size=10_000, gzip=True)
    assert (report.points, report.skipped, report.batches) == (200_000, 0, 20)
    out = influx.export_metrics(url=influxd.url, database="metrics", chunk=timedelta(days=30), **window(df))
    assert out.schema == dwcp_data.SCHEMA
    assert_frame_equal(out, df)


def test_default_layout_is_the_collectors(influxd):
    df = dwcp_data.generate_synthetic(5_000, seed=33, end=END)
    influxd.query("CREATE DATABASE fields")
    influx.write_metrics(df, url=influxd.url, database="fields")
    keys = json.loads(influxd.query(f'SHOW FIELD KEYS FROM "{influx.MEASUREMENT}"', db="fields"))
    types = dict(keys["results"][0]["series"][0]["values"])
    assert types["node_id"] == types["peer_id"] == "string" and types["rtt_ms"] == "float"
    tags = json.loads(influxd.query(f'SHOW TAG KEYS FROM "{influx.MEASUREMENT}"', db="fields"))
    assert sorted(v[0] for v in tags["results"][0]["series"][0]["values"]) == sorted(collector.TAGS)
    assert influx.TAGS == collector.TAGS
    out = influx.export_metrics(url=influxd.url, database="fields", **window(df))
    assert_frame_equal(out, df)


def test_ids_as_tags_round_trip(influxd):
    df = dwcp_data.generate_synthetic(3_000, seed=34, end=END)
    influxd.query("CREATE DATABASE idtags")
    tags = [*influx.TAGS, "node_id", "peer_id"]
    influx.write_metrics(df, url=influxd.url, database="idtags", tags=tags)
    answer = json.loads(influxd.query(f'SHOW TAG KEYS FROM "{influx.MEASUREMENT}"', db="idtags"))
    assert sorted(v[0] for v in answer["results"][0]["series"][0]["values"]) == sorted(tags)
    assert_frame_equal(influx.export_metrics(url=influxd.url, database="idtags", **window(df)), df)


@pytest.mark.slow
def test_collectors_points_export_into_the_schema(influxd):
    # Encoded by the official influxdb-client exactly as §3.1's Go collector builds them.
    df = dwcp_data.generate_synthetic(20_000, seed=35, end=END, freq="1m")
    influxd.query("CREATE DATABASE collected")
    collector.post_lines(influxd.url, "collected", collector.collector_lines(df))
    out = influx.export_metrics(url=influxd.url, database="collected", **window(df))
    assert_frame_equal(out, collector.as_collected(df))
    report = dwcp_data.validate(out)
    assert report.passed, report
    absent = {
        r.column
        for r in report.results
        if r.rule == "missing_values" and str(r.observed).startswith("absent")
    }
    assert absent == set(collector.NEVER_WRITTEN)
    strict = dwcp_data.validate(out, profile="strict")
    assert [r.rule for r in strict.failed_rules] == [
        "missing_values",
        "missing_values",
        "missing_values",
        "missing_values",
        "schema_columns",
    ]
    cleaned, cleaning = dwcp_data.clean(out, report=True)
    labelled = dwcp_data.label_oracle(cleaned)
    assert labelled.height == cleaned.height > 0.7 * df.height
    assert labelled["oracle_compression"].null_count() == 0
    assert cleaning.imputed["active_transfers"] == (0, None)
    metrics = dwcp_data.quality_metrics(labelled)
    assert metrics["missing_share"]["node_id"] == 1.0 and metrics["rows"] == labelled.height


def seconds_from_1000_nodes(n: int) -> pl.DataFrame:
    """``n`` rows from 1,000 nodes logging once a second, times cut to the second
    (a CSV backfill): many rows share the collector's five tags and their second."""
    df = dwcp_data.generate_synthetic(n, seed=36, end=END, freq="1ms")
    return df.with_columns(
        (END - pl.duration(seconds=pl.int_range(n) // 1000)).dt.cast_time_unit("us").alias("timestamp"),
        pl.format("node-{}", pl.int_range(n) % 1000).alias("node_id"),
    )


def count_points(server, database: str) -> int:
    answer = json.loads(server.query(f'SELECT COUNT("rtt_ms") FROM "{influx.MEASUREMENT}"', db=database))
    series = answer["results"][0].get("series")
    return series[0]["values"][0][1] if series else 0


@pytest.mark.slow
def test_colliding_points_raise_before_sending_or_spread(influxd):
    df = seconds_from_1000_nodes(100_000)
    influxd.query("CREATE DATABASE collide")
    with pytest.raises(DataError) as info:
        influx.write_metrics(df, url=influxd.url, database="collide")
    lost = df.height - df.select(pl.struct(*influx.TAGS, "timestamp").n_unique()).item()
    assert info.value.rule == "unique_point" and f"{lost:,} row(s)" in str(info.value)
    assert lost > 10_000 and count_points(influxd, "collide") == 0  # nothing was sent

    report = influx.write_metrics(df, url=influxd.url, database="collide", on_collision="spread")
    assert report.points == df.height and count_points(influxd, "collide") == df.height
    out = influx.export_metrics(url=influxd.url, database="collide", **window(df))
    # Every row landed, each within a microsecond of its own time (fewer than 1,000 share a second).
    key = ["node_id", "rtt_ms", "data_size_bytes"]
    assert out.height == df.height
    assert_frame_equal(out.drop("timestamp").sort(key), df.drop("timestamp").sort(key))
    shift = out.sort(key)["timestamp"] - df.sort(key)["timestamp"]
    assert shift.min() >= timedelta(0) and shift.max() < timedelta(microseconds=1)


def test_spread_moves_only_what_collides():
    base = dwcp_data.generate_synthetic(6, seed=37, end=END).with_columns(
        pl.lit("us-east-1").alias("region"), pl.lit("us-east-1a").alias("az")
    )
    t0 = END.replace(tzinfo=None)
    times = [t0, t0, t0, t0 + timedelta(microseconds=1), t0 + timedelta(seconds=1), t0]
    df = base.with_columns(
        pl.Series("timestamp", times).dt.replace_time_zone("UTC").dt.cast_time_unit("us"),
        pl.Series("link_type", ["dc"] * 5 + ["wan"], dtype=base.schema["link_type"]),
        pl.Series("data_type", ["vm_disk"] * 6, dtype=base.schema["data_type"]),
        pl.Series("current_compression", ["hde"] * 6, dtype=base.schema["current_compression"]),
    )
    ns = influx_write._spread(df, influx.TAGS)["timestamp"].dt.epoch("ns").to_list()
    start = int(t0.replace(tzinfo=timezone.utc).timestamp()) * 10**9
    assert [t - start for t in ns] == [0, 1, 2, 1000, 10**9, 0]


def test_many_series_warn_with_the_count():
    df = dwcp_data.generate_synthetic(150_000, seed=38, end=END, freq="1s")
    with (
        pytest.warns(influx.SeriesCountWarning, match=r"about 1[0-9]{2},[0-9]{3} series"),
        pytest.raises(InfluxError),
    ):
        influx.write_metrics(
            df, url=f"http://127.0.0.1:{free_port()}", database="d", tags=[*influx.TAGS, "node_id"], retries=0
        )


def with_value_at(df: pl.DataFrame, column: str, row: int, value: object) -> pl.DataFrame:
    """``df`` with ``value`` in ``column`` at ``row``."""
    at = pl.int_range(pl.len()) == row
    return df.with_columns(pl.when(at).then(pl.lit(value)).otherwise(pl.col(column)).alias(column))


def test_unwritable_rows_raise_before_sending(stub):
    df = dwcp_data.generate_synthetic(10, seed=39, end=END)
    cases = [
        (with_value_at(df, "node_id", 7, "n1\nevil"), "node_id", 7),
        (with_value_at(df, "region", 3, "eu\r"), "region", 3),
        (with_value_at(df, "timestamp", 2, None), "timestamp", 2),
    ]
    for bad, column, row in cases:
        with pytest.raises(DataError) as info:
            influx.write_metrics(bad, url=stub, bucket="b", org="o", token="t", batch_size=2)
        assert (info.value.column, info.value.row) == (column, row) and "nothing was sent" in str(info.value)
    assert Stub.calls == []


def query_requests(server) -> int:
    with urllib.request.urlopen(f"{server.url}/debug/vars") as r:
        stats = json.loads(r.read())
    return sum(v["values"].get("queryReq", 0) for k, v in stats.items() if k.startswith("httpd"))


@pytest.mark.slow
def test_export_queries_follow_the_points_not_the_range():
    server = InfluxServer()
    try:
        server.query("CREATE DATABASE month")
        df = dwcp_data.generate_synthetic(60_000, seed=40, end=END, freq="43s")  # 30 days
        influx.write_metrics(df, url=server.url, database="month")
        month = {"start": END - timedelta(days=30), "end": END + timedelta(seconds=1)}
        before = query_requests(server)
        out = influx.export_metrics(url=server.url, database="month", **month)
        sized = query_requests(server) - before
        assert_frame_equal(out, df)
        assert sized == 3  # SHOW DATABASES, one count for every window, one window
        before = query_requests(server)
        out = influx.export_metrics(url=server.url, database="month", chunk="6h", **month)
        assert_frame_equal(out, df)
        assert query_requests(server) - before == 2 + 121  # no second query per window
    finally:
        server.stop()


def test_bad_tags():
    df = dwcp_data.generate_synthetic(10, seed=1, end=END)
    for tags in ["region", ["rtt_ms"], ["nope"], ["region", "region"], [3]]:
        with pytest.raises(InvalidArgumentError) as info:
            influx.write_metrics(df, url="http://127.0.0.1:1", database="d", tags=tags)
        assert info.value.param == "tags", tags


def test_max_row_limit_does_not_truncate(influxd_limited):
    df = dwcp_data.generate_synthetic(5_000, seed=32, end=END)
    influx.write_metrics(df, url=influxd_limited.url, database="metrics")
    raw = json.loads(influxd_limited.query(f'SELECT * FROM "{influx.MEASUREMENT}"', db="metrics"))
    assert raw["results"][0]["series"][0].get("partial") is True  # the server does cut plain queries
    assert len(raw["results"][0]["series"][0]["values"]) == 1000
    for chunk in ("10000h", None):
        out = influx.export_metrics(url=influxd_limited.url, database="metrics", chunk=chunk, **window(df))
        assert_frame_equal(out, df)


def test_document_field_names_map_onto_the_schema(influxd):
    lines = (
        f"{influx.MEASUREMENT},region=us-east-1,az=us-east-1a,link_type=metro,data_type=vm_memory,"
        "current_compression=hde data_size_bytes=5242880i,rtt_ms=8.5,bandwidth_mbps=450,compressibility=0.82 "
        "1763123696000000000\n"
    )
    influxd.query("CREATE DATABASE doc")
    req = __import__("urllib.request").request
    req.urlopen(req.Request(f"{influxd.url}/write?db=doc&precision=ns", data=lines.encode(), method="POST"))
    out = influx.export_metrics(url=influxd.url, database="doc", start=END - HOUR, end=END + HOUR)
    assert out.schema == dwcp_data.SCHEMA and out.height == 1
    row = out.row(0, named=True)
    assert row["available_bandwidth_mbps"] == 450 and row["compressibility_score"] == 0.82
    assert row["timestamp"] == END and row["node_id"] is None and row["link_type"] == "metro"


def test_unknown_database_and_closed_port(influxd):
    df = dwcp_data.generate_synthetic(10, seed=1, end=END)
    with pytest.raises(InfluxError) as info:
        influx.write_metrics(df, url=influxd.url, database="nope")
    assert info.value.kind == "database" and "nope" in str(info.value)
    with pytest.raises(InfluxError) as info:
        influx.export_metrics(url=influxd.url, database="nope", **window(df))
    assert info.value.kind == "database"
    closed = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(InfluxError) as info:
        influx.write_metrics(df, url=closed, database="metrics", token="s3cret-token", retries=1)
    assert info.value.kind == "unreachable" and closed in str(info.value)
    assert "s3cret" not in str(info.value)


@pytest.mark.slow
def test_write_waits_for_a_busy_server():
    # influxd answers 500 "cache-max-memory-size exceeded" while its cache is
    # full; the writer backs off until the cache has been snapshotted.
    server = InfluxServer(cache_max_memory=8 << 20, cache_snapshot_memory=1 << 20)
    try:
        server.query("CREATE DATABASE metrics")
        df = dwcp_data.generate_synthetic(40_000, seed=7, end=END, freq="1m")
        # Node ids as tags: a series per point, which fills the small cache quickly.
        tags = [*influx.TAGS, "node_id", "peer_id"]
        report = influx.write_metrics(
            df, url=server.url, database="metrics", tags=tags, retries=0, concurrency=4
        )
        assert report.points == df.height
        with urllib.request.urlopen(f"{server.url}/debug/vars") as r:
            stats = json.loads(r.read())
        refused = sum(v["values"].get("serverError", 0) for k, v in stats.items() if k.startswith("httpd"))
        assert refused > 0, "the server never pushed back: the test no longer tests backing off"
        out = influx.export_metrics(url=server.url, database="metrics", chunk="30d", **window(df))
        assert_frame_equal(out, df)
    finally:
        server.stop()


def test_credentials(influxd_auth):
    df = dwcp_data.generate_synthetic(100, seed=2, end=END)
    for creds in ({}, {"username": "admin", "password": "wrong"}, {"token": "admin:wrong"}):
        with pytest.raises(InfluxError) as info:
            influx.write_metrics(df, url=influxd_auth.url, database="metrics", **creds)
        assert info.value.kind == "auth" and "wrong" not in str(info.value)
    influx.write_metrics(df, url=influxd_auth.url, database="metrics", username="admin", password="secret")
    out = influx.export_metrics(url=influxd_auth.url, database="metrics", token="admin:secret", **window(df))
    assert_frame_equal(out, df)


@pytest.mark.slow
def test_server_killed_mid_export_leaves_no_file(tmp_path):
    server = InfluxServer()
    try:
        server.query("CREATE DATABASE metrics")
        df = dwcp_data.generate_synthetic(60_000, seed=3, end=END, freq="1m")
        influx.write_metrics(df, url=server.url, database="metrics")
        out = tmp_path / "export.parquet"
        failure: list[BaseException] = []

        def export() -> None:
            try:
                influx.export_to_file(
                    out, url=server.url, database="metrics", chunk="2h", retries=2, timeout=5, **window(df)
                )
            except BaseException as exc:
                failure.append(exc)

        thread = threading.Thread(target=export)
        thread.start()
        deadline = time.monotonic() + 30
        while not list(tmp_path.glob(".export.parquet.*")) and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(0.2)
        server.process.kill()
        thread.join(60)
        assert failure and isinstance(failure[0], InfluxError), failure
        assert failure[0].kind in ("unreachable", "server")
        assert not out.exists() and not list(tmp_path.iterdir())
    finally:
        server.stop()


# --- InfluxDB 2.x: Flux and /api/v2/write against a local stub -------------------------------------


def annotated_csv(df: pl.DataFrame) -> str:
    """``df`` as Flux's annotated CSV after a pivot (two tables, as a server splits series)."""
    cols = [c for c in df.columns if c != "timestamp"]
    flux_types = {pl.Float64: "double", pl.Int64: "long"}
    types = ",".join(flux_types.get(df.schema[c], "string") for c in cols)
    half = df.height // 2
    out = []
    for table, part in enumerate((df.head(half), df.slice(half))):
        out.append(f"#datatype,string,long,dateTime:RFC3339,{types}")
        out.append("#group,false,false,false," + ",".join("false" for _ in cols))
        out.append("#default,_result,,," + ",".join("" for _ in cols))
        out.append(",result,table,_time," + ",".join(cols))
        text = (
            part.with_columns(pl.col("timestamp").dt.strftime("%Y-%m-%dT%H:%M:%S%.fZ"))
            .select("timestamp", *cols)
            .cast(pl.String)
        )
        for row in text.iter_rows():
            out.append(f",,{table}," + ",".join("" if v is None else v for v in row))
        out.append("")
    return "\n".join(out) + "\n"


class Stub(http.server.BaseHTTPRequestHandler):
    calls: ClassVar[list[tuple[str, str, dict, bytes]]] = []
    fail_first: ClassVar[int] = 0
    fail_after: ClassVar[int | None] = None
    failure: ClassVar[tuple[int, bytes]] = (503, b"")
    body: ClassVar[str] = ""

    def log_message(self, *args) -> None:  # quiet
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        payload = self.rfile.read(length)
        Stub.calls.append((self.command, self.path, dict(self.headers), payload))
        failing = Stub.fail_after is not None and len(Stub.calls) > Stub.fail_after
        if Stub.fail_first > 0 or failing:
            Stub.fail_first = max(0, Stub.fail_first - 1)
            status, text = Stub.failure
            self.send_response(status)
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)
            return
        if self.path.startswith("/api/v2/write"):
            self.send_response(204)
            self.end_headers()
            return
        data = Stub.body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer


@pytest.fixture()
def stub():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Stub.calls, Stub.fail_first, Stub.fail_after, Stub.failure = [], 0, None, (503, b"")
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_v2_write_retries_on_503(stub):
    Stub.fail_first = 2
    df = dwcp_data.generate_synthetic(100, seed=5, end=END)
    report = influx.write_metrics(df, url=stub, bucket="b", org="o", token="t", retries=3)
    assert report.points == 100
    posts = [c for c in Stub.calls if c[0] == "POST"]
    assert len(posts) == 3 and "bucket=b" in posts[-1][1]


def test_gzip_unless_the_server_is_on_this_machine(stub):
    df = dwcp_data.generate_synthetic(100, seed=5, end=END)
    influx.write_metrics(df, url=stub, bucket="b", org="o", token="t")  # a loopback server: plain
    influx.write_metrics(df, url=stub, bucket="b", org="o", token="t", gzip=True)
    (_, _, plain_headers, plain), (_, _, gz_headers, gzipped) = Stub.calls
    assert "Content-Encoding" not in plain_headers and plain.startswith(b"compression_metrics,")
    assert gz_headers["Content-Encoding"] == "gzip" and gzip.decompress(gzipped) == plain
    for host, local in [
        ("localhost", True),
        ("127.0.0.2", True),
        ("[::1]", True),
        ("10.1.2.3", False),
        ("influx.internal", False),
        ("127.0.0.1.example.com", False),
    ]:
        assert influx.Connection(url=f"http://{host}:8086", database="m").is_local is local, host


CACHE_FULL = (500, b'{"error":"engine: cache-max-memory-size exceeded: (1091316299/1073741824)"}')


def test_busy_server_is_waited_for_beyond_retries(stub):
    Stub.fail_first, Stub.failure = 3, CACHE_FULL
    df = dwcp_data.generate_synthetic(100, seed=5, end=END)
    report = influx.write_metrics(df, url=stub, bucket="b", org="o", token="t", retries=0)
    assert report.points == 100 and len(Stub.calls) == 4


def test_busy_server_gives_up_after_timeout(stub):
    Stub.fail_first, Stub.failure = 10**6, CACHE_FULL
    df = dwcp_data.generate_synthetic(100, seed=5, end=END)
    started = time.monotonic()
    with pytest.raises(InfluxError) as info:
        influx.write_metrics(df, url=stub, bucket="b", org="o", token="t", timeout=1.0)
    assert info.value.kind == "timeout" and "stayed busy" in str(info.value)
    assert "cache-max-memory-size exceeded" in str(info.value)
    assert time.monotonic() - started < 5


def test_throttle_halves_on_busy_and_recovers():
    throttle = influx_write._Throttle(4)
    throttle.busy()
    assert throttle.limit == 2
    throttle.busy()
    throttle.busy()
    assert throttle.limit == 1
    for _ in range(4):
        with throttle:
            assert throttle.in_flight == 1
    assert throttle.limit == 2
    with pytest.raises(RuntimeError), throttle:
        raise RuntimeError  # a failed write frees its slot but does not count as a success
    assert (throttle.in_flight, throttle.streak) == (0, 0)


def test_other_5xx_count_against_retries(stub):
    Stub.fail_first, Stub.failure = 3, (500, b'{"error":"boom"}')
    df = dwcp_data.generate_synthetic(100, seed=5, end=END)
    with pytest.raises(InfluxError) as info:
        influx.write_metrics(df, url=stub, bucket="b", org="o", token="t", retries=2)
    assert info.value.kind == "server" and "boom" in str(info.value) and len(Stub.calls) == 3


def test_bad_arguments():
    for kwargs, param in [
        ({"url": "localhost:8086", "database": "d"}, "url"),
        ({"url": "http://x"}, "database"),
        ({"url": "http://x", "database": "d", "gzip": "yes"}, "gzip"),
    ]:
        with pytest.raises(InvalidArgumentError) as info:
            influx.write_metrics(dwcp_data.generate_synthetic(1, end=END), **kwargs)
        assert info.value.param == param
    with pytest.raises(InvalidArgumentError):
        influx.export_metrics(url="http://x", database="d", start=END, end=END - HOUR)


def test_cli_ingest_and_export(influxd, tmp_path):
    import shutil
    import subprocess

    df = dwcp_data.generate_synthetic(3000, seed=6, end=END)
    src = dwcp_data.write_training_data(df, tmp_path / "in.parquet")
    influxd.query("CREATE DATABASE cli")
    exe = shutil.which("dwcp-data")
    conn = ["--influx-url", influxd.url, "--database", "cli"]
    proc = subprocess.run([exe, "ingest", str(src), *conn, "--json"], capture_output=True, text=True)
    assert proc.returncode == 0 and json.loads(proc.stdout)["points"] == 3000, proc.stderr
    influxd.query("CREATE DATABASE cli_fields")
    fields_db = ["--influx-url", influxd.url, "--database", "cli_fields"]
    proc = subprocess.run(
        [exe, "ingest", str(src), *fields_db, "--tags", "region,az,link_type,data_type,current_compression"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    fields = json.loads(influxd.query(f'SHOW FIELD KEYS FROM "{influx.MEASUREMENT}"', db="cli_fields"))
    assert ["node_id", "string"] in fields["results"][0]["series"][0]["values"]
    # Parquet, and the design document's own usage: --output metrics.csv
    for out in (tmp_path / "out.parquet", tmp_path / "out.csv"):
        proc = subprocess.run(
            [exe, "export", *conn, "--end", (END + HOUR).isoformat(), "--days", "200", "--output", str(out)],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0 and "Exported 3,000 records" in proc.stdout, proc.stderr
        assert_frame_equal(dwcp_data.read_training_data(out), df)
    proc = subprocess.run(
        [
            exe,
            "export",
            "--influx-url",
            influxd.url,
            "--database",
            "nope",
            "--output",
            str(tmp_path / "x.parquet"),
        ],
        capture_output=True,
        text=True,
    )
    assert (
        proc.returncode == 2 and "database not found" in proc.stderr and not (tmp_path / "x.parquet").exists()
    )


# --- hostile and broken servers, secrets, injection ---------------------------------------------------


class Hostile(http.server.BaseHTTPRequestHandler):
    """An InfluxDB look-alike: normal answers to SHOW DATABASES and counts, then
    ``mode`` for the data: ``trickle`` (a byte every half second), ``html`` (a
    proxy's page), ``json200`` (an error in JSON with 200) or ``garbage`` (CSV
    without a time column). ``trickle_all`` trickles every answer."""

    mode: ClassVar[str] = "trickle"

    def log_message(self, *args) -> None:
        pass

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).get("q", [""])[0]
        if Hostile.mode == "trickle_all" or (Hostile.mode == "trickle" and query.startswith("SELECT *")):
            self.send_response(200)
            self.send_header("Content-Type", "application/csv")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            for _ in range(40):  # bounded: 20 s at the most
                try:
                    self.wfile.write(b"x")
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.5)
            return
        if query.startswith("SHOW DATABASES"):
            self._send(200, "application/json", b'{"results":[{"series":[{"values":[["d"]]}]}]}')
        elif query.startswith("SELECT COUNT"):
            self._send(200, "application/json", b'{"results":[{"statement_id":0}]}')
        elif Hostile.mode == "html":
            self._send(200, "text/html", b"<html><body>502 upstream error</body></html>")
        elif Hostile.mode == "json200":
            self._send(200, "application/json", b'{"error":"boom"}')
        else:
            self._send(200, "application/csv", b"not,influx\n1,2\n")


@pytest.fixture()
def hostile():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(params=["rust", "http.client"])
def reader(request, monkeypatch):
    """Answers read from the socket in Rust, or through http.client as over TLS."""
    monkeypatch.setattr(influx_transport, "_RUST_READS", request.param == "rust")
    return request.param


def test_both_readers_give_the_same_export(influxd, reader):
    df = dwcp_data.generate_synthetic(30_000, seed=8, end=END, freq="10s")
    influxd.query("CREATE DATABASE readers")
    influx.write_metrics(df, url=influxd.url, database="readers")
    for chunk in (None, "1h"):  # one chunked answer, and many small ones
        got = influx.export_metrics(url=influxd.url, database="readers", chunk=chunk, **window(df))
        assert_frame_equal(got, df)


@pytest.mark.parametrize("mode", ["trickle", "trickle_all"])
def test_a_slow_server_is_bounded_by_the_timeout(hostile, mode, reader):
    Hostile.mode = mode
    started = time.monotonic()
    with pytest.raises(InfluxError) as info:
        influx.export_metrics(url=hostile, database="d", start=END - HOUR, end=END, timeout=2)
    assert info.value.kind == "timeout" and "timeout=2 s" in str(info.value)
    assert time.monotonic() - started < 3.5


@pytest.mark.parametrize(
    ("mode", "needle"),
    [("html", "text/html instead of CSV"), ("json200", "boom"), ("garbage", "without a time column")],
)
def test_answers_that_are_not_influxdbs_raise(hostile, mode, needle):
    Hostile.mode = mode
    with pytest.raises(InfluxError) as info:
        influx.export_metrics(url=hostile, database="d", start=END - HOUR, end=END)
    assert info.value.kind == "server" and needle in str(info.value)


def test_secrets_never_show(influxd_auth):
    df = dwcp_data.generate_synthetic(100, seed=2, end=END)
    host = influxd_auth.url.removeprefix("http://")
    # Credentials in the URL are used as basic auth, and never shown.
    report = influx.write_metrics(df, url=f"http://admin:secret@{host}", database="metrics")
    assert report.points == 100
    with pytest.raises(InfluxError) as info:
        influx.write_metrics(df, url=f"http://admin:Pa55word@{host}", database="metrics")
    assert info.value.kind == "auth" and "Pa55word" not in str(info.value) and "admin" not in str(info.value)
    closed = f"http://admin:Pa55word@127.0.0.1:{free_port()}/"
    with pytest.raises(InfluxError) as info:
        influx.export_metrics(url=closed, database="d", start=END - HOUR, end=END, retries=0)
    assert "Pa55word" not in str(info.value) and "Pa55word" not in info.value.url
    with pytest.raises(InvalidArgumentError) as bad:
        influx.Connection("ftp://admin:Pa55word@h", database="d")
    assert "Pa55word" not in str(bad.value)
    conn = influx.Connection("http://u:Pa55word@h:1", database="d")
    shown = repr(influx.Connection("http://h:1", database="d", token="t0ken-Secret", password="Pa55word"))
    assert "Pa55word" not in repr(conn) + shown and "t0ken-Secret" not in shown
    assert (conn.url, conn.username, conn.password) == ("http://h:1", "u", "Pa55word")


def test_flux_to_a_1x_server_says_to_use_database(influxd):
    with pytest.raises(InfluxError) as info:
        influx.export_metrics(url=influxd.url, bucket="b", org="o", start=END - HOUR, end=END)
    assert "no /api/v2/query" in str(info.value) and "database=" in str(info.value)


def test_a_write_failing_part_way_says_what_landed(stub):
    Stub.fail_after, Stub.failure = 2, (400, b'{"error":"partial write: field type conflict"}')
    df = dwcp_data.generate_synthetic(1000, seed=5, end=END)
    with pytest.raises(InfluxError) as info:
        influx.write_metrics(df, url=stub, bucket="b", org="o", token="t", batch_size=100, concurrency=1)
    report = info.value.report
    assert (report.batches, report.points, report.landed) == (2, 200, ((0, 200),))
    assert "2 of 10 batches" in str(info.value) and "rows 0-199" in str(info.value)
    assert len([c for c in Stub.calls if c[0] == "POST"]) == 3  # nothing sent after the failure


def test_flux_stub_matches_the_official_clients_parser():
    # The stub's annotated CSV, read by influxdb-client's own Flux CSV parser, holds our values.
    from influxdb_client.client.flux_csv_parser import FluxCsvParser, FluxSerializationMode

    df = dwcp_data.generate_synthetic(50, seed=9, end=END).with_columns(
        pl.when(pl.int_range(50) % 7 == 0).then(None).otherwise(pl.col("rtt_ms")).alias("rtt_ms")
    )
    body = annotated_csv(df)
    answer = io.BytesIO(body.encode())
    answer.release_conn = lambda: None  # what the parser calls on an HTTP response when done
    parser = FluxCsvParser(response=answer, serialization_mode=FluxSerializationMode.stream)
    records = [record.values for record in parser.generator()]
    ours = influx_export._parse(influx.Connection("http://x", database="d"), body.encode())
    assert_frame_equal(ours, df)
    assert len(records) == df.height
    text = ours.with_columns(pl.col(pl.Enum).cast(pl.String))
    for record, row in zip(records, text.iter_rows(named=True), strict=True):
        assert record["_time"] == row["timestamp"]
        assert {c: record[c] for c in df.columns if c != "timestamp"} == {
            c: row[c] for c in df.columns if c != "timestamp"
        }


#: What InfluxDB 1.x cannot read back as a tag value, as this test states it
#: (independently of the encoder, which refuses such values): a run of an odd
#: number of backslashes before a separator or at the end.
UNWRITABLE_TAG = r"(?:^|[^\\])(?:\\\\)*\\(?:[,= ]|$)"

_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\r\n"), min_size=1, max_size=12)
_tag_text = _text.filter(lambda t: not re.search(UNWRITABLE_TAG, t))
_round_trips = itertools.count()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.tuples(_tag_text, _tag_text, _text, _text), min_size=1, max_size=6),
    st.sampled_from([",", "=", " ", '"', "\\", "é", "😀", "\\\\,", "a\\b"]),
)
def test_any_text_round_trips_through_the_server(influxd, rows, extra):
    # Tags (region, az) and string fields (node_id, peer_id) holding any Unicode come back as written.
    k = next(_round_trips)
    base = dwcp_data.generate_synthetic(len(rows), seed=k, end=END + timedelta(days=k), freq="1s")
    region, az, node, peer = (list(c) for c in zip(*rows, strict=True))
    df = base.with_columns(
        pl.Series(
            "region",
            [r + (extra if not re.search(UNWRITABLE_TAG, r + extra) else "") for r in region],
        ),
        pl.Series("az", az),
        pl.Series("node_id", [n + extra for n in node]),
        pl.Series("peer_id", peer),
    )
    influxd.query("CREATE DATABASE unicode")
    influx.write_metrics(df, url=influxd.url, database="unicode")
    out = influx.export_metrics(url=influxd.url, database="unicode", **window(df))
    assert_frame_equal(out, df)


@pytest.mark.parametrize("value", ["n1\\", "a\\,b", "a\\ b", "a\\=b", "x\\\\\\"])
def test_tag_values_influxdb_cannot_read_back_are_refused(stub, value):
    df = dwcp_data.generate_synthetic(3, seed=1, end=END).with_columns(pl.lit(value).alias("region"))
    with pytest.raises(DataError) as info:
        influx.write_metrics(df, url=stub, bucket="b", org="o", token="t")
    assert (info.value.column, info.value.row) == ("region", 0) and Stub.calls == []
    # As a string field the same value is fine: it is quoted.
    assert influx.write_metrics(df, url=stub, bucket="b", org="o", token="t", tags=["az"]).points == 3


def test_series_keys_longer_than_influxdb_stores_are_refused_before_sending(influxd):
    # The measurement, the tags and their escapes, "#!~#" and the longest field name
    # make the key: at the limit the real server stores the point, one byte over it
    # is refused before sending.
    influxd.query("CREATE DATABASE longkeys")
    df = dwcp_data.generate_synthetic(6, seed=3, end=END)
    others = ("az", "link_type", "data_type", "current_compression")

    def room(row: int) -> int:
        fixed = len(influx.MEASUREMENT) + sum(2 + len(t) + len(str(df[t][row])) for t in others)
        return (
            influx.MAX_SERIES_KEY_BYTES
            - fixed
            - len(",region=")
            - len("#!~#")
            - len("baseline_compressed_size_bytes")
        )

    fits = with_value_at(
        df.head(1), "region", 0, "a b" + "x" * (room(0) - 4)
    )  # the space is escaped: 1 more byte
    influx.write_metrics(fits, url=influxd.url, database="longkeys")
    assert count_points(influxd, "longkeys") == 1
    too_long = with_value_at(df, "region", 3, "x" * (room(3) + 1))
    with pytest.raises(DataError, match="key longer than") as info:
        influx.write_metrics(too_long, url=influxd.url, database="longkeys")
    assert (info.value.column, info.value.row) == ("region", 3)
    assert count_points(influxd, "longkeys") == 1, "nothing was sent"
    # without its longest field the same point fits
    shorter = with_value_at(df.head(1), "region", 0, "x" * (room(0) + 1)).with_columns(
        pl.lit(None, dtype=pl.Int64).alias("baseline_compressed_size_bytes")
    )
    influx.write_metrics(shorter, url=influxd.url, database="longkeys")
    assert count_points(influxd, "longkeys") == 2


def test_a_partial_write_reports_what_the_server_stored(influxd):
    influxd.query("CREATE DATABASE partial")
    df = dwcp_data.generate_synthetic(300, seed=8, end=END)
    first = df.head(100).with_columns(pl.lit("text").alias("note"))
    influx.write_metrics(first, url=influxd.url, database="partial")
    # `note` as an integer in the same shard: the server drops those points (field type conflict)
    later = df.slice(100, 200).with_columns(
        pl.when(pl.int_range(pl.len()) % 3 == 0).then(pl.lit(7)).otherwise(None).alias("note")
    )
    with pytest.raises(InfluxError) as info:
        influx.write_metrics(later, url=influxd.url, database="partial", batch_size=50, concurrency=1)
    error = info.value
    assert error.kind == "partial" and error.dropped == 17, str(error)
    report = error.report
    assert report.landed == () and report.partly_landed == ((0, 50, 33),)
    assert report.points == 33 and "33 of the 50 rows 0-49" in str(error)
    assert count_points(influxd, "partial") == 100 + 33


def test_values_influxdb_cannot_hold_are_counted_and_read_back_as_null(influxd):
    influxd.query("CREATE DATABASE lossy")
    df = dwcp_data.generate_synthetic(20, seed=2, end=END)
    df = with_value_at(df, "rtt_ms", 1, float("nan"))
    df = with_value_at(df, "jitter_ms", 2, float("inf"))
    df = with_value_at(df, "jitter_ms", 3, float("-inf"))
    df = with_value_at(df, "node_id", 4, "")
    df = with_value_at(df, "az", 5, "")
    with pytest.warns(influx.ValuesNotStoredWarning, match="rtt_ms"):
        report = influx.write_metrics(df, url=influxd.url, database="lossy")
    assert report.not_stored == {"rtt_ms": 1, "jitter_ms": 2, "node_id": 1, "az": 1}
    out = influx.export_metrics(url=influxd.url, database="lossy", **window(df))
    assert [
        out[c][r] for c, r in (("rtt_ms", 1), ("jitter_ms", 2), ("jitter_ms", 3), ("node_id", 4), ("az", 5))
    ] == [None] * 5


def test_times_influxdb_cannot_store_are_refused(stub):
    df = dwcp_data.generate_synthetic(5, seed=2, end=END)
    late = with_value_at(df, "timestamp", 2, datetime(2300, 1, 1, tzinfo=timezone.utc))
    with pytest.raises(DataError, match="outside the times InfluxDB stores") as info:
        influx.write_metrics(late, url=stub, bucket="b", org="o", token="t")
    assert (info.value.column, info.value.row) == ("timestamp", 2) and Stub.calls == []
    for start, end, param in [
        (END, datetime(2300, 1, 1, tzinfo=timezone.utc), "end"),
        (datetime(1600, 1, 1, tzinfo=timezone.utc), END, "start"),
    ]:
        with pytest.raises(InvalidArgumentError) as info:
            influx.export_metrics(url=stub, bucket="b", org="o", token="t", start=start, end=end)
        assert info.value.param == param


def month_on_the_server(influxd, database: str, days: int = 30, per_day: int = 96) -> pl.DataFrame:
    """``days`` days of the collector's points (``per_day`` a day) in ``database``."""
    df = dwcp_data.generate_synthetic(days * per_day, seed=51, end=END, freq=f"{24 * 60 // per_day}m")
    influxd.query(f"CREATE DATABASE {database}")
    collector.post_lines(influxd.url, database, collector.collector_lines(df))
    return df


def test_export_to_a_folder_reads_only_new_or_changed_days(influxd, tmp_path):
    df = month_on_the_server(influxd, "daily")
    span = {"start": df["timestamp"].min(), "end": df["timestamp"].max() + timedelta(seconds=1)}
    out = tmp_path / "exports"
    first = influx.export_to_folder(out, url=influxd.url, database="daily", **span)
    assert len(first.files) == 31 and len(first.exported) == 31 and first.reused == ()
    assert [f.name for f in first.files] == sorted(f.name for f in out.glob("day-*.parquet"))
    assert_frame_equal(dwcp_data.read_training_data(first.files), collector.as_collected(df))
    assert first.rows == df.height
    # one day changes on the server: a point added
    changed = df.filter(pl.col("timestamp").dt.date() == df["timestamp"][1500].date()).head(1)
    moved = changed.with_columns(pl.col("timestamp") + timedelta(seconds=7))
    collector.post_lines(influxd.url, "daily", collector.collector_lines(moved))
    before = query_requests(influxd)
    second = influx.export_to_folder(out, url=influxd.url, database="daily", **span)
    assert second.exported == (str(changed["timestamp"][0].date()),) and len(second.reused) == 30
    # the database check and the day counts, then the one day's SELECT
    assert query_requests(influxd) - before == 2 + 1
    fresh = influx.export_to_folder(tmp_path / "fresh", url=influxd.url, database="daily", **span)
    assert_frame_equal(dwcp_data.read_training_data(second.files), dwcp_data.read_training_data(fresh.files))
    assert second.rows == df.height + 1
    # a shard someone altered is exported again
    victim = second.files[4]
    pl.read_parquet(victim).head(3).write_parquet(victim)
    third = influx.export_to_folder(out, url=influxd.url, database="daily", **span)
    assert third.exported == (victim.name[4:14],)
    # pruning keeps the days of the range only
    last_week = {"start": span["end"] - timedelta(days=7), "end": span["end"]}
    pruned = influx.export_to_folder(out, url=influxd.url, database="daily", prune=True, **last_week)
    assert sorted(p.name for p in out.glob("day-*.parquet")) == [f.name for f in pruned.files]
    # the first day is cut at another hour now: exported again; the others are reused
    assert len(pruned.files) == 8 and pruned.exported == (pruned.files[0].name[4:14],)


def test_an_export_killed_part_way_resumes_from_the_finished_days(influxd, tmp_path):
    df = month_on_the_server(influxd, "resumed", days=30, per_day=1440)
    out = tmp_path / "exports"
    args = [
        shutil.which("dwcp-data") or "",
        "export",
        "--influx-url",
        influxd.url,
        "--database",
        "resumed",
        "--start",
        df["timestamp"].min().isoformat(),
        "--end",
        (df["timestamp"].max() + timedelta(seconds=1)).isoformat(),
        "--output",
        str(out),
        "--concurrency",
        "1",
        "--json",
    ]
    manifest = out / "_dwcp_manifest.json"

    def recorded() -> dict:
        # written atomically after each day's shard is in place: a day is done once recorded
        return json.loads(manifest.read_text())["days"] if manifest.exists() else {}

    with subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as proc:
        try:
            deadline = time.monotonic() + 120
            while len(recorded()) < 5:
                assert time.monotonic() < deadline and proc.poll() is None, (
                    proc.stderr.read() if proc.stderr else ""
                )
                time.sleep(0.02)
        finally:
            proc.kill()
    done = recorded()
    assert 5 <= len(done) < 31
    again = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert sorted(summary["reused"]) == sorted(done) and len(summary["exported"]) == 31 - len(done)
    got = dwcp_data.read_training_data([*map(Path, summary["files"])])
    assert_frame_equal(got, collector.as_collected(df))
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "no temporary file left"


def test_an_export_folder_is_ours_or_refused(influxd, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("x")
    with pytest.raises(InvalidArgumentError, match=r"thesis\.tex"):
        influx.export_to_folder(home, url=influxd.url, database="metrics", start=END - HOUR, end=END)
    dwcp_data.clean_dataset(
        dwcp_data.write_training_data(dwcp_data.generate_synthetic(100, end=END), tmp_path / "g"),
        tmp_path / "c",
    )
    with pytest.raises(InvalidArgumentError, match="not an export"):
        influx.export_to_folder(
            tmp_path / "c", url=influxd.url, database="metrics", start=END - HOUR, end=END
        )
    assert (home / "thesis.tex").exists()
