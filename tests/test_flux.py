"""The 2.x API (Flux) as InfluxDB 1.8.3 speaks it: the parser on answers recorded from a
real server, a stub checked against those answers, and exports through the stub.

``tests/data/influxdb-1.8-flux`` holds what a real InfluxDB 1.8.3 (Flux 0.65.1) was
recorded answering (see its README): ``data.lp`` the points written (the project's
and, through the official ``influxdb-client``, the design document's collector
layout with a field whose type changes between shard groups), ``data.csv`` the same
points in the schema, ``answers.jsonl.gz`` every request and answer byte for byte.
"""

from __future__ import annotations

import gzip
import io
import json
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import dwcp_data
from dwcp_data import influx
from dwcp_data.errors import InfluxError
from dwcp_data.influx import _flux
from dwcp_data.influx import export as influx_export

from flux_stub import FluxStub, State, parse_line_protocol

DATA = Path(__file__).parent / "data" / "influxdb-1.8-flux"
START = datetime(2026, 11, 18, tzinfo=timezone.utc)
END = datetime(2026, 12, 2, tzinfo=timezone.utc)
BUCKET = "dwcp_metrics/autogen"


def recorded() -> list[dict]:
    with gzip.open(DATA / "answers.jsonl.gz", "rt") as f:
        return [json.loads(line) for line in f]


ANSWERS = recorded()
#: The project's own export queries and their errors: the shapes the stub serves.
PROJECT_QUERIES = [
    a
    for a in ANSWERS
    if a["request"]["path"] == "/api/v2/query"
    and a["request"]["headers"].get("Accept") == "application/csv"
    and '|> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value") |> drop('
    in a["request"]["body"].replace('\\"', '"')
    and "r._field" not in a["request"]["body"]
    and not a["name"].startswith("auth")
]
#: Every recorded write but the auth cases, in the order sent: good ones, empty and gzip bodies,
#: bad lines, type conflicts, unknown databases and policies.
WRITES = [a for a in ANSWERS if a["request"]["path"] == "/api/v2/write" and not a["name"].startswith("auth")]


def truth() -> pl.DataFrame:
    """The 330 written points in the schema, as the recording's ground truth."""
    return dwcp_data.read_training_data(DATA / "data.csv")


def in_range(df: pl.DataFrame, start: datetime = START, end: datetime = END) -> pl.DataFrame:
    return df.filter((pl.col("timestamp") >= start) & (pl.col("timestamp") < end))


def canonical(df: pl.DataFrame) -> pl.DataFrame:
    """Rows in a fixed order: answers come one series after another, not in time order."""
    return df.sort(["timestamp", "region", "az", "link_type", "data_type", "rtt_ms"], nulls_last=True)


def parse(body: str) -> pl.DataFrame:
    conn = influx.Connection("http://recorded", bucket=BUCKET)
    return influx_export._parse(conn, body.encode())


@pytest.fixture()
def server():
    """The stub, loaded with exactly what the recorded server held."""
    state = State(databases={"dwcp_metrics": {"autogen"}, "scratch": {"autogen"}})
    with FluxStub(state) as stub:
        with gzip.open(DATA / "data.lp.gz", "rt") as f:
            state.points["dwcp_metrics"] = parse_line_protocol(f.read())
        yield stub


def post(url: str, answer: dict) -> tuple[int, dict[str, str], str]:
    """The recorded request, sent to ``url``: status, headers, body."""
    req = answer["request"]
    query = "&".join(f"{k}={v}" for k, v in req["query_params"].items())
    request = urllib.request.Request(
        f"{url}{req['path']}?{query}", data=req["body"].encode(), method=req["method"], headers=req["headers"]
    )
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


# --- the parser on the real server's own answers ------------------------------------------------


def test_the_recording_holds_what_the_tests_rely_on():
    names = {a["name"] for a in ANSWERS}
    assert len(ANSWERS) == 123 and len(PROJECT_QUERIES) >= 75 and len(WRITES) >= 6
    assert {"flux_inband_error_after_data", "flux_empty_range", "flux_unknown_bucket"} <= names
    assert all(
        a["response"]["headers"]["X-Influxdb-Version"] == "1.8.3" for a in ANSWERS if a["name"] != "ping"
    )


