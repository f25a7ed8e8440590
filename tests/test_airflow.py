"""The shipped DAG, run once with dag.test() against a real influxd; the Grafana dashboard's fields."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest

import dwcp_data
from dwcp_data import influx

import collector
from helpers import run_python
from influx_server import free_port

LOGICAL = datetime(2025, 11, 16, 2, 0, tzinfo=timezone.utc)
DASHBOARD = Path(dwcp_data.__file__).parent / "grafana" / "dwcp_data_quality.json"
FLUX_DASHBOARD = DASHBOARD.with_name("dwcp_data_quality_flux.json")

RUN_DAG = """
import json, shutil, sys
from datetime import datetime
from pathlib import Path
import dwcp_data
dags = Path(sys.argv[2])
if not list(dags.glob("*.py")):
    shutil.copy(Path(dwcp_data.__file__).parent / "airflow" / "dags" / "compression_selector_training.py", dags)
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=str(dags))
assert not bag.import_errors, bag.import_errors
dag = bag.get_dag(sys.argv[3] if len(sys.argv) > 3 else "compression_selector_training")
run = dag.test(logical_date=datetime.fromisoformat(sys.argv[1]))
tasks = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
print(json.dumps({"state": str(run.state), "tasks": tasks}))
"""

#: A DAG file that alerts through the SMTP provider's notifier, as the README shows.
SMTP_DAG = """
from airflow.providers.smtp.notifications.smtp import SmtpNotifier
from dwcp_data.airflow import make_dag

dag = make_dag(on_failure=SmtpNotifier(to="ml-alerts@company.com", from_email="airflow@dwcp.test"))
"""


#: The shipped DAG with the package's reference selector as its last three tasks.
REFERENCE_DAG = """
from dwcp_data.airflow import make_dag

