"""Airflow 3 glue: the weekly ``compression_selector_training`` DAG and its task callables.

Install with ``pip install dwcp-data[airflow]``. The DAG file
``dwcp_data/airflow/dags/compression_selector_training.py`` ships with the package:
copy it (or link it) into the DAGs folder. Which window each kind of run
reads (scheduled, manual with or without a date, backfill) is in
``dwcp_data.airflow._runs``; which failures are retried in
``dwcp_data.airflow._failures``.

Configuration comes from Airflow, never from code:

* connection ``dwcp_influxdb``: either of apache-airflow-providers-influxdb's
  type ``influxdb`` (an existing team connection works unchanged; see
  :func:`influx_connection`), or ``http`` with ``schema`` = the InfluxDB 1.x
  database (or extras ``bucket`` and ``org`` for 2.x), login and password or
  extra ``token``, extra ``ssl`` for https;
* variable ``dwcp_data_output_dir``: where run folders and published data sets go.

Tasks pass file paths through XCom, never frames. A failed validation fails
the run without retries, and nothing is published. Every run, successful or
not, leaves a ``pipeline_runs`` point (``success``, ``ok`` = 1 or 0, and for a
failure the failed task and error class), and ``make_dag(on_failure=...)``
alerts through Airflow notifiers.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import logging
import math
import os
import time
import urllib.parse
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

import polars as pl
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, BaseHook
from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException

from dwcp_data import _json, influx
from dwcp_data._convert import one_of, positive_int, yes_or_no
from dwcp_data._outputs import atomic_path, publish_copy, read_manifest
from dwcp_data.airflow._drift import (
    ON_DRIFT,
    OnDrift,
    drift_fields,
    drift_message,
    publish_profile,
    published_profile,
    reference_for,
    write_report,
)
from dwcp_data.airflow._failures import fail_fast
from dwcp_data.airflow._landing import window_shards
from dwcp_data.airflow._retention import keep_newest
from dwcp_data.airflow._runs import (
    OUTPUT_VARIABLE,
    beside,
    dag_folder,
    output,
    published_name,
    run_dir,
    run_window,
)
from dwcp_data.drift import DriftOptions, drift
from dwcp_data.engines import ENGINES, EngineName, RayEngine
from dwcp_data.errors import DataError, DwcpDataError, InvalidArgumentError, ValidationError
from dwcp_data.options import Profile, ValidationOptions
from dwcp_data.pipeline import profile_path_for, report_path_for, run_pipeline
from dwcp_data.quality import flatten, to_line_protocol

__all__ = [
    "CONNECTION_ID",
    "DRIFT_TASK",
    "FAILURE_FILE",
    "OUTPUT_VARIABLE",
    "influx_connection",
    "make_dag",
    "ray_pipeline_task",
    "record_run_failure",
    "record_task_failure",
]

_log = logging.getLogger(__name__)

#: The Airflow connection to InfluxDB.
CONNECTION_ID = "dwcp_influxdb"


def influx_connection(conn_id: str = CONNECTION_ID) -> dict[str, Any]:
    """Keyword arguments for :mod:`dwcp_data.influx` from an Airflow connection.

    Two kinds of connection work:

    * ``conn_type`` ``influxdb``, as apache-airflow-providers-influxdb defines
      it, so a team's existing connection works unchanged: host, port,
      ``schema`` = ``http`` or ``https`` (default https, as the provider),
      extras ``token`` and ``org_name`` (or ``org``). The bucket is the extra
      ``bucket`` (default ``dwcp_metrics``); an extra ``database`` instead
      speaks InfluxDB 1.x.
    * any other type (``http``): host, port, ``schema`` = the 1.x database (or
      extras ``bucket`` and ``org`` for 2.x), extra ``ssl`` for https.

    Credentials: extra ``token``, else login and password. TLS: extra
    ``verify_ssl`` (the provider's; ``false`` for a test server only) and
    ``ca_bundle`` (a PEM file of the CA that signed the server's certificate).
    """
    conn = BaseHook.get_connection(conn_id)
    extra = conn.extra_dejson
    if conn.conn_type == "influxdb":
        kwargs: dict[str, Any] = {"url": _server_url(conn_id, conn.schema or "https", conn.host, conn.port)}
        if extra.get("database"):
            kwargs["database"] = extra["database"]
        else:
            kwargs.update(
                bucket=extra.get("bucket") or "dwcp_metrics", org=extra.get("org_name") or extra.get("org")
            )
    else:
        kwargs = {"url": _server_url(conn_id, "https" if extra.get("ssl") else "http", conn.host, conn.port)}
        if extra.get("bucket"):
            kwargs.update(bucket=extra["bucket"], org=extra.get("org"))
        else:
            kwargs["database"] = conn.schema or extra.get("database")
    if extra.get("token"):
        kwargs["token"] = extra["token"]
    elif conn.login:
        kwargs.update(username=conn.login, password=conn.password)
    if "verify_ssl" in extra:
        where = f"the Airflow connection {conn_id!r}'s extra verify_ssl"
        kwargs["verify"] = yes_or_no(extra["verify_ssl"], "conn_id", where)
    if extra.get("ca_bundle"):
        kwargs["ca_bundle"] = extra["ca_bundle"]
    return kwargs


def _server_url(conn_id: str, scheme: str, host: str | None, port: int | None) -> str:
    """The server URL of connection ``conn_id``: ``scheme://host:port`` (port
    8086 by default; an IPv6 address in brackets). A host written as a URL
    (``http://influx:8086``) gives its own scheme and port.

    Raises:
        dwcp_data.errors.InvalidArgumentError: no host, or a scheme other than
            http and https (``param="conn_id"``).
    """
    host = (host or "").strip()
    if "://" in host:
        parts = urllib.parse.urlsplit(host)
        scheme, host, port = parts.scheme, parts.hostname or "", port or parts.port
    if not host or scheme not in ("http", "https"):
        problem = "has no host" if not host else f"has the scheme {scheme!r}, not 'http' or 'https'"
        raise InvalidArgumentError.of("conn_id", f"the Airflow connection {conn_id!r} {problem}")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address
    return f"{scheme}://{host}:{port or 8086}"


def _task(step: Callable[..., Any]) -> Callable[..., Any]:
    """A task callable: failing at once on what a retry cannot fix
    (:func:`~dwcp_data.airflow._failures.fail_fast`), its seconds pushed to
    XCom (key ``seconds``) for the pipeline metrics."""
    checked = fail_fast(step)

    @functools.wraps(step)
    def run(**context: Any) -> Any:
        started = time.perf_counter()
        result = checked(**context)
        context["ti"].xcom_push(key="seconds", value=time.perf_counter() - started)
        return result

    return run


#: The first task: the window's shards, exported from InfluxDB or found in a landing folder.
EXPORT_TASK = "export_influxdb_data"
LANDING_TASK = "gather_landing_shards"
#: The task that builds the training set.
PREPARE_TASK = "prepare_training_set"
#: The task that publishes it, and the one comparing it with the previous published set.
PUBLISH_TASK = "publish_dataset"
DRIFT_TASK = "drift_report"
#: Where the exported day shards stay between runs: ``<output>/exports/<dag_id>``.
EXPORTS = "exports"


@_task
def export_metrics_task(*, conn_id: str, lookback_days: int, concurrency: int, **context: Any) -> list[str]:
    """Export the run's window (the ``lookback_days`` before its end, see
    ``dwcp_data.airflow._runs``) into day shards kept in
    ``<output>/exports/<dag_id>`` between runs (only new or changed days are
    read from the server, see :func:`~dwcp_data.influx.export_to_folder`);
    the window's shards, through XCom."""
    start, end = run_window(context, lookback_days)
    report = influx.export_to_folder(
        dag_folder(EXPORTS, context),
        start=start,
        end=end,
        concurrency=concurrency,
        prune=True,
        **influx_connection(conn_id),
    )
    context["ti"].xcom_push(key="rows", value=report.rows)
    _log.info(
        "exported %d day(s): %s; reused %d in %.1f s",
        len(report.exported),
        ", ".join(report.exported),
        len(report.reused),
        report.seconds,
    )
    return [str(f) for f in report.files]


@_task
def gather_landing_task(*, landing: str, lookback_days: int, **context: Any) -> list[str]:
    """The Parquet/CSV shards of the landing ``landing`` that hold the run's
    window, cut to it (see ``dwcp_data.airflow._landing``: a path may name
    each day, ``/landing/dt={date:%Y-%m-%d}/``), through XCom; the rows and
    the first and last time read, as XCom ``rows`` and ``read``."""
    start, end = run_window(context, lookback_days)
    work = run_dir(context) / "window"
    work.mkdir(exist_ok=True)
    files, read = window_shards(landing, start, end, work)
    _log.info(
        "landing %s, window %s .. %s: %s", landing, start.isoformat(), end.isoformat(), _json.dumps(read)
    )
    context["ti"].xcom_push(key="rows", value=read["rows"])
    context["ti"].xcom_push(key="read", value=read)
    return files


@_task
def prepare_task(
    *,
    source_task: str,
    profile: Profile,
    min_rows: int,
    by: str | None,
    cpu_weight: float,
    engine: str,
    **context: Any,
) -> str:
    """Validate, clean, label and validate again the window's shards, out of core
    (:func:`~dwcp_data.run_pipeline` on a folder, on the engine of the run's
    param ``engine``); a failed validation fails the run without retries."""
    files = context["ti"].xcom_pull(task_ids=source_task)
    engine = context["params"].get("engine", engine)
    one_of(engine, ENGINES, "engine")
    try:
        result = run_pipeline(
            files,
            run_dir(context) / "training",
            profile=profile,
            min_rows=min_rows,
            by=by,
            cpu_weight=cpu_weight,
            engine=engine,  # type: ignore[arg-type]
            show_progress=False,
        )
    except ValidationError as exc:
        raise AirflowFailException(str(exc)) from exc
    _log_stages(result.report)
    return str(result.dataset)


def _log_stages(report: dict[str, Any]) -> None:
    """One log line per pipeline stage (rows, seconds), and the task's peak memory."""
    for stage in report["stages"]:
        _log.info("stage %-18s %12s rows %9.2f s", stage["stage"], f"{stage['rows']:,}", stage["seconds"])
    _log.info(
        "pipeline %s: %s rows published from %s in %.1f s, peak memory %.2f GiB",
        report["status"],
        f"{report['stages'][-1]['rows']:,}",
        f"{report['stages'][0]['rows']:,}",
        report["seconds"],
        _peak_gib(),
    )


def _peak_gib() -> float:
    """This process's peak resident memory, in GiB (0 where unknown)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return 0.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1 << 20)


@_task
def publish_task(*, lookback_days: int, keep: int | None = None, **context: Any) -> str:
    """Publish the training set as ``<output>/published/<dag_id>_<window end>/``
    (see :func:`~dwcp_data.airflow._runs.published_name`): its shards and a
    manifest (the run, the window, source, schema, rows and SHA-256 per shard,
    the input and output validations, the cleaning, the SHA-256 of its
    profile), in one step, its profile (:mod:`dwcp_data.profiles`, gathered
    as the pipeline wrote the rows) beside it as ``<name>.profile``. Replacing
    another run's publication of the same name is logged and recorded in the
    manifest (``replaces``). With ``keep``, all but this DAG's ``keep`` newest
    published sets and run folders are then removed (see
    ``dwcp_data.airflow._retention``)."""
    training = Path(context["ti"].xcom_pull(task_ids=PREPARE_TASK))
    report = json.loads(report_path_for(training).read_text())
    start, end = run_window(context, lookback_days)
    target = output() / "published" / published_name(context, end)
    info = {
        "dag_id": context["dag"].dag_id,
        "run_id": context["run_id"],
        "window": {"start": start, "end": end},
        "read": context["ti"].xcom_pull(task_ids=LANDING_TASK, key="read"),
        "source": report["source"],
        "schema": {c: str(t) for c, t in pl.read_parquet_schema(next(training.glob("*.parquet"))).items()},
        "input_validation": report["input_validation"],
        "output_validation": report["output_validation"],
        "cleaning": report["cleaning"],
    }
    earlier = _published_by(target)
    if earlier is not None and earlier != context["run_id"]:
        _log.warning("%s replaces the data set run %s published under the same name", target, earlier)
        info["replaces"] = {"run_id": earlier}
    info["profile"] = publish_profile(profile_path_for(training), target)
    published = publish_copy(training, target, kind="published", info=info)
    if keep is not None:
        for path in keep_newest(context, keep):
            _log.info("retention (keep=%d): removed %s", keep, path)
    return str(published)


def _published_by(target: Path) -> str | None:
    """The run that published ``target``, if it is a published set of ours."""
    try:
        manifest = read_manifest(target)
    except DwcpDataError:
        return None
    return str(manifest.get("run_id", "an earlier run")) if manifest is not None else None


#: The file in a run's folder where a failed task records what went wrong.
FAILURE_FILE = "failure.json"


def record_task_failure(context: dict[str, Any]) -> None:
    """Task-level failure callback: the failed task, its error's class and
    message, in the run folder's :data:`FAILURE_FILE` (only a task's own
    callback sees its exception; :func:`record_run_failure` reports it).

    A failure Airflow wraps (``AirflowFailException`` raised from a
    ``ValidationError``) is recorded as the error it wraps."""
    error = context.get("exception")
    cause = error.__cause__ if error is not None and error.__cause__ is not None else error
    failure = {
        "failed_task": context["ti"].task_id,
        "error_class": type(cause).__name__ if cause is not None else "unknown",
        "error": str(cause or "")[:2000],
    }
    with atomic_path(run_dir(context) / FAILURE_FILE) as tmp:
        tmp.write_text(_json.dumps(failure))


def record_run_failure(context: dict[str, Any], *, conn_id: str = CONNECTION_ID) -> None:
    """DAG-level failure callback: a ``pipeline_runs`` point with ``success=false``
    (``ok=0``), the failed task and the error class, so that §8's ETL success
    rate counts failed runs too."""
    path = run_dir(context) / FAILURE_FILE
    failure = json.loads(path.read_text()) if path.exists() else {}
    fields = {
        "success": False,
        "ok": 0,
        "failed_task": failure.get("failed_task", "unknown"),
        "error_class": failure.get("error_class", "unknown"),
        "reason": str(context.get("reason") or "failed"),
    }
    _log.error("run %s failed: %s", context.get("run_id"), _json.dumps(fields))
    try:
        _write_points(conn_id, context, {"pipeline_runs": fields})
    except Exception:  # a callback must not fail silently: say why the point is missing
        _log.exception("the failed run's pipeline_runs point could not be written to %r", conn_id)


class _Notify:
    """A DAG failure callback that calls ``notifier`` with the DAG it belongs to
    in the context: notifiers render their templates with it, and
    ``dag.test()`` passes a serialized DAG that cannot render."""

    def __init__(self, notifier: Callable[..., Any]) -> None:
        self.notifier = notifier
        self.dag: DAG | None = None  # bound once the DAG exists

    def __call__(self, context: dict[str, Any]) -> None:
        self.notifier({**context, "dag": self.dag or context["dag"]})


def _write_points(conn_id: str, context: dict[str, Any], points: dict[str, dict[str, Any]]) -> bool:
    """One point per measurement, tagged with the DAG id, time now, written to
    the connection ``conn_id``; without that connection (monitoring is
    optional) nothing is written, which the log says. Whether they were written."""
    try:
        connection = influx_connection(conn_id)
    except AirflowNotFoundException:
        _log.info("no Airflow connection %r: the %s points are not written", conn_id, ", ".join(points))
        return False
    now = datetime.now(timezone.utc)
    tags = {"dag_id": context["dag"].dag_id}
    body = "".join(to_line_protocol(m, fields, tags=tags, time=now) for m, fields in points.items())
    influx.Connection(**connection).write(body.encode(), gzipped=False)
    return True


@_task
def record_quality_task(*, conn_id: str, source_task: str, **context: Any) -> dict[str, Any]:
    """§8's metrics of the published data set, which the pipeline gathered as
    it wrote the rows (freshness counted to now), and each stage's rows, all
    from the run report, without reading the data again: written beside the
    published set (``<published>.quality.json``) and to the task log, and as
    ``data_quality`` and ``pipeline_runs`` points to InfluxDB when the
    connection ``conn_id`` exists."""
    ti = context["ti"]
    report = json.loads(report_path_for(Path(ti.xcom_pull(task_ids=PREPARE_TASK))).read_text())
    metrics = dict(report["quality"])
    if metrics.get("newest_timestamp"):
        with contextlib.suppress(ValueError):  # a year a datetime cannot hold: the report's figure stays
            newest = datetime.fromisoformat(metrics["newest_timestamp"])
            metrics["freshness_hours"] = (datetime.now(timezone.utc) - newest).total_seconds() / 3600
    run_fields: dict[str, Any] = {
        "success": True,
        "ok": 1,
        "export_success": True,
        "export_latency_s": float(ti.xcom_pull(task_ids=source_task, key="seconds") or 0.0),
        "rows_export_influxdb_data": int(ti.xcom_pull(task_ids=source_task, key="rows") or 0),
        "rows_clean_data": report["cleaning"]["rows_out"],
        "rows_published": metrics["rows"],
        "freshness_hours": metrics.get("freshness_hours"),
    }
    figures = {"data_quality": metrics, "pipeline_runs": run_fields}
    published = Path(ti.xcom_pull(task_ids=PUBLISH_TASK))
    with atomic_path(beside(published, ".quality.json")) as tmp:
        tmp.write_text(_json.dumps(figures, indent=2))
    _log.info("data quality of %s: %s", published, _json.dumps(figures))
    _write_points(conn_id, context, {"data_quality": flatten(metrics), "pipeline_runs": run_fields})
    return figures


@_task
def drift_report_task(
    *,
    conn_id: str,
    on_drift: str,
    reference: str | None,
    options: DriftOptions | None,
    notifiers: Sequence[Callable[[dict[str, Any]], None]] = (),
    **context: Any,
) -> dict[str, Any] | None:
    """What changed in the published set since the previous one (see
    ``dwcp_data.airflow._drift``): its profile compared with the DAG's newest
    earlier published set's (or the pinned ``reference``: a saved profile or
    a data set) by :func:`~dwcp_data.drift` with ``options``; the report
    beside the published set (``<name>.drift.html``, ``<name>.drift.json``),
    a ``data_drift`` point where the connection ``conn_id`` exists, and its
    fields through XCom. When the set drifted, ``on_drift`` ``"fail"`` fails
    the run (without retries: the DAG's failure callbacks alert),
    ``"warn"`` logs a warning and calls ``notifiers`` with the context and
    ``reason`` (the message) and ``drift`` (the fields), ``"ignore"`` only
    reports. The DAG's first run has nothing to compare with: it says so."""
    published = Path(context["ti"].xcom_pull(task_ids=PUBLISH_TASK))
    current = published_profile(published)
    if current is None:
        raise DataError(f"{published}: published without a profile", column="", row=None, rule="profile")
    found = reference_for(context["dag"].dag_id, published, reference)
    if found is None:
        _log.info(
            "%s: no earlier published set of this DAG to compare with: no drift report (the next run compares with it)",
            published,
        )
        return None
    report = drift(current, found.profile, options=options)
    page, document = write_report(report, published, found)
    fields = drift_fields(report, found)
    _log.info("%r against %s: %s; page %s, JSON %s", report, found.name, _json.dumps(fields), page, document)
    _write_points(conn_id, context, {"data_drift": fields})
    if report.drifted and on_drift != "ignore":
        message = drift_message(report, found, page)
        if on_drift == "fail":
            raise AirflowFailException(message)
        _log.warning(message)
        for notify in notifiers:
            try:
                notify({**context, "reason": message, "drift": fields})
            except Exception:  # one channel down must not hide the report, nor silence the others
                _log.exception("the drift notifier %r failed", notify)
    return fields


def ray_pipeline_task(
    *,
    source: str,
    out: str,
    address: str | None = None,
    profile: Profile = ValidationOptions.profile,
    min_rows: int = ValidationOptions.min_rows,
    by: str | Sequence[str] | None = None,
    cpu_weight: float = 0.0,
    **context: Any,
) -> str:
    """Run :func:`~dwcp_data.run_pipeline` with ``engine="ray"`` from a
    PythonOperator: the shard folder (or glob, or a URI Ray Data reads)
    ``source`` into the folder ``out``, both on storage the Ray workers share;
    the output folder's path (through XCom: paths, never frames).

    Connects to the cluster at ``address`` (e.g. ``"ray://head:10001"``;
    ``None``: the ``RAY_ADDRESS`` environment variable, else a local Ray) unless
    the task's process is already connected. A failed validation raises
    :class:`~dwcp_data.errors.ValidationError` (the run report is written)."""
    import ray

    from dwcp_data.ray import source_of

    engine = RayEngine() if ray.is_initialized() else RayEngine(address=address)
    result = run_pipeline(
        source_of(source),  # type: ignore[arg-type]  # a ray.data.Dataset: the Ray engine reads it
        out,
        profile=profile,
        min_rows=min_rows,
        by=by,
        cpu_weight=cpu_weight,
        engine=engine,
    )
    return str(result.dataset)


def train_reference_task(**context: Any) -> str:
    """Train the reference selector (:mod:`dwcp_data.selector`) on the published
    data set; the saved model's path (in the run's folder, its card beside it)."""
    from dwcp_data import selector

    published = context["ti"].xcom_pull(task_ids=PUBLISH_TASK)
    return str(selector.train(published).save(run_dir(context) / "model" / "selector.txt"))


def validate_model_task(**context: Any) -> dict[str, float]:
    """Fail the run (without retries) unless the model's regret on the held-out
    newest rows is below the logged policy's: a model that does not beat the
    selector in production is never deployed."""
    from dwcp_data import selector

    path = context["ti"].xcom_pull(task_ids="train_compression_model")
    regret = json.loads(selector.card_path(path).read_text())["regret_held_out"]
    model, logged = regret["model"]["mean_ms"], regret["logged_policy"]["mean_ms"]
    if model is None or logged is None or not model < logged:
        raise AirflowFailException(
            f"the model's held-out regret ({model} ms per row) is not below the logged policy's "
            f"({logged} ms per row): not deployed"
        )
    return {"model_regret_ms": model, "logged_policy_regret_ms": logged}


def deploy_task(*, conn_id: str, **context: Any) -> str:
    """Copy the validated model and its card into ``<output>/staging/<dag_id>`` (each
    atomically, the model first: until the card follows, a reader finds the
    old card, whose digest the new model does not match, and refuses to load)
    and record a ``model_deployments`` point."""
    from dwcp_data import selector

    model = Path(context["ti"].xcom_pull(task_ids="train_compression_model"))
    judged = context["ti"].xcom_pull(task_ids="validate_model")
    staging = dag_folder("staging", context)
    for source in (model, selector.card_path(model)):
        with atomic_path(staging / source.name) as tmp:
            tmp.write_bytes(source.read_bytes())
    card = json.loads(selector.card_path(model).read_text())
    fields = {
        "path": str(staging / model.name),
        "rows_trained": card["rows"]["trained_on"],
        "regret_ms": judged["model_regret_ms"],
        "logged_policy_regret_ms": judged["logged_policy_regret_ms"],
        "oracle_share": card["regret_held_out"]["model"]["oracle_share"],
    }
    _write_points(conn_id, context, {"model_deployments": fields})
    return str(staging / model.name)


#: The longest window a run may look back over: a century (a longer one is a
#: mistake, and soon reaches before the times InfluxDB stores).
MAX_LOOKBACK_DAYS = 36_500


def _check_dag_arguments(
    profile: Profile, lookback_days: int, min_rows: int, by: str | None, cpu_weight: float
) -> None:
    """Refuses, when the DAG is defined, arguments its tasks would fail on every run."""
    ValidationOptions(profile, min_rows)  # checks both as the pipeline will
    positive_int(lookback_days, "lookback_days")
    if lookback_days > MAX_LOOKBACK_DAYS:
        raise InvalidArgumentError.of(
            "lookback_days", f"at most {MAX_LOOKBACK_DAYS:,} days (a century), got {lookback_days:,}"
        )
    if by is not None and not isinstance(by, str):
        raise InvalidArgumentError.of("by", f"a column name or None, got {by!r}")
    if (
        isinstance(cpu_weight, bool)
        or not isinstance(cpu_weight, (int, float))
        or not (math.isfinite(cpu_weight) and cpu_weight >= 0)
    ):
        raise InvalidArgumentError.of("cpu_weight", f"must be a finite number >= 0, got {cpu_weight!r}")


def _source_task(source: str, conn_id: str, lookback_days: int, concurrency: int) -> PythonOperator:
    """The DAG's first task: the incremental export from InfluxDB
    (``source="influxdb"``), or the gathering of a landing folder."""
    if not isinstance(source, str) or not source:
        raise InvalidArgumentError.of("source", f"'influxdb' or a landing folder, got {source!r}")
    if source == "influxdb":
        return PythonOperator(
            task_id=EXPORT_TASK,
            python_callable=export_metrics_task,
            op_kwargs={"conn_id": conn_id, "lookback_days": lookback_days, "concurrency": concurrency},
        )
    return PythonOperator(
        task_id=LANDING_TASK,
        python_callable=gather_landing_task,
        op_kwargs={"landing": source, "lookback_days": lookback_days},
    )


def _model_tasks(
    train: Callable[..., Any] | Literal["reference"] | None,
    validate_model: Callable[..., Any] | None,
    deploy: Callable[..., Any] | None,
    conn_id: str,
) -> list[PythonOperator]:
    """The tasks after publishing that are given (``train="reference"``: the
    reference selector's three), in order."""
    if train == "reference":
        train = train_reference_task
        validate_model = validate_model or validate_model_task
        deploy = deploy or functools.partial(deploy_task, conn_id=conn_id)
    return [
        PythonOperator(task_id=task_id, python_callable=callable_)
        for task_id, callable_ in (
            ("train_compression_model", train),
            ("validate_model", validate_model),
            ("deploy_to_staging", deploy),
        )
        if callable_ is not None
    ]


#: Every task's defaults: two retries five minutes apart, failures recorded.
_DEFAULT_ARGS = {
    "owner": "ml-team",
    "depends_on_past": False,
    "retries": 2,
    "retry_delay": timedelta(minutes=5),
    "on_failure_callback": record_task_failure,
}


def make_dag(
    dag_id: str = "compression_selector_training",
    *,
    schedule: str | None = "0 2 * * 0",
    start_date: datetime = datetime(2025, 11, 1, tzinfo=timezone.utc),
    conn_id: str = CONNECTION_ID,
    source: str = "influxdb",
    engine: EngineName = "local",
    lookback_days: int = 30,
    concurrency: int = influx.EXPORT_CONCURRENCY,
    profile: Profile = ValidationOptions.profile,
    min_rows: int = ValidationOptions.min_rows,
    by: str | None = None,
    cpu_weight: float = 0.0,
    train: Callable[..., Any] | Literal["reference"] | None = None,
    validate_model: Callable[..., Any] | None = None,
    deploy: Callable[..., Any] | None = None,
    on_failure: Callable[..., Any] | Sequence[Callable[..., Any]] = (),
    on_drift: OnDrift = "warn",
    drift_reference: str | os.PathLike[str] | None = None,
    drift_options: DriftOptions | None = None,
    default_args: dict[str, Any] | None = None,
    keep: int | None = None,
) -> DAG:
    """The weekly training-data DAG (design document §4.2, for Airflow 3).

    Tasks, each passing folder paths (never frames) through XCom and working
    out of core, so that no task's memory grows with the rows:

    * ``export_influxdb_data``: the ``lookback_days`` (default §4.1's 30)
      before the run's window end (the data interval's end for scheduled and
      backfill runs, the given date or the trigger time for manual ones: see
      ``dwcp_data.airflow._runs``), one Parquet shard per UTC day in
      ``<output>/exports/<dag_id>``, kept between runs: a weekly run reads only the new
      or changed days (:func:`~dwcp_data.influx.export_to_folder`,
      ``concurrency`` days at once). With ``source`` a folder instead of
      ``"influxdb"`` (backfills, tests), ``gather_landing_shards`` takes that
      folder's Parquet/CSV shards as they are.
    * ``prepare_training_set``: validation, cleaning, labels and the output's
      validation in shared passes (:func:`~dwcp_data.run_pipeline` on a
      folder), on the ``engine`` (``"local"`` or ``"ray"``: the Ray cluster of
      ``RAY_ADDRESS``; also the run's param ``engine``). A failed validation
      fails the run without retries; the run report stays in the run folder.
    * ``publish_dataset``: ``<output>/published/<dag_id>_<window end>/`` with a
      manifest (run, window, source, schema, rows and SHA-256 per shard, both
      validations, the cleaning report), published in one step.
    * ``record_quality``: §8's figures beside the published set
      (``<name>.quality.json``), in the task log, and as ``data_quality`` and
      ``pipeline_runs`` points where the connection exists (monitoring is
      optional for a landing-folder DAG).
    * ``drift_report``: what changed since the DAG's previous published set
      (or the pinned ``drift_reference``: a saved profile, or a data set
      profiled each run), from the two sets' profiles alone
      (:func:`drift_report_task`, thresholds ``drift_options``): a page and
      JSON beside the published set (``<name>.drift.html``,
      ``<name>.drift.json``) and a ``data_drift`` point. When the set
      drifted, ``on_drift="warn"`` (the default) logs it and calls the
      ``on_failure`` notifiers (with ``reason`` and ``drift`` in their
      context), ``"fail"`` fails the run before any model task (the failure
      callbacks alert), ``"ignore"`` only reports.

    The selector team's ``train``, ``validate_model`` and ``deploy``
    callables (§4.2's last three tasks) follow publishing when given; each
    receives the Airflow context and finds the published folder with
    ``ti.xcom_pull(task_ids="publish_dataset")``. ``train="reference"`` wires
    the package's own: :func:`train_reference_task` (a bounded, time-stratified
    sample of the published folder) → :func:`validate_model_task` (fails the
    run unless the model's held-out regret is below the logged policy's) →
    :func:`deploy_task` (the model and its card copied into
    ``<output>/staging``, a ``model_deployments`` point); ``validate_model``
    and ``deploy`` given alongside replace those two.

    Every Sunday at 02:00, no catch-up, one run at a time (runs share the
    DAG's export folder), owner ``ml-team``, 2 retries 5 minutes apart for
    what a retry can fix (network and server errors, a full disk); what it
    cannot fix fails the task at once: a failed validation, an empty or
    missing landing folder, a corrupt shard, a missing connection or package,
    a bad argument (see ``dwcp_data.airflow._failures``). ``default_args``
    are Airflow's task arguments (``retries``, ``retry_delay``, ``pool``,
    ``queue``, ``execution_timeout``, ``email``, ...), laid over these.
    Every folder a DAG writes is its own (``exports/<dag_id>``,
    ``runs/<dag_id>``, ``staging/<dag_id>``), so DAGs sharing an output
    folder never prune or replace each other's files. ``keep=N`` keeps the
    DAG's N newest published sets and run folders and removes the older ones
    (only ever this DAG's own); ``None`` keeps everything.

    A failed run is recorded and alerted: a task that fails for good records
    its error (:func:`record_task_failure`), and the DAG's failure callback
    writes a ``pipeline_runs`` point with ``success=false``
    (:func:`record_run_failure`), then calls ``on_failure``: Airflow 3
    notifiers or callables taking the context, e.g. the SMTP provider's
    ``SmtpNotifier(to="ml-alerts@company.com")`` for §4.2's
    ``email_on_failure``.
    """
    if isinstance(train, str) and train != "reference":
        raise InvalidArgumentError.of("train", f"a callable, 'reference' or None, got {train!r}")
    _check_dag_arguments(profile, lookback_days, min_rows, by, cpu_weight)
    one_of(engine, ENGINES, "engine")
    positive_int(concurrency, "concurrency")
    if keep is not None:
        positive_int(keep, "keep")
    one_of(on_drift, ON_DRIFT, "on_drift")
    if drift_options is not None and not isinstance(drift_options, DriftOptions):
        raise InvalidArgumentError.of("drift_options", f"a DriftOptions or None, got {drift_options!r}")
    if drift_reference is not None and not isinstance(drift_reference, (str, os.PathLike)):
        raise InvalidArgumentError.of("drift_reference", f"a path or None, got {drift_reference!r}")
    if default_args is not None and not isinstance(default_args, dict):
        raise InvalidArgumentError.of("default_args", f"a dict of task arguments, got {default_args!r}")
    notifiers = [_Notify(n) for n in ([on_failure] if callable(on_failure) else on_failure)]
    with DAG(
        dag_id,
        default_args={**_DEFAULT_ARGS, **(default_args or {})},
        description="Weekly training data for the compression selector",
        schedule=schedule,
        start_date=start_date,
        catchup=False,
        max_active_runs=1,
        params={"engine": engine},
        tags=["dwcp", "ml"],
        on_failure_callback=[functools.partial(record_run_failure, conn_id=conn_id), *notifiers],  # type: ignore[list-item]  # Airflow types callbacks as functions of its Context
    ) as dag:
        for notifier in notifiers:
            notifier.dag = dag
        first = _source_task(source, conn_id, lookback_days, concurrency)
        source_task = first.task_id
        steps = [
            first,
            PythonOperator(
                task_id=PREPARE_TASK,
                python_callable=prepare_task,
                op_kwargs={
                    "source_task": source_task,
                    "profile": profile,
                    "min_rows": min_rows,
                    "by": by,
                    "cpu_weight": cpu_weight,
                    "engine": engine,
                },
            ),
            PythonOperator(
                task_id=PUBLISH_TASK,
                python_callable=publish_task,
                op_kwargs={"lookback_days": lookback_days, "keep": keep},
            ),
            PythonOperator(
                task_id=DRIFT_TASK,
                python_callable=functools.partial(
                    drift_report_task,
                    conn_id=conn_id,
                    on_drift=on_drift,
                    reference=None if drift_reference is None else os.fspath(drift_reference),
                    options=drift_options,
                    notifiers=notifiers,
                ),
            ),
        ]
        quality = PythonOperator(
            task_id="record_quality",
            python_callable=record_quality_task,
            op_kwargs={"conn_id": conn_id, "source_task": source_task},
        )
        steps[-2] >> quality
        steps += _model_tasks(train, validate_model, deploy, conn_id)
        for upstream, downstream in itertools.pairwise(steps):
            upstream >> downstream
    return dag