@pytest.mark.parametrize(
    "answer",
    [
        a
        for a in ANSWERS
        if a["request"]["path"] == "/api/v2/query"
        and a["response"]["status"] == 200
        and a["response"]["headers"].get("Content-Type", "").startswith("text/csv")
    ],
    ids=lambda a: a["name"],
)
def test_every_recorded_data_answer_parses(answer):
    body = answer["response"]["body"]
    if answer["name"] == "flux_inband_error_after_data":
        with pytest.raises(InfluxError, match="expected integer cursor type") as info:
            parse(body)
        assert info.value.kind == "query"
        return
    rows = sum(1 for line in body.split("\r\n") if line.startswith(",,"))
    df = parse(body)
    assert df.height == rows and df.columns == list(dwcp_data.SCHEMA)
    if body == "\r\n":  # the empty answer
        assert rows == 0


@pytest.mark.parametrize(
    "answer", [a for a in ANSWERS if a["response"]["status"] >= 400], ids=lambda a: a["name"]
)
def test_every_recorded_error_names_the_servers_message(answer):
    headers, body = answer["response"]["headers"], answer["response"]["body"]
    said = headers.get("X-Influxdb-Error")
    if said is None:  # 401s and a 404 page carry no header: the body says it
        assert _flux.error_message({}, body) in {
            "authorization failed",
            "unable to parse authentication credentials",
            "404 page not found",
        }
        return
    # the header and the body (CSV with Go quoting, or JSON) give the same message
    assert _flux.error_message(headers, body) == said
    assert _flux.error_message({}, body) == said


def test_the_export_over_the_recorded_answers_finds_each_point_once():
    # What 1.8.3 sent for the old query (range includes stop): duplicates the new query leaves out.
    old = pl.concat(
        [parse(a["response"]["body"]) for a in ANSWERS if a["name"].startswith("flux_export_default_1d/")]
    )
    assert (
        old.height == 350
    )  # 329 points in [start, end), 17 midnights twice, the point at `end`, 3 type-dropped nulls


# --- the stub answers as the server did ---------------------------------------------------------


@pytest.mark.parametrize("answer", PROJECT_QUERIES, ids=lambda a: a["name"])
def test_the_stub_answers_the_recorded_queries_as_the_server_did(server, answer):
    status, headers, body = post(server.url, answer)
    expected = answer["response"]
    assert status == expected["status"]
    assert headers["Content-Type"] == expected["headers"]["Content-Type"]
    if status == 200:
        assert headers.get("Transfer-Encoding") == "chunked" and "Content-Length" not in headers
        assert_frame_equal(parse(body), parse(expected["body"]))
        assert body == expected["body"]  # byte for byte, CRLF, blocks and number formats included
    else:
        assert headers["X-Influxdb-Error"] == expected["headers"]["X-Influxdb-Error"]
        assert body == expected["body"]


def test_the_stub_answers_the_recorded_writes_as_the_server_did():
    # replayed in order on one server, as recorded: a type conflict needs the writes before it
    state = State(databases={"dwcp_metrics": {"autogen"}, "scratch": {"autogen"}})
    with FluxStub(state) as stub:
        for answer in WRITES:
            request = answer["request"]
            if request.get("gzip"):  # recorded decompressed: sent as such
                headers = {k: v for k, v in request["headers"].items() if k != "Content-Encoding"}
                answer = {**answer, "request": {**request, "headers": headers}}
            status, headers, body = post(stub.url, answer)
            expected = answer["response"]
            assert (status, body) == (expected["status"], expected["body"]), answer["name"]
            assert headers["Content-Type"] == expected["headers"]["Content-Type"], answer["name"]
            assert headers.get("X-Influxdb-Error") == expected["headers"].get("X-Influxdb-Error"), answer[
                "name"
            ]
    # what 1.8 kept of the partial writes: the good lines
    kept = [p.fields["rtt_ms"][1] for p in state.points["scratch"] if p.tags == {"region": "us-east-1"}]
    assert {6.5, 8.5, 9.5} <= set(kept) and 7.5 not in kept and 9 not in kept


# --- exports through the stub -------------------------------------------------------------------