dag = make_dag(train="reference")
"""


def run_dag(
    tmp: Path,
    connection: dict,
    *,
    dag_file: str | None = None,
    env: dict[str, str] | None = None,
    dag_id: str = "compression_selector_training",
    out: Path | None = None,
) -> dict:
    """One ``dag.test()`` of the shipped DAG (or ``dag_file``) in a fresh Airflow
    home, writing to ``out`` (default ``tmp/out``)."""
    home, dags, out = tmp / "airflow", tmp / "dags", out or tmp / "out"
    for d in (home, dags, out):
        d.mkdir(parents=True, exist_ok=True)
    if dag_file is not None:
        (dags / "compression_selector_training.py").write_text(dag_file)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONN_DWCP_INFLUXDB": json.dumps(connection),
        "AIRFLOW_VAR_DWCP_DATA_OUTPUT_DIR": str(out),
        **(env or {}),
    }
    migrate = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    proc = subprocess.run(
        [sys.executable, "-c", RUN_DAG, LOGICAL.isoformat(), str(dags), dag_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-5000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["out"] = out
    result["log"] = proc.stdout + proc.stderr
    return result


def published_sets(out: Path) -> list[Path]:
    """The published data sets (folders; each has its ``.quality.json`` beside it)."""
    sets = sorted(p for p in (out / "published").iterdir() if p.is_dir())
    assert all(p.with_name(f"{p.name}.quality.json").exists() for p in sets)
    return sets


def http_connection(server, database: str) -> dict:
    """Our own connection form: conn_type http, ``schema`` = the 1.x database."""
    host, port = server.url.removeprefix("http://").split(":")
    return {"conn_type": "http", "host": host, "port": int(port), "schema": database}


def influxdb_connection(server, database: str) -> dict:
    """apache-airflow-providers-influxdb's form: ``schema`` = http/https (a 1.x server
    is reached with our extra ``database``)."""
    host, port = server.url.removeprefix("http://").split(":")
    return {
        "conn_type": "influxdb",
        "host": host,
        "port": int(port),
        "schema": "http",
        "extra": {"database": database},
    }


def seed(server, database: str, df: pl.DataFrame) -> None:
    server.query(f"CREATE DATABASE {database}")
    influx.write_metrics(df, url=server.url, database=database)


def field_keys(server, database: str, measurement: str) -> set[str]:
    answer = json.loads(server.query(f'SHOW FIELD KEYS FROM "{measurement}"', db=database))
    return {row[0] for s in answer["results"][0].get("series", []) for row in s["values"]}


def points(server, database: str, measurement: str) -> list[dict]:
    answer = json.loads(server.query(f'SELECT * FROM "{measurement}"', db=database))
    series = answer["results"][0].get("series", [])
    return [dict(zip(s["columns"], row, strict=True)) for s in series for row in s["values"]]


@pytest.mark.slow
def test_weekly_dag_publishes_the_collectors_data_and_records_quality(influxd, tmp_path):
    # Points encoded by the official influxdb-client as §3.1's Go collector builds them,
    # read through a connection of apache-airflow-providers-influxdb's type.
    # 30,000 points 30 s apart: about 20,000 in the week the run exports.
    df = dwcp_data.generate_synthetic(30_000, seed=41, end=LOGICAL + timedelta(hours=1), freq="30s")
    influxd.query("CREATE DATABASE dag_ok")
    collector.post_lines(influxd.url, "dag_ok", collector.collector_lines(df))
    result = run_dag(tmp_path, influxdb_connection(influxd, "dag_ok"))
    assert result["state"] == "success", result
    (published,) = published_sets(result["out"])
    data = dwcp_data.read_training_data(published)
    assert data.height > 10_000 and data["oracle_compression"].null_count() == 0
    manifest = json.loads((published / "_dwcp_manifest.json").read_text())
    assert manifest["kind"] == "published" and manifest["output_validation"]["passed"]
    assert manifest["window"]["end"].startswith("2025-11-16")
    for entry in manifest["files"]:  # rows and content hashes per shard
        shard = published / entry["name"]
        assert entry["sha256"] == hashlib.sha256(shard.read_bytes()).hexdigest()
        assert entry["rows"] == pl.read_parquet(shard).height
    assert sum(e["rows"] for e in manifest["files"]) == data.height
    assert dwcp_data.validate(data).passed
    for column in collector.NEVER_WRITTEN:
        assert data[column].null_count() == data.height
    (run,) = points(influxd, "dag_ok", "pipeline_runs")
    assert run["success"] is True and run["ok"] == 1 and run["rows_published"] == data.height
    assert points(influxd, "dag_ok", "data_quality")

    # The published set's profile, checked against its manifest; the first run has nothing to compare.
    assert (
        manifest["profile"]["sha256"]
        == hashlib.sha256(published.with_name(f"{published.name}.profile").read_bytes()).hexdigest()
    )
    assert dwcp_data.load_profile(published.with_name(f"{published.name}.profile")).rows == data.height
    assert result["tasks"]["drift_report"] == "success"
    assert "no earlier published set of this DAG to compare with: no drift report" in result["log"]
    assert not published.with_name(f"{published.name}.drift.html").exists()

    # Every field the dashboard shows exists on the server, in the measurement it names
    # (data_drift from a DAG's second run on: test_airflow_deployment checks it).
    dashboard = json.loads(DASHBOARD.read_text())
    tags = {"current_compression", "region", "dag_id"}
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            query = target["query"]
            measurement = re.search(r'FROM "(\w+)"', query)[1]
            if measurement == "data_drift":
                continue
            known = field_keys(influxd, "dag_ok", measurement)
            assert known, measurement
            fields = set(re.findall(r'\w+\("(\w+)"\)', query))
            assert fields <= known, (panel["title"], fields - known)
            assert set(re.findall(r'GROUP BY time\(\$__interval\), "(\w+)"', query)) <= tags


@pytest.fixture()
def smtp_server():
    """A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    class Inbox(Message):
        def __init__(self) -> None:
            super().__init__()
            self.messages: list = []

        def handle_message(self, message) -> None:
            self.messages.append(message)

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


