"""The shipped DAG, run once with dag.test() against a real influxd; the Grafana dashboard's fields."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest

import dwcp_data
from dwcp_data import influx

LOGICAL = datetime(2025, 11, 16, 2, 0, tzinfo=timezone.utc)
DASHBOARD = Path(dwcp_data.__file__).parent / "grafana" / "dwcp_data_quality.json"

RUN_DAG = """
import json, shutil, sys
from datetime import datetime
from pathlib import Path
import dwcp_data
dags = Path(sys.argv[2])
shutil.copy(Path(dwcp_data.__file__).parent / "dags" / "compression_selector_training.py", dags)
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=str(dags))
assert not bag.import_errors, bag.import_errors
dag = bag.get_dag("compression_selector_training")
run = dag.test(logical_date=datetime.fromisoformat(sys.argv[1]))
tasks = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
print(json.dumps({"state": str(run.state), "tasks": tasks}))
"""


def run_dag(tmp: Path, influx_url: str, database: str) -> dict:
    home, dags, out = tmp / "airflow", tmp / "dags", tmp / "out"
    for d in (home, dags, out):
        d.mkdir(parents=True, exist_ok=True)
    host, port = influx_url.removeprefix("http://").split(":")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONN_DWCP_INFLUXDB": json.dumps(
            {"conn_type": "http", "host": host, "port": int(port), "schema": database}
        ),
        "AIRFLOW_VAR_DWCP_DATA_OUTPUT_DIR": str(out),
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
        [sys.executable, "-c", RUN_DAG, LOGICAL.isoformat(), str(dags)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-5000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["out"] = out
    return result


def seed(server, database: str, df: pl.DataFrame) -> None:
    server.query(f"CREATE DATABASE {database}")
    influx.write_metrics(df, url=server.url, database=database)


def field_keys(server, database: str, measurement: str) -> set[str]:
    answer = json.loads(server.query(f'SHOW FIELD KEYS FROM "{measurement}"', db=database))
    return {row[0] for s in answer["results"][0].get("series", []) for row in s["values"]}


@pytest.mark.slow
def test_weekly_dag_publishes_and_records_quality(influxd, tmp_path):
    df = dwcp_data.generate_synthetic(60_000, seed=41, end=LOGICAL + timedelta(days=10), freq="30s")
    seed(influxd, "dag_ok", df)
    result = run_dag(tmp_path, influxd.url, "dag_ok")
    assert result["state"] == "success", result
    published = list((result["out"] / "published").glob("*.parquet"))
    assert len(published) == 1
    data = dwcp_data.read_training_data(published[0])
    assert data.height > 10_000 and "oracle_compression" in data.columns
    assert dwcp_data.validate(data, profile="strict").passed
    for measurement in ("data_quality", "pipeline_runs"):
        answer = json.loads(influxd.query(f'SELECT * FROM "{measurement}"', db="dag_ok"))
        assert answer["results"][0].get("series"), f"no {measurement} points"

    # Every field the dashboard shows exists on the server, in the measurement it names.
    dashboard = json.loads(DASHBOARD.read_text())
    tags = {"current_compression", "region"}
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            query = target["query"]
            measurement = re.search(r'FROM "(\w+)"', query)[1]
            known = field_keys(influxd, "dag_ok", measurement)
            assert known, measurement
            fields = set(re.findall(r'\w+\("(\w+)"\)', query))
            assert fields <= known, (panel["title"], fields - known)
            assert set(re.findall(r'GROUP BY time\(\$__interval\), "(\w+)"', query)) <= tags


@pytest.mark.slow
def test_failed_validation_fails_the_run_and_publishes_nothing(influxd, tmp_path):
    df = dwcp_data.generate_synthetic(60_000, seed=42, end=LOGICAL + timedelta(days=10), freq="30s")
    seed(influxd, "dag_bad", df.with_columns(pl.col("rtt_ms") * -1))
    result = run_dag(tmp_path, influxd.url, "dag_bad")
    assert result["state"] == "failed", result
    assert result["tasks"]["validate_data"] == "failed" and result["tasks"]["publish_dataset"] != "success"
    assert (
        not list((result["out"] / "published").glob("*")) if (result["out"] / "published").exists() else True
    )