def flux_export(url: str, **kwargs) -> pl.DataFrame:
    return influx.export_metrics(url=url, bucket=BUCKET, org="dwcp", start=START, end=END, **kwargs)


@pytest.mark.parametrize("chunk", [None, "1d", "6h", "30d"])
def test_each_point_comes_back_once_with_its_values(server, chunk):
    # 1.8's range includes its stop: without `_time < stop` each midnight came twice (350
    # rows, 393 with chunk="6h"), and a window spanning two shard groups lost the values
    # of bandwidth_mbps, integer in one group and float in the next (3 nulls).
    got = flux_export(server.url, chunk=chunk)
    assert_frame_equal(canonical(got), canonical(in_range(truth())))
    assert got.height == 329


def test_the_same_export_from_a_2x_server(server):
    server.state.version = "v2.7.11"  # `stop` excluded; no /query, no shard-group cuts
    got = flux_export(server.url)
    assert got.height == 329
    assert not [c for c in server.state.calls if c[1] == "/query"]


def test_the_documents_own_example_written_and_exported_once():
    # generate_synthetic(720, freq="1h") written with write_metrics(bucket=...) over 30 days: 720 rows
    df = dwcp_data.generate_synthetic(
        720, seed=1, freq="1h", end=datetime(2026, 11, 30, 23, tzinfo=timezone.utc)
    )
    with FluxStub() as stub:
        influx.write_metrics(df, url=stub.url, bucket=BUCKET, token="admin:secret")
        got = influx.export_metrics(
            url=stub.url,
            bucket=BUCKET,
            token="admin:secret",
            start=datetime(2026, 11, 1, tzinfo=timezone.utc),
            end=datetime(2026, 12, 1, tzinfo=timezone.utc),
        )
    assert_frame_equal(got.sort("timestamp"), df.sort("timestamp"))


def test_windows_are_sized_from_counts_and_never_cross_a_shard_group(server):
    flux_export(server.url)
    queries = server.queries()
    counts = [q for q in queries if "count()" in q]
    data = [q for q in queries if "pivot(" in q]
    # three weekly shard groups in [11-18, 12-02): one count query and one data window each
    # (1-day windows: 14 queries; one window: values lost at the group edges)
    assert len(counts) == 3 and len(data) == 3
    edges = {"1795392000000000000", "1795996800000000000"}  # Mondays 11-23 and 11-30, 00:00 UTC
    assert all(any(f"stop: time(v: {e})" in q for q in data) for e in edges)


def test_an_unknown_bucket_or_policy_is_named_at_once(server):
    for bucket, said in [("nope/autogen", "no database"), ("dwcp_metrics/nope", "invalid retention policy")]:
        server.state.calls.clear()
        started = time.monotonic()
        with pytest.raises(InfluxError, match=said) as info:
            influx.export_metrics(url=server.url, bucket=bucket, org="dwcp", start=START, end=END)
        assert info.value.kind == "database" and time.monotonic() - started < 1.0
        assert len(server.queries()) == 1  # 1.8 answers 500: never retried


def test_writing_to_an_unknown_policy_is_named_at_once(server):
    df = dwcp_data.generate_synthetic(10, seed=2, end=END)
    with pytest.raises(InfluxError, match="retention policy not found: nope") as info:
        influx.write_metrics(df, url=server.url, bucket="dwcp_metrics/nope", org="dwcp", token="t")
    assert info.value.kind == "database"
    assert len([c for c in server.state.calls if c[1] == "/api/v2/write"]) == 1


def test_an_error_mid_answer_raises_the_servers_message(server):
    server.state.fail_mid_answer = "expected integer cursor type, got *reads.floatMultiShardArrayCursor"
    with pytest.raises(InfluxError, match=r"floatMultiShardArrayCursor") as info:
        flux_export(server.url)
    assert info.value.kind == "query"


def test_a_query_the_engine_refuses_is_not_retried(server):
    conn = influx.Connection(server.url, bucket=BUCKET, org="dwcp", retries=4)
    with pytest.raises(InfluxError, match="the stub does not know this query") as info:
        conn.flux('from(bucket: "dwcp_metrics") |> nosuchfn()')
    assert info.value.kind == "query" and len(server.queries()) == 1