@pytest.mark.slow
def test_failed_validation_fails_the_run_records_it_and_alerts(influxd, tmp_path, smtp_server):
    controller, inbox = smtp_server
    df = dwcp_data.generate_synthetic(60_000, seed=42, end=LOGICAL + timedelta(days=10), freq="30s")
    seed(influxd, "dag_bad", df.with_columns(pl.col("rtt_ms") * -1))
    smtp = {
        "conn_type": "smtp",
        "host": controller.hostname,
        "port": controller.port,
        "extra": {"disable_ssl": True, "disable_tls": True},
    }
    result = run_dag(
        tmp_path,
        http_connection(influxd, "dag_bad"),
        dag_file=SMTP_DAG,
        env={"AIRFLOW_CONN_SMTP_DEFAULT": json.dumps(smtp)},
    )
    assert result["state"] == "failed", result
    assert (
        result["tasks"]["prepare_training_set"] == "failed"
        and result["tasks"]["publish_dataset"] != "success"
    )
    assert not (result["out"] / "published").exists() or not list((result["out"] / "published").iterdir())
    # The failure is in pipeline_runs, so §8's success rate counts it ...
    (run,) = points(influxd, "dag_bad", "pipeline_runs")
    assert run["success"] is False and run["ok"] == 0
    assert (run["failed_task"], run["error_class"]) == ("prepare_training_set", "ValidationError")
    # ... and the notifier sent its mail.
    assert len(inbox.messages) == 1, result["log"][-3000:]
    assert inbox.messages[0]["To"] == "ml-alerts@company.com"


def test_influxdb_provider_connections_map_onto_our_arguments():
    code = """
import json
from dwcp_data.airflow import influx_connection
print(json.dumps([influx_connection(c) for c in ("v2", "v1", "ours")]))
"""
    v2 = {
        "conn_type": "influxdb",
        "host": "influx.example",
        "port": 8086,
        "schema": "https",
        "extra": {"token": "t0k", "org_name": "acme", "bucket": "metrics", "verify_ssl": "false"},
    }
    v1 = {
        "conn_type": "influxdb",
        "host": "h",
        "port": 8087,
        "schema": "https",
        "extra": {"database": "db", "verify_ssl": True, "ca_bundle": "/etc/ssl/influx-ca.pem"},
    }
    ours = {"conn_type": "http", "host": "h", "port": 8086, "schema": "dwcp", "login": "u", "password": "p"}
    env = {f"AIRFLOW_CONN_{k.upper()}": json.dumps(v) for k, v in {"v2": v2, "v1": v1, "ours": ours}.items()}
    got = json.loads(run_python(code, env={**env, "AIRFLOW_HOME": tempfile.mkdtemp()}).splitlines()[-1])
    assert got == [
        {
            "url": "https://influx.example:8086",
            "bucket": "metrics",
            "org": "acme",
            "token": "t0k",
            "verify": False,
        },
        {"url": "https://h:8087", "database": "db", "verify": True, "ca_bundle": "/etc/ssl/influx-ca.pem"},
        {"url": "http://h:8086", "database": "dwcp", "username": "u", "password": "p"},
    ]


@pytest.mark.slow
@pytest.mark.parametrize("logged_policy", ["as generated", "the oracle itself"])
def test_the_reference_selector_is_deployed_only_when_it_beats_the_logged_policy(
    influxd, tmp_path, logged_policy
):
    df = dwcp_data.generate_synthetic(30_000, seed=43, end=LOGICAL + timedelta(hours=1), freq="30s")
    if logged_policy == "the oracle itself":  # no model can have a smaller regret than 0
        oracle = dwcp_data.label_oracle(df)[dwcp_data.LABEL_COLUMN]
        df = df.with_columns(
            oracle.cast(pl.String).cast(df.schema["current_compression"]).alias("current_compression")
        )
    database = "dag_model_ok" if logged_policy == "as generated" else "dag_model_no"
    influxd.query(f"CREATE DATABASE {database}")
    collector.post_lines(influxd.url, database, collector.collector_lines(df))
    result = run_dag(tmp_path, http_connection(influxd, database), dag_file=REFERENCE_DAG)
    staging = result["out"] / "staging" / "compression_selector_training"
    if logged_policy == "as generated":
        assert result["state"] == "success", result["tasks"]
        assert sorted(p.name for p in staging.iterdir()) == ["selector.txt", "selector.txt.card.json"]
        from dwcp_data import selector

        model = selector.load(staging / "selector.txt")
        regret = model.card["regret_held_out"]
        assert regret["model"]["mean_ms"] < regret["logged_policy"]["mean_ms"]
        assert model.predict(df.head(100)).null_count() == 0
        (deployed,) = points(influxd, database, "model_deployments")
        assert deployed["path"] == str(staging / "selector.txt")
        assert deployed["regret_ms"] == regret["model"]["mean_ms"]
    else:
        assert result["state"] == "failed"
        assert result["tasks"]["validate_model"] == "failed"
        assert result["tasks"]["deploy_to_staging"] == "upstream_failed"
        assert "is not below the logged policy's" in result["log"]
        assert not staging.exists()
        assert points(influxd, database, "model_deployments") == []


