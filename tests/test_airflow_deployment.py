"""The weekly DAG on a real Airflow deployment, driven as a team drives it:
manual triggers from the CLI (no logical date) and the REST API (with one), a
backfill, permanent errors, two DAGs on one output folder, no metrics
connection. Not ``dag.test()``: the scheduler, the dag-processor and the
api-server run as separate processes (see ``airflow_deployment.py``)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest
from airflow_deployment import AirflowDeployment

import dwcp_data

import collector
from helpers import END

pytestmark = pytest.mark.slow

#: The deployment's InfluxDB connection (the test influxd, database ``deployed``).
METRICS = "deployed"


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    """A landing folder of shards of 5,000 rows a minute apart: two weeks up to
    ``END`` (2025-11-14) and the two weeks up to now."""
    folder = tmp_path_factory.mktemp("landing") / "shards"
    folder.mkdir()
    now = datetime.now(timezone.utc).replace(microsecond=0)
    for name, end in (("past", END), ("recent", now)):
        df = dwcp_data.generate_synthetic(20_000, seed=5, end=end, freq="1m")
        for i in range(4):
            df.slice(i * 5000, 5000).write_parquet(folder / f"{name}-{i}.parquet")
    return folder


@pytest.fixture(scope="module")
def daily_landing(tmp_path_factory) -> tuple[Path, pl.DataFrame]:
    """Four weeks up to 2025-11-09, 15 minutes apart, a folder per day (``dt=YYYY-MM-DD``)."""
    root = tmp_path_factory.mktemp("daily")
    df = dwcp_data.generate_synthetic(
        28 * 96, seed=8, end=datetime(2025, 11, 8, 23, 45, tzinfo=timezone.utc), freq="15m"
    )
    for (day,), part in df.group_by(pl.col("timestamp").dt.date(), maintain_order=True):
        (root / f"dt={day}").mkdir()
        part.write_parquet(root / f"dt={day}" / "part.parquet")
    return root, df


@pytest.fixture(scope="module")
def airflow(tmp_path_factory, influxd):
    influxd.query(f"CREATE DATABASE {METRICS}")
    connection = {"conn_type": "http", "host": "127.0.0.1", "port": influxd.port, "schema": METRICS}
    deployment = AirflowDeployment(
        tmp_path_factory.mktemp("deployment"),
        env={"AIRFLOW_CONN_DWCP_INFLUXDB": json.dumps(connection)},
    )
    deployment.start()
    yield deployment
    deployment.stop()


def dag_file(dag_id: str, **arguments: object) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in arguments.items())
    # reprs of datetimes name the module
    return (
        f"import datetime\n\nfrom dwcp_data.airflow import make_dag\n\ndag = make_dag({dag_id!r}, {args})\n"
    )


def deploy_landing(airflow: AirflowDeployment, dag_id: str, landing: Path, **arguments: object) -> str:
    """A manually triggered DAG ``dag_id`` on ``landing``, with no metrics connection."""
    defaults = {"schedule": None, "source": str(landing), "min_rows": 100, "conn_id": "no_metrics_here"}
    return airflow.deploy(dag_id, dag_file(dag_id, **{**defaults, **arguments}))


def published(airflow: AirflowDeployment, dag_id: str) -> list[Path]:
    return sorted(p for p in (airflow.out / "published").glob(f"{dag_id}_*") if p.is_dir())


def manifest(folder: Path) -> dict:
    return json.loads((folder / "_dwcp_manifest.json").read_text())


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def test_a_manual_trigger_without_a_date_reads_the_week_before_the_trigger(airflow, landing):
    dag = deploy_landing(airflow, "manual_landing", landing, lookback_days=7)
    run_id = airflow.trigger_cli(dag)  # what the UI's Trigger button does too: no logical date
    run = airflow.wait(dag, run_id)
    assert run["state"] == "success", (airflow.tasks(dag, run_id), airflow.logs())
    assert run["logical_date"] is None
    (folder,) = published(airflow, dag)
    window = manifest(folder)["window"]
    run_after = instant(run["run_after"])
    assert instant(window["end"]) == run_after
    assert instant(window["start"]) == run_after - timedelta(days=7)
    assert manifest(folder)["run_id"] == run_id
    # no metrics connection: the figures beside the published set and in the log, the run succeeds
    figures = json.loads(folder.with_name(f"{folder.name}.quality.json").read_text())
    assert figures["data_quality"]["rows"] == manifest(folder)["files"][0]["rows"] + sum(
        f["rows"] for f in manifest(folder)["files"][1:]
    )
    log = airflow.task_log(dag, run_id, "record_quality")
    assert "no Airflow connection 'no_metrics_here'" in log and "data quality of" in log
    prepare = airflow.task_log(dag, run_id, "prepare_training_set")
    assert "stage clean" in prepare and "peak memory" in prepare


def test_a_date_given_through_the_rest_api_or_the_cli_sets_the_window(airflow, landing):
    dag = deploy_landing(airflow, "dated_landing", landing)
    rest = airflow.trigger_rest(dag, logical_date="2025-11-10T06:00:00Z")
    cli = airflow.trigger_cli(dag, "-l", "2025-11-12T06:00:00+00:00")
    for run_id in (rest, cli):
        assert airflow.wait(dag, run_id)["state"] == "success", airflow.tasks(dag, run_id)
    names = [p.name for p in published(airflow, dag)]
    assert names == ["dated_landing_20251110T060000", "dated_landing_20251112T060000"]
    ends = [manifest(p)["window"]["end"] for p in published(airflow, dag)]
    assert [instant(e) for e in ends] == [
        datetime(2025, 11, 10, 6, tzinfo=timezone.utc),
        datetime(2025, 11, 12, 6, tzinfo=timezone.utc),
    ]


def test_a_backfill_reads_each_weeks_own_days_of_a_templated_landing(airflow, daily_landing):
    root, df = daily_landing
    dag = airflow.deploy(
        "weekly_backfill",
        dag_file(
            "weekly_backfill",
            source=str(root / "dt={date:%Y-%m-%d}"),
            lookback_days=7,
            min_rows=100,
            conn_id="no_metrics_here",
            start_date=datetime(2025, 10, 1, tzinfo=timezone.utc),
        ),
    )
    airflow.request(
        "POST",
        "/api/v2/backfills",
        {"dag_id": dag, "from_date": "2025-10-19T00:00:00Z", "to_date": "2025-11-08T00:00:00Z"},
    )
    deadline = time.monotonic() + 300
    while True:
        backfill = [r for r in airflow.runs(dag) if r["run_type"] == "backfill"]
        if len(backfill) == 3 and all(r["state"] in ("success", "failed") for r in backfill):
            break
        assert time.monotonic() < deadline, (backfill, airflow.logs())
        time.sleep(2)
    assert [r["state"] for r in backfill] == ["success"] * 3
    for sunday in ("2025-10-19", "2025-10-26", "2025-11-02"):
        end = datetime.fromisoformat(f"{sunday}T02:00:00+00:00")
        folder = airflow.out / "published" / f"weekly_backfill_{end:%Y%m%dT%H%M%S}"
        window = manifest(folder)["window"]
        assert (instant(window["start"]), instant(window["end"])) == (end - timedelta(days=7), end)
        in_window = df.filter(pl.col("timestamp").is_between(end - timedelta(days=7), end, closed="left"))
        read = manifest(folder)["read"]
        assert read["rows"] == in_window.height  # the week's rows, each once: days cut at the window's edges
        assert instant(read["first"]) == in_window["timestamp"].min()
        assert instant(read["last"]) == in_window["timestamp"].max()
        times = dwcp_data.read_training_data(folder)["timestamp"]
        assert end - timedelta(days=7) <= times.min() and times.max() < end


@pytest.mark.parametrize(
    ("case", "arguments", "conf", "task", "message"),
    [
        (
            "missing_landing",
            {"source": "/nonexistent/landing"},
            {},
            "gather_landing_shards",
            "does not exist",
        ),
        ("empty_landing", {"source": "EMPTY"}, {}, "gather_landing_shards", "no .csv or .parquet files"),
        ("corrupt_shard", {"source": "CORRUPT"}, {}, "gather_landing_shards", "DataError"),
        ("bad_engine", {}, {"engine": "spark"}, "prepare_training_set", "engine"),
        (
            "no_connection",
            {"source": "influxdb", "conn_id": "absent"},
            {},
            "export_influxdb_data",
            "isn't defined",
        ),
    ],
)
def test_a_permanent_error_fails_at_once_with_its_message_in_the_task_log(
    airflow, landing, tmp_path, case, arguments, conf, task, message
):
    source = arguments.get("source", str(landing))
    if source == "EMPTY":
        source = str(tmp_path / "empty")
        Path(source).mkdir()
    elif source == "CORRUPT":
        source = str(tmp_path / "corrupt")
        shutil.copytree(landing, source)
        shard = sorted(Path(source).glob("*.parquet"))[1]
        shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    dag = airflow.deploy(
        f"fails_{case}",
        dag_file(f"fails_{case}", schedule=None, min_rows=100, **{**arguments, "source": source}),
    )
    started = time.monotonic()
    run_id = airflow.trigger_rest(dag, conf=conf)
    run = airflow.wait(dag, run_id, timeout=120)
    assert run["state"] == "failed" and time.monotonic() - started < 60
    tasks = airflow.tasks(dag, run_id)
    assert tasks[task]["state"] == "failed" and tasks[task]["try_number"] == 1, tasks[task]
    log = airflow.task_log(dag, run_id, task)
    assert message in log and "not retried" in log, log[-3000:]


def test_two_dags_on_one_output_folder_keep_their_own_exports(airflow, influxd):
    df = dwcp_data.generate_synthetic(24 * 40, seed=9, end=datetime.now(timezone.utc), freq="1h")
    collector.post_lines(influxd.url, METRICS, collector.collector_lines(df))
    week = airflow.deploy(
        "exports_week", dag_file("exports_week", schedule=None, lookback_days=7, min_rows=50)
    )
    month = airflow.deploy(
        "exports_month", dag_file("exports_month", schedule=None, lookback_days=30, min_rows=50)
    )
    runs = {dag: airflow.trigger_rest(dag) for dag in (month, week)}
    for dag, run_id in runs.items():
        assert airflow.wait(dag, run_id)["state"] == "success", airflow.tasks(dag, run_id)
    exports = airflow.out / "exports"
    assert sorted(p.name for p in exports.iterdir()) == ["exports_month", "exports_week"]
    assert len(list((exports / "exports_month").glob("day-*.parquet"))) == 31
    assert len(list((exports / "exports_week").glob("day-*.parquet"))) == 8
    # each published set holds its own window, read whole
    for dag, days in ((week, 7), (month, 30)):
        (folder,) = published(airflow, dag)
        window = manifest(folder)["window"]
        assert instant(window["end"]) - instant(window["start"]) == timedelta(days=days)
    rows = {
        dag: sum(f["rows"] for f in manifest(published(airflow, dag)[0])["files"]) for dag in (week, month)
    }
    assert rows[week] < rows[month]
    points = json.loads(influxd.query('SELECT * FROM "pipeline_runs"', db=METRICS))["results"][0]["series"][0]
    succeeded = {
        row[points["columns"].index("dag_id")]
        for row in points["values"]
        if row[points["columns"].index("success")] is True
    }
    assert {week, month} <= succeeded


def test_retention_keeps_the_newest_sets_and_runs_of_its_own_dag(airflow, landing):
    other = airflow.out / "published" / "someone_elses"
    other.mkdir(parents=True, exist_ok=True)
    (other / "keep.txt").write_text("not ours")
    dag = deploy_landing(airflow, "kept_landing", landing, keep=2)
    dates = ["2025-11-01T00:00:00Z", "2025-11-02T00:00:00Z", "2025-11-03T00:00:00Z"]
    for date in dates:
        run_id = airflow.trigger_rest(dag, logical_date=date)
        assert airflow.wait(dag, run_id)["state"] == "success", airflow.tasks(dag, run_id)
    assert [p.name for p in published(airflow, dag)] == [
        "kept_landing_20251102T000000",
        "kept_landing_20251103T000000",
    ]
    assert not (airflow.out / "published" / "kept_landing_20251101T000000.quality.json").exists()
    assert len(list((airflow.out / "runs" / dag).iterdir())) == 2
    assert (other / "keep.txt").read_text() == "not ours"


#: The drift DAGs' week ends: the second week's RTT on WAN links is 1.3 times the first's.
FIRST_WEEK = datetime(2025, 11, 19, tzinfo=timezone.utc)  # after the DAG's start date
SECOND_WEEK = FIRST_WEEK + timedelta(days=7)

#: A DAG whose notifier writes each call's DAG, reason and drift figures to a file.
DRIFT_DAG = """
import json