def test_an_answer_cut_short_is_read_again_in_halves(server):
    server.state.cut_rows = 5  # every data answer keeps its first 5 rows
    got = flux_export(server.url)
    assert_frame_equal(canonical(got), canonical(in_range(truth())))
    assert len([q for q in server.queries() if "pivot(" in q]) > 3


def test_an_answer_that_stays_short_is_refused(server):
    server.state.cut_rows = 0
    with pytest.raises(InfluxError, match="smaller windows did not help") as info:
        flux_export(server.url)
    assert info.value.kind == "incomplete"


@pytest.mark.parametrize(
    "fields",
    ["rtt_ms=1.5,data_size_bytes=10i", "data_size_bytes=10i"],  # the second: a timed-out probe, no rtt_ms
)
def test_export_to_folder_over_flux_reuses_unchanged_days(server, tmp_path, fields):
    def export():
        return influx.export_to_folder(tmp_path / "days", url=server.url, bucket=BUCKET, start=START, end=END)

    first = export()
    assert len(first.exported) == 14 and first.rows == 329
    # one point more on 11-25, written as the collector writes them
    extra = parse_line_protocol(
        "compression_metrics,region=eu-west-1,az=eu-west-1a,link_type=dc,data_type=database,"
        f"current_compression=hde {fields} 1795608000000000000"
    )
    server.state.points["dwcp_metrics"].extend(extra)
    second = export()
    assert second.exported == ("2026-11-25",) and second.rows == 330
    assert len(second.reused) == 13


def test_requests_carry_the_token_and_the_org_where_given(server):
    influx.export_metrics(url=server.url, bucket=BUCKET, org="acme", token="t0k", start=START, end=END)
    queries = [c for c in server.state.calls if c[1] == "/api/v2/query"]
    assert all(
        c[0] == "POST" and c[2] == {"org": "acme"} and c[4]["Authorization"] == "Token t0k" for c in queries
    )
    server.state.calls.clear()
    influx.export_metrics(url=server.url, bucket=BUCKET, start=START, end=END)  # 1.8 ignores the org
    assert all(c[2] == {} for c in server.state.calls if c[1] == "/api/v2/query")


def test_a_bucket_name_is_a_string_literal_never_syntax(server):
    evil = 'x") |> drop(columns: ["_value"]) // ${secret}\\'
    with pytest.raises(InfluxError, match="no database"):
        influx.export_metrics(url=server.url, bucket=evil, start=START, end=END)
    (query,) = server.queries()
    assert query.startswith('from(bucket: "x\\") |> drop(columns: [\\"_value\\"]) // \\${secret}\\\\")')


def test_the_official_clients_parser_reads_the_recorded_answers_as_ours_does():
    # influxdb-client's own Flux CSV parser, on what the real server sent: the same rows and values.
    from influxdb_client.client.flux_csv_parser import FluxCsvParser, FluxSerializationMode

    for answer in [a for a in PROJECT_QUERIES if a["response"]["status"] == 200]:
        body = answer["response"]["body"].encode()
        stream = io.BytesIO(body)
        stream.release_conn = lambda: None  # what the parser calls on an HTTP response when done
        records = list(
            FluxCsvParser(response=stream, serialization_mode=FluxSerializationMode.stream).generator()
        )
        ours = parse(answer["response"]["body"])
        assert len(records) == ours.height, answer["name"]
        for record, row in zip(records, ours.iter_rows(named=True), strict=True):
            values = record.values
            # times in ns: the official parser rounds them to µs, ours floors them
            assert abs(values["_time"] - row["timestamp"]) < timedelta(microseconds=1)
            assert values.get("rtt_ms") == row["rtt_ms"]
            assert values.get("region") == (None if row["region"] is None else str(row["region"]))
            size = values.get("data_size_bytes")
            assert (None if size is None else int(size)) == row["data_size_bytes"]


def test_a_server_that_names_no_version_is_read_a_day_at_a_time_at_most(server):
    server.state.version = ""  # a proxy in front: /ping says nothing of the server
    got = flux_export(server.url)
    assert_frame_equal(canonical(got), canonical(in_range(truth())))
    assert len([q for q in server.queries() if "pivot(" in q]) == 14  # cut at every UTC midnight