def test_make_dag_refuses_an_unknown_train_name():
    from dwcp_data.airflow import make_dag
    from dwcp_data.errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError) as e:
        make_dag(train="referenc")
    assert e.value.param == "train"


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"profile": "strcit"}, "profile"),
        ({"lookback_days": -1}, "lookback_days"),
        ({"lookback_days": 0}, "lookback_days"),
        ({"lookback_days": 10**9}, "lookback_days"),
        ({"cpu_weight": float("nan")}, "cpu_weight"),
        ({"cpu_weight": -1.0}, "cpu_weight"),
        ({"min_rows": "x"}, "min_rows"),
        ({"min_rows": True}, "min_rows"),
        ({"by": ["link_type", 3]}, "by"),
    ],
)
def test_make_dag_refuses_arguments_its_tasks_would_fail_on(kwargs, param):
    # Refused where the DAG is defined, not every Sunday after the export.
    from dwcp_data.airflow import make_dag
    from dwcp_data.errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError) as e:
        make_dag(**kwargs)
    assert e.value.param == param


def test_connections_give_well_formed_urls_or_say_what_is_missing():
    code = """
import json
from dwcp_data.airflow import influx_connection
from dwcp_data.errors import InvalidArgumentError
out = []
for name in ("url_in_host", "ipv6", "ipv6_bracketed", "no_host", "bad_scheme"):
    try:
        out.append(influx_connection(name)["url"])
    except InvalidArgumentError as exc:
        out.append(f"{exc.param}: {exc}")
print(json.dumps(out))
"""
    conns = {
        "url_in_host": {"conn_type": "http", "host": "http://influx.internal:9999", "schema": "db"},
        "ipv6": {
            "conn_type": "influxdb",
            "host": "fd00::1",
            "port": 8086,
            "schema": "http",
            "extra": {"database": "d"},
        },
        "ipv6_bracketed": {"conn_type": "http", "host": "[::1]", "schema": "db"},
        "no_host": {"conn_type": "http", "schema": "db"},
        "bad_scheme": {"conn_type": "influxdb", "host": "h", "schema": "dwcp", "extra": {"database": "d"}},
    }
    env = {f"AIRFLOW_CONN_{k.upper()}": json.dumps(v) for k, v in conns.items()}
    got = json.loads(run_python(code, env={**env, "AIRFLOW_HOME": tempfile.mkdtemp()}).splitlines()[-1])
    assert got[:3] == ["http://influx.internal:9999", "http://[fd00::1]:8086", "http://[::1]:8086"]
    assert got[3].startswith("conn_id: ") and "'no_host' has no host" in got[3]
    assert got[4].startswith("conn_id: ") and "scheme 'dwcp'" in got[4]


#: The README's example: a PythonOperator submitting the pipeline to a Ray cluster.
RAY_DAG = """
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG

from dwcp_data.airflow import ray_pipeline_task

with DAG("training_set_on_ray", schedule="0 2 * * 0", catchup=False) as dag:
    PythonOperator(
        task_id="pipeline_on_ray",
        python_callable=ray_pipeline_task,
        op_kwargs={"source": SOURCE, "out": OUT},  # shard folders the workers share
    )
"""