from dwcp_data.airflow import make_dag


def alert(context):
    with open({alerts!r}, "a") as f:
        seen = {{"dag": context["dag"].dag_id, "reason": str(context.get("reason")), "drift": context.get("drift")}}
        f.write(json.dumps(seen) + "\\n")


dag = make_dag({dag_id!r}, schedule=None, source={landing!r}, lookback_days=7, min_rows=100, on_failure=alert, **{arguments!r})
"""


@pytest.fixture(scope="module")
def drifting_landing(tmp_path_factory) -> Path:
    """Two weeks of shards, 30 s apart, ending at :data:`FIRST_WEEK` and
    :data:`SECOND_WEEK`; in the second, RTT on WAN links is 1.3 times as long."""
    folder = tmp_path_factory.mktemp("drifting") / "shards"
    folder.mkdir()
    for seed, end in ((31, FIRST_WEEK), (32, SECOND_WEEK)):
        df = dwcp_data.generate_synthetic(20_000, seed=seed, end=end - timedelta(minutes=1), freq="30s")
        if end == SECOND_WEEK:
            wan = pl.col("link_type") == "wan"
            df = df.with_columns(pl.when(wan).then(pl.col("rtt_ms") * 1.3).otherwise(pl.col("rtt_ms")))
        df.write_parquet(folder / f"week-{end:%Y%m%d}.parquet")
    return folder


def alerts_of(path: Path, dag_id: str) -> list[dict]:
    lines = path.read_text().splitlines() if path.exists() else []
    return [seen for seen in map(json.loads, lines) if seen["dag"] == dag_id]


def test_a_drifted_week_is_reported_beside_its_set_and_warns_or_fails(
    airflow, influxd, drifting_landing, tmp_path
):
    alerts = tmp_path / "alerts.jsonl"
    watch = airflow.deploy(
        "drift_watch",
        DRIFT_DAG.format(
            alerts=str(alerts), dag_id="drift_watch", landing=str(drifting_landing), arguments={}
        ),
    )
    first = airflow.trigger_rest(watch, logical_date=FIRST_WEEK.isoformat())
    assert airflow.wait(watch, first)["state"] == "success", airflow.tasks(watch, first)
    assert "no earlier published set of this DAG to compare with: no drift report" in airflow.task_log(
        watch, first, "drift_report"
    )
    second = airflow.trigger_rest(watch, logical_date=SECOND_WEEK.isoformat())
    assert airflow.wait(watch, second)["state"] == "success", airflow.tasks(watch, second)
    earlier, current = published(airflow, watch)
    assert [p.name for p in (earlier, current)] == [
        "drift_watch_20251119T000000",
        "drift_watch_20251126T000000",
    ]
    # the report beside the published set: what drifted, against the week before
    report = json.loads(current.with_name(f"{current.name}.drift.json").read_text())
    assert report["reference"] == earlier.name and report["drifted"]
    drifted = {(d["group"], d["column"]) for d in report["drifted_columns"]}
    assert {(None, "rtt_ms"), ("wan", "rtt_ms")} <= drifted
    assert {group for group, _ in drifted} <= {None, "wan"}  # the other link types did not move
    page = current.with_name(f"{current.name}.drift.html").read_text()
    assert "Data drift report" in page and earlier.name in page and "<script" not in page
    # warned: the run succeeded, the notifier was called with the report's figures
    (seen,) = alerts_of(alerts, watch)
    assert "data drift against drift_watch_20251119T000000: rtt_ms" in seen["reason"]
    assert seen["drift"]["drifted"] is True and seen["drift"]["reference"] == earlier.name
    answer = json.loads(influxd.query(f'SELECT * FROM "data_drift" WHERE "dag_id" = \'{watch}\'', db=METRICS))
    series = answer["results"][0]["series"][0]
    (point,) = [dict(zip(series["columns"], row, strict=True)) for row in series["values"]]
    assert point["drifted"] is True and point["drifted_columns"] >= 1 and point["reference"] == earlier.name

    # The same week judged against a pinned profile, with on_drift="fail": the run fails before training.
    strict = airflow.deploy(
        "drift_strict",
        DRIFT_DAG.format(
            alerts=str(alerts),
            dag_id="drift_strict",
            landing=str(drifting_landing),
            arguments={
                "on_drift": "fail",
                "drift_reference": str(earlier.with_name(f"{earlier.name}.profile")),
            },
        ),
    )
    run_id = airflow.trigger_rest(strict, logical_date=SECOND_WEEK.isoformat())
    assert airflow.wait(strict, run_id)["state"] == "failed"
    tasks = airflow.tasks(strict, run_id)
    assert tasks["drift_report"]["state"] == "failed" and tasks["drift_report"]["try_number"] == 1
    assert "data drift against" in airflow.task_log(strict, run_id, "drift_report")
    (folder,) = published(airflow, strict)
    assert json.loads(folder.with_name(f"{folder.name}.drift.json").read_text())["drifted"]
    deadline = time.monotonic() + 60  # the DAG's failure callbacks run once the run has failed
    while not alerts_of(alerts, strict):
        assert time.monotonic() < deadline, airflow.logs()
        time.sleep(1)
    runs = json.loads(
        influxd.query(f'SELECT * FROM "pipeline_runs" WHERE "dag_id" = \'{strict}\'', db=METRICS)
    )
    series = runs["results"][0]["series"][0]
    # the published set's own figures (record_quality runs beside drift_report), and the run's failure
    points = [dict(zip(series["columns"], row, strict=True)) for row in series["values"]]
    assert sorted((p["ok"], p["failed_task"]) for p in points) == [(0, "drift_report"), (1, None)]


def test_every_dashboard_panel_shows_the_chosen_dags_points(airflow, influxd):
    """Run after the DAGs above wrote their points: each panel's query, as
    Grafana sends it for the DAG chosen in the ``dag_id`` variable."""
    dashboard = json.loads(
        (Path(dwcp_data.__file__).parent / "grafana" / "dwcp_data_quality.json").read_text()
    )
    variable = next(v for v in dashboard["templating"]["list"] if v["name"] == "dag_id")
    answer = json.loads(influxd.query(variable["query"], db=METRICS))["results"][0]["series"][0]["values"]
    assert {"exports_week", "exports_month", "drift_watch"} <= {value for _, value in answer}
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            query = (
                target["query"]
                .replace("$timeFilter", "time > now() - 400d")
                .replace("$__interval", "1h")
                .replace("$dag_id", "drift_watch")
            )
            result = json.loads(influxd.query(query, db=METRICS))["results"][0]
            assert "error" not in result, (panel["title"], result)
            series = result.get("series", [])
            assert series, (panel["title"], query)
            if "dag_id" in query:  # the DAG's own points, and no other DAG's
                assert {s["tags"]["dag_id"] for s in series} == {"drift_watch"}, panel["title"]
            values = [v for s in series for row in s["values"] for v in row[1:] if v is not None]
            assert values, (panel["title"], query)


def test_a_task_killed_mid_run_is_retried_and_publishes_the_same_bytes(airflow, tmp_path):
    source = tmp_path / "big"
    now = datetime.now(timezone.utc).replace(microsecond=0)
    df = dwcp_data.generate_synthetic(2_000_000, seed=12, end=now - timedelta(hours=1), freq="300ms")
    dwcp_data.write_training_data(df, source, shard_rows=500_000)
    arguments = {
        "schedule": None,
        "source": str(source),
        "lookback_days": 7,
        "conn_id": "no_metrics_here",
        "default_args": {"retry_delay": timedelta(seconds=1)},
    }
    killed, clean = (
        airflow.deploy(name, dag_file(name, **arguments)) for name in ("killed_run", "clean_run")
    )
    date = (now - timedelta(minutes=30)).isoformat()
    run_id = airflow.trigger_rest(killed, logical_date=date)
    deadline = time.monotonic() + 120
    while (task := airflow.tasks(killed, run_id).get("prepare_training_set", {})).get("state") != "running":
        assert time.monotonic() < deadline, airflow.tasks(killed, run_id)
        time.sleep(0.2)
    time.sleep(1.5)  # part way through its passes
    os.kill(task["pid"], signal.SIGKILL)
    assert airflow.wait(killed, run_id)["state"] == "success", airflow.tasks(killed, run_id)
    assert airflow.tasks(killed, run_id)["prepare_training_set"]["try_number"] == 2
    other = airflow.trigger_rest(clean, logical_date=date)
    assert airflow.wait(clean, other)["state"] == "success"
    (a,), (b,) = published(airflow, killed), published(airflow, clean)
    assert [(f["name"], f["sha256"]) for f in manifest(a)["files"]] == [
        (f["name"], f["sha256"]) for f in manifest(b)["files"]
    ]