@pytest.fixture()
def ray_head(tmp_path):
    """A Ray head node of 2 CPUs in its own processes (``ray start --head --block``): its address."""
    pytest.importorskip("ray", reason="the Ray engine needs the extra dwcp-data[ray]")
    port = free_port()
    head = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ray.scripts.scripts",
            "start",
            "--head",
            "--block",
            f"--port={port}",
            "--num-cpus=2",
            "--node-ip-address=127.0.0.1",
            "--include-dashboard=false",
            f"--object-store-memory={400 << 20}",
            f"--temp-dir={tempfile.mkdtemp(prefix='ray-')}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    address = f"127.0.0.1:{port}"
    probe = "import ray; ray.init(address={a!r}); print(ray.cluster_resources()['CPU'])"
    for _ in range(60):
        proc = subprocess.run([sys.executable, "-c", probe.format(a=address)], capture_output=True, text=True)
        if proc.returncode == 0:
            break
    assert proc.returncode == 0 and float(proc.stdout.split()[-1]) == 2.0, proc.stderr[-2000:]
    yield address
    head.terminate()  # `ray start --block` stops the node's processes on SIGTERM
    head.wait(timeout=60)


@pytest.mark.slow
def test_the_readme_dag_runs_the_pipeline_on_a_ray_cluster(tmp_path, ray_head):
    source, out = tmp_path / "shards", tmp_path / "training"
    df = dwcp_data.generate_synthetic(30_000, seed=5, end=LOGICAL)
    dwcp_data.write_training_data(pl.concat([df, df.head(100)]), source, shard_rows=4000)
    dag_file = RAY_DAG.replace("SOURCE", repr(str(source))).replace("OUT", repr(str(out)))
    result = run_dag(
        tmp_path,
        {"conn_type": "http", "host": "127.0.0.1", "port": 9, "schema": "unused"},  # not used
        dag_file=dag_file,
        env={"RAY_ADDRESS": ray_head},
        dag_id="training_set_on_ray",
    )
    assert result["state"] == "success", result["log"][-3000:]
    report = json.loads((tmp_path / "training.report.json").read_text())
    assert report["engine"] == "ray" and report["cleaning"]["duplicates_removed"] == 100
    local = dwcp_data.run_pipeline(source, tmp_path / "local")
    assert dwcp_data.read_training_data(out).equals(dwcp_data.read_training_data(local.dataset))
    assert len(list(out.iterdir())) == 8 + 1  # and the manifest


def landing_shards(folder: Path) -> pl.DataFrame:
    """40 small shards over 12 days: rows repeated across shards, a day with no
    rows, nulls; the rows in shard order."""
    df = dwcp_data.generate_synthetic(12 * 24 * 20, seed=61, end=LOGICAL - timedelta(hours=3), freq="3m")
    df = df.filter(pl.col("timestamp").dt.day() != 8)  # a day absent
    df = df.with_columns(
        pl.when(pl.int_range(pl.len()) % 53 == 0).then(None).otherwise(pl.col("rtt_ms")).alias("rtt_ms")
    )
    df = pl.concat([df, df.slice(100, 60), df.slice(3000, 15)])
    folder.mkdir(parents=True)
    step = -(-df.height // 40)
    for i in range(40):
        df.slice(i * step, step).write_parquet(folder / f"landed-{i:03d}.parquet")
    return df


#: The shipped DAG on a landing folder (backfills), on an engine.
LANDING_DAG = """
from dwcp_data.airflow import make_dag

dag = make_dag(source=LANDING, engine=ENGINE, min_rows=1000)
"""


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["local", "ray"])
def test_the_dag_on_a_landing_folder_gives_the_in_memory_run(influxd, tmp_path, engine, request):
    landing = tmp_path / "landing"
    df = landing_shards(landing)
    influxd.query("CREATE DATABASE dag_landing")
    env = {"RAY_ADDRESS": request.getfixturevalue("ray_head")} if engine == "ray" else {}
    dag_file = LANDING_DAG.replace("LANDING", repr(str(landing))).replace("ENGINE", repr(engine))
    result = run_dag(tmp_path, http_connection(influxd, "dag_landing"), dag_file=dag_file, env=env)
    assert result["state"] == "success", result["log"][-3000:]
    (published,) = published_sets(result["out"])
    manifest = json.loads((published / "_dwcp_manifest.json").read_text())
    memory = dwcp_data.run_pipeline(df, tmp_path / "memory.parquet", min_rows=1000)
    expected = dwcp_data.read_training_data(memory.dataset)
    assert dwcp_data.read_training_data(published).equals(expected)
    assert manifest["cleaning"] == memory.report["cleaning"]
    assert manifest["input_validation"]["results"] == memory.report["input_validation"]["results"]
    assert manifest["output_validation"]["results"] == memory.report["output_validation"]["results"]
    assert manifest["source"]["kind"] == "files" and len(manifest["source"]["files"]) == 40
    report = json.loads(next((result["out"] / "runs").rglob("training.report.json")).read_text())
    assert report["engine"] == engine


@pytest.mark.slow
def test_a_second_weekly_run_exports_only_the_day_that_changed(influxd, tmp_path):
    df = dwcp_data.generate_synthetic(30 * 24 * 4, seed=62, end=LOGICAL - timedelta(minutes=7), freq="15m")
    influxd.query("CREATE DATABASE dag_incremental")
    collector.post_lines(influxd.url, "dag_incremental", collector.collector_lines(df))
    connection = http_connection(influxd, "dag_incremental")
    out = tmp_path / "out"
    dag = "from dwcp_data.airflow import make_dag\n\ndag = make_dag(min_rows=1000)\n"

    def run(name: str, run_out: Path) -> dict:
        return run_dag(tmp_path / name, connection, out=run_out, dag_file=dag)

    first = run("first", out)
    assert first["state"] == "success", first["log"][-3000:]
    assert "exported 31 day(s)" in first["log"], first["log"][-3000:]
    day = df["timestamp"][1000]
    collector.post_lines(
        influxd.url,
        "dag_incremental",
        collector.collector_lines(df.slice(1000, 1).with_columns(pl.col("timestamp") + timedelta(seconds=5))),
    )
    second = run("second", out)
    assert second["state"] == "success", second["log"][-3000:]
    assert f"exported 1 day(s): {day:%Y-%m-%d}; reused 30" in second["log"], second["log"][-3000:]
    fresh = run("fresh", tmp_path / "fresh-out")
    assert fresh["state"] == "success"

    def published(run_out: Path) -> pl.DataFrame:
        (folder,) = published_sets(run_out)
        return dwcp_data.read_training_data(folder)

    assert published(out).equals(published(tmp_path / "fresh-out"))


def _influxql_shape(query: str) -> dict[str, object]:
    """What an InfluxQL panel query reads and how: measurement, fields, aggregate, grouping, DAG filter."""
    return {
        "measurement": re.search(r'FROM "(\w+)"', query)[1],
        "fields": sorted(re.findall(r'\w+\("(\w+)"\)', query)),
        "aggregate": sorted(set(re.findall(r'(\w+)\("\w+"\)', query))),
        "tags": sorted(re.findall(r'GROUP BY time\([^)]*\), "(\w+)"', query)),
        "dag_filter": '"dag_id" =~ /^$dag_id$/' in query,
        "window": re.search(r"GROUP BY time\(([^)]*)\)", query)[1].replace("$__interval", "auto"),
    }


def _flux_shape(query: str) -> dict[str, object]:
    """The same facts read from a Flux panel query of the shipped Flux dashboard."""
    assert query.startswith(
        'from(bucket: "${bucket}")\n  |> range(start: v.timeRangeStart, stop: v.timeRangeStop)'
    )
    assert query.count("(") == query.count(")") and query.count('"') % 2 == 0
    groups = re.search(r"group\(columns: \[([^\]]*)\]\)", query)[1]
    window = re.search(r"aggregateWindow\(every: ([^,]+), fn: (\w+)", query)
    return {
        "measurement": re.search(r'r\._measurement == "(\w+)"', query)[1],
        "fields": sorted(re.findall(r'r\._field == "(\w+)"', query)),
        "aggregate": [window[2]],
        "tags": sorted(t for t in re.findall(r'"(\w+)"', groups) if t != "_field"),
        "dag_filter": "r.dag_id =~ /^${dag_id:regex}$/" in query,
        "window": window[1].replace("v.windowPeriod", "auto"),
    }


def test_the_flux_dashboard_shows_what_the_influxql_one_shows():
    """The Flux variant (InfluxDB 2.x) has the InfluxQL dashboard's panels, in
    its places, each reading the same measurement, fields, aggregate, grouping
    and DAG filter. Its queries are not run here: no Flux engine runs on these
    machines (influxd 1.6.7 has none; the recorded 1.8 answers cover only the
    export's queries)."""
    influxql, flux = json.loads(DASHBOARD.read_text()), json.loads(FLUX_DASHBOARD.read_text())
    assert flux["uid"] != influxql["uid"]
    variables = {v["name"]: v for v in flux["templating"]["list"]}
    assert set(variables) == {"datasource", "bucket", "dag_id"}
    assert "schema.measurementTagValues" in variables["dag_id"]["query"]
    assert '"pipeline_runs"' in variables["dag_id"]["query"] and variables["dag_id"]["multi"]
    assert len(flux["panels"]) == len(influxql["panels"]) == 14
    for ql, fx in zip(influxql["panels"], flux["panels"], strict=True):
        assert {k: v for k, v in ql.items() if k != "targets"} == {
            k: v for k, v in fx.items() if k != "targets"
        }
        (ql_target,), (flux_target,) = ql["targets"], fx["targets"]
        assert _flux_shape(flux_target["query"]) == _influxql_shape(ql_target["query"]), ql["title"]
        assert set(re.findall(r"\$\{(\w+)", flux_target["query"])) <= set(variables)


def test_the_drift_reference_is_the_newest_earlier_set_whose_profile_is_sound(tmp_path, monkeypatch, caplog):
    """The drift task's reference: the profile beside the newest earlier
    published set, checked against the SHA-256 its manifest recorded at
    publishing; a sound profile of another schema is skipped with a warning,
    an edited one is refused naming the file."""
    import gzip

    from dwcp_data._outputs import publish_copy
    from dwcp_data.airflow import _drift
    from dwcp_data.errors import DataError

    df = dwcp_data.generate_synthetic(2_000, seed=3)
    result = dwcp_data.run_pipeline(df, tmp_path / "runs" / "training", min_rows=100)
    profile_file = Path(result.report["profile"])
    document = json.loads(gzip.decompress(profile_file.read_bytes()))
    other_schema = tmp_path / "other-schema.profile"
    other_schema.write_text(json.dumps(document | {"schema": "0" * 16}))
    (tmp_path / "published").mkdir()

    def publish(name: str, profile: Path | None) -> Path:
        target = tmp_path / "published" / name
        info = {} if profile is None else {"profile": _drift.publish_profile(profile, target)}
        return publish_copy(result.dataset, target, kind="published", info=info)

    older, earlier, current = publish("w1", None), publish("w2", profile_file), publish("w3", profile_file)
    sets = [("2025-11-02", older), ("2025-11-09", earlier), ("2025-11-16", current)]
    monkeypatch.setattr(_drift, "published_sets", lambda dag_id: sets)
    found = _drift.reference_for("weekly", current, None)
    assert found is not None and found.name == "w2" and found.profile == dwcp_data.load_profile(profile_file)
    assert _drift.published_profile(older) is None  # published before profiles: never a reference
    assert _drift.reference_for("weekly", earlier, None) is None  # only the older one came before

    # a sound profile this version cannot compare (another schema): skipped, with a warning
    publish("w2", other_schema)
    # importing Airflow may reset the root logger's handlers: caplog's is put on the module's logger too
    logger = logging.getLogger(_drift.__name__)
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level("WARNING", logger=_drift.__name__):
            assert _drift.reference_for("weekly", current, None) is None
    finally:
        logger.removeHandler(caplog.handler)
    assert "w2: not compared" in caplog.text and "another schema" in caplog.text

    # another valid profile put in place of the published one is refused, naming the file
    publish("w2", profile_file)
    beside = earlier.with_name("w2.profile")
    dwcp_data.profile(df.head(100)).save(beside)
    with pytest.raises(DataError, match="not the profile that was published") as refused:
        _drift.reference_for("weekly", current, None)
    assert refused.value.rule == "profile" and str(beside) in str(refused.value)
    beside.unlink()
    with pytest.raises(DataError, match="missing"):
        _drift.published_profile(earlier)
