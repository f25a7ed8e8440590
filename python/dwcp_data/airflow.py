"""Airflow 3 glue: the weekly ``compression_selector_training`` DAG and its task callables.

Install with ``pip install dwcp-data[airflow]``. The DAG file
``dwcp_data/dags/compression_selector_training.py`` ships with the package:
copy it (or link it) into the DAGs folder.

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

import functools
import itertools
import json
import math
import re
import time
import urllib.parse
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, BaseHook, Variable

from dwcp_data import _json, influx
from dwcp_data._convert import one_of, positive_int
from dwcp_data.cleaning import clean
from dwcp_data.errors import InvalidArgumentError, ValidationError
from dwcp_data.io import atomic_path, read_training_data, write_training_data
from dwcp_data.labelling import label_oracle
from dwcp_data.quality import flatten, quality_metrics, to_line_protocol
from dwcp_data.validation import Profile, validate

__all__ = [
    "CONNECTION_ID",
    "FAILURE_FILE",
    "OUTPUT_VARIABLE",
    "influx_connection",
    "make_dag",
    "ray_pipeline_task",
    "record_run_failure",
    "record_task_failure",
]

#: The Airflow connection to InfluxDB.
CONNECTION_ID = "dwcp_influxdb"
#: The Airflow variable naming the output folder.
OUTPUT_VARIABLE = "dwcp_data_output_dir"


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

    Credentials: extra ``token``, else login and password.
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
        raise InvalidArgumentError(
            f"invalid argument `conn_id`: the Airflow connection {conn_id!r} {problem}", param="conn_id"
        )
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address
    return f"{scheme}://{host}:{port or 8086}"


def _run_dir(context: dict[str, Any]) -> Path:
    base = Path(Variable.get(OUTPUT_VARIABLE))
    run = re.sub(r"[^A-Za-z0-9_.-]", "_", context["run_id"])
    path: Path = base / "runs" / context["dag"].dag_id / run
    path.mkdir(parents=True, exist_ok=True)
    return path


def _timed(step: Callable[..., str]) -> Callable[..., str]:
    """Pushes the step's seconds to XCom (key ``seconds``) for the pipeline metrics."""

    def run(**context: Any) -> str:
        started = time.perf_counter()
        result = step(**context)
        context["ti"].xcom_push(key="seconds", value=time.perf_counter() - started)
        return result

    run.__name__ = step.__name__
    run.__doc__ = step.__doc__
    return run


@_timed
def export_metrics_task(*, conn_id: str, lookback_days: int, **context: Any) -> str:
    """Export the last ``lookback_days`` of metrics before the data interval's end to Parquet."""
    end = context["data_interval_end"]
    path = _run_dir(context) / "export.parquet"
    influx.export_to_file(
        path, start=end - timedelta(days=lookback_days), end=end, **influx_connection(conn_id)
    )
    return str(path)


@_timed
def validate_task(*, profile: Profile, min_rows: int, **context: Any) -> str:
    """Validate the export; fail the run (without retries) if a rule fails."""
    from airflow.sdk.exceptions import AirflowFailException

    path: str = context["ti"].xcom_pull(task_ids="export_influxdb_data")
    report = validate(read_training_data(path), profile=profile, min_rows=min_rows)
    with atomic_path(_run_dir(context) / "validation.json") as tmp:
        tmp.write_text(_json.dumps(report.to_dict()))
    try:
        report.raise_if_failed()
    except ValidationError as exc:
        raise AirflowFailException(str(exc)) from exc
    return path


@_timed
def clean_task(*, by: str | None, **context: Any) -> str:
    """Clean the validated export."""
    df, report = clean(
        read_training_data(context["ti"].xcom_pull(task_ids="validate_data")), by=by, report=True
    )
    run_dir = _run_dir(context)
    with atomic_path(run_dir / "cleaning.json") as tmp:
        tmp.write_text(report.to_json())
    return str(write_training_data(df, run_dir / "clean.parquet"))


@_timed
def label_task(*, cpu_weight: float, **context: Any) -> str:
    """Add the oracle labels."""
    df = label_oracle(
        read_training_data(context["ti"].xcom_pull(task_ids="clean_data")), cpu_weight=cpu_weight
    )
    return str(write_training_data(df, _run_dir(context) / "labelled.parquet"))


@_timed
def publish_task(**context: Any) -> str:
    """Publish the labelled data set as ``<output>/published/<dag_id>_<date>.parquet`` (atomically)."""
    df = read_training_data(context["ti"].xcom_pull(task_ids="label_data"))
    name = f"{context['dag'].dag_id}_{context['data_interval_end']:%Y%m%dT%H%M%S}.parquet"
    return str(write_training_data(df, Path(Variable.get(OUTPUT_VARIABLE)) / "published" / name))


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
    with atomic_path(_run_dir(context) / FAILURE_FILE) as tmp:
        tmp.write_text(_json.dumps(failure))


def record_run_failure(context: dict[str, Any], *, conn_id: str = CONNECTION_ID) -> None:
    """DAG-level failure callback: a ``pipeline_runs`` point with ``success=false``
    (``ok=0``), the failed task and the error class, so that §8's ETL success
    rate counts failed runs too."""
    path = _run_dir(context) / FAILURE_FILE
    failure = json.loads(path.read_text()) if path.exists() else {}
    fields = {
        "success": False,
        "ok": 0,
        "failed_task": failure.get("failed_task", "unknown"),
        "error_class": failure.get("error_class", "unknown"),
        "reason": str(context.get("reason") or "failed"),
    }
    _write_points(conn_id, context, {"pipeline_runs": fields})


class _Notify:
    """A DAG failure callback that calls ``notifier`` with the DAG it belongs to
    in the context: notifiers render their templates with it, and
    ``dag.test()`` passes a serialized DAG that cannot render."""

    def __init__(self, notifier: Callable[..., Any]) -> None:
        self.notifier = notifier
        self.dag: DAG | None = None  # bound once the DAG exists

    def __call__(self, context: dict[str, Any]) -> None:
        self.notifier({**context, "dag": self.dag or context["dag"]})


def _write_points(conn_id: str, context: dict[str, Any], points: dict[str, dict[str, Any]]) -> None:
    """One point per measurement, tagged with the DAG id, time now."""
    now = datetime.now(timezone.utc)
    tags = {"dag_id": context["dag"].dag_id}
    body = "".join(to_line_protocol(m, fields, tags=tags, time=now) for m, fields in points.items())
    influx.Connection(**influx_connection(conn_id)).write(body.encode(), gzipped=False)


def record_quality_task(*, conn_id: str, **context: Any) -> dict[str, Any]:
    """Write §8's metrics as ``data_quality`` and ``pipeline_runs`` points to InfluxDB."""
    ti = context["ti"]
    published = ti.xcom_pull(task_ids="publish_dataset")
    df = read_training_data(published)
    metrics = quality_metrics(df)
    steps = ["export_influxdb_data", "validate_data", "clean_data", "label_data", "publish_dataset"]
    rows = {step: read_training_data(ti.xcom_pull(task_ids=step)).height for step in steps[:-1]}
    run_fields: dict[str, Any] = {
        "success": True,
        "ok": 1,
        "export_success": True,
        "export_latency_s": float(ti.xcom_pull(task_ids="export_influxdb_data", key="seconds") or 0.0),
        **{f"rows_{step}": n for step, n in rows.items()},
        "rows_published": df.height,
        "freshness_hours": metrics.get("freshness_hours"),
    }
    _write_points(conn_id, context, {"data_quality": flatten(metrics), "pipeline_runs": run_fields})
    return {"data_quality": metrics, "pipeline_runs": run_fields}


def ray_pipeline_task(
    *,
    source: str,
    out: str,
    address: str | None = None,
    profile: Profile = "document",
    min_rows: int = 10_000,
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

    from dwcp_data import ray as dwcp_ray

    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=False)
    result = dwcp_ray.run_pipeline(
        dwcp_ray.source_of(source), out, profile=profile, min_rows=min_rows, by=by, cpu_weight=cpu_weight
    )
    return str(result.dataset)


def train_reference_task(**context: Any) -> str:
    """Train the reference selector (:mod:`dwcp_data.selector`) on the published
    data set; the saved model's path (in the run's folder, its card beside it)."""
    from dwcp_data import selector

    df = read_training_data(context["ti"].xcom_pull(task_ids="publish_dataset"))
    return str(selector.train(df).save(_run_dir(context) / "model" / "selector.txt"))


def validate_model_task(**context: Any) -> dict[str, float]:
    """Fail the run (without retries) unless the model's regret on the held-out
    newest rows is below the logged policy's: a model that does not beat the
    selector in production is never deployed."""
    from airflow.sdk.exceptions import AirflowFailException

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
    """Copy the validated model and its card into ``<output>/staging`` (each
    atomically, the model first: until the card follows, a reader finds the
    old card, whose digest the new model does not match, and refuses to load)
    and record a ``model_deployments`` point."""
    from dwcp_data import selector

    model = Path(context["ti"].xcom_pull(task_ids="train_compression_model"))
    judged = context["ti"].xcom_pull(task_ids="validate_model")
    staging = Path(Variable.get(OUTPUT_VARIABLE)) / "staging"
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


def _check_dag_arguments(
    profile: object, lookback_days: object, min_rows: object, by: object, cpu_weight: object
) -> None:
    """Refuses, when the DAG is defined, arguments its tasks would fail on every run."""
    one_of(profile, ("document", "strict"), "profile")
    positive_int(lookback_days, "lookback_days")
    if isinstance(min_rows, bool) or not isinstance(min_rows, int) or min_rows < 0:
        raise InvalidArgumentError(
            f"invalid argument `min_rows`: must be a whole number >= 0, got {min_rows!r}", param="min_rows"
        )
    if by is not None and not isinstance(by, str):
        raise InvalidArgumentError(f"invalid argument `by`: a column name or None, got {by!r}", param="by")
    if (
        isinstance(cpu_weight, bool)
        or not isinstance(cpu_weight, (int, float))
        or not (math.isfinite(cpu_weight) and cpu_weight >= 0)
    ):
        raise InvalidArgumentError(
            f"invalid argument `cpu_weight`: must be a finite number >= 0, got {cpu_weight!r}",
            param="cpu_weight",
        )


def make_dag(
    dag_id: str = "compression_selector_training",
    *,
    schedule: str | None = "0 2 * * 0",
    start_date: datetime = datetime(2025, 11, 1, tzinfo=timezone.utc),
    conn_id: str = CONNECTION_ID,
    lookback_days: int = 7,
    profile: Profile = "document",
    min_rows: int = 10_000,
    by: str | None = None,
    cpu_weight: float = 0.0,
    train: Callable[..., Any] | Literal["reference"] | None = None,
    validate_model: Callable[..., Any] | None = None,
    deploy: Callable[..., Any] | None = None,
    on_failure: Callable[..., Any] | Sequence[Callable[..., Any]] = (),
) -> DAG:
    """The weekly training-data DAG (design document §4.2, for Airflow 3).

    Tasks: ``export_influxdb_data`` → ``validate_data`` → ``clean_data`` →
    ``label_data`` → ``publish_dataset`` → ``record_quality``. The selector
    team's ``train``, ``validate_model`` and ``deploy`` callables (§4.2's last
    three tasks) follow publishing when given; each receives the Airflow
    context and finds the published path with
    ``ti.xcom_pull(task_ids="publish_dataset")``. ``train="reference"`` wires
    the package's own: :func:`train_reference_task` →
    :func:`validate_model_task` (fails the run unless the model's held-out
    regret is below the logged policy's) → :func:`deploy_task` (the model and
    its card copied into ``<output>/staging``, a ``model_deployments`` point);
    ``validate_model`` and ``deploy`` given alongside replace those two.

    Every Sunday at 02:00, no catch-up, owner ``ml-team``, 2 retries 5 minutes
    apart (a failed validation is not retried).

    A failed run is recorded and alerted: a task that fails for good records
    its error (:func:`record_task_failure`), and the DAG's failure callback
    writes a ``pipeline_runs`` point with ``success=false``
    (:func:`record_run_failure`), then calls ``on_failure``: Airflow 3
    notifiers or callables taking the context, e.g. the SMTP provider's
    ``SmtpNotifier(to="ml-alerts@company.com")`` for §4.2's
    ``email_on_failure``.
    """
    if isinstance(train, str) and train != "reference":
        raise InvalidArgumentError(
            f"invalid argument `train`: a callable, 'reference' or None, got {train!r}", param="train"
        )
    _check_dag_arguments(profile, lookback_days, min_rows, by, cpu_weight)
    notifiers = [_Notify(n) for n in ([on_failure] if callable(on_failure) else on_failure)]
    default_args = {
        "owner": "ml-team",
        "depends_on_past": False,
        "retries": 2,
        "retry_delay": timedelta(minutes=5),
        "on_failure_callback": record_task_failure,
    }
    with DAG(
        dag_id,
        default_args=default_args,
        description="Weekly training data for the compression selector",
        schedule=schedule,
        start_date=start_date,
        catchup=False,
        tags=["dwcp", "ml"],
        on_failure_callback=[functools.partial(record_run_failure, conn_id=conn_id), *notifiers],  # type: ignore[list-item]  # Airflow types callbacks as functions of its Context
    ) as dag:
        for notifier in notifiers:
            notifier.dag = dag
        steps = [
            PythonOperator(
                task_id="export_influxdb_data",
                python_callable=export_metrics_task,
                op_kwargs={"conn_id": conn_id, "lookback_days": lookback_days},
            ),
            PythonOperator(
                task_id="validate_data",
                python_callable=validate_task,
                op_kwargs={"profile": profile, "min_rows": min_rows},
            ),
            PythonOperator(task_id="clean_data", python_callable=clean_task, op_kwargs={"by": by}),
            PythonOperator(
                task_id="label_data", python_callable=label_task, op_kwargs={"cpu_weight": cpu_weight}
            ),
            PythonOperator(task_id="publish_dataset", python_callable=publish_task),
        ]
        quality = PythonOperator(
            task_id="record_quality", python_callable=record_quality_task, op_kwargs={"conn_id": conn_id}
        )
        steps[-1] >> quality
        if train == "reference":
            train = train_reference_task
            validate_model = validate_model or validate_model_task
            deploy = deploy or functools.partial(deploy_task, conn_id=conn_id)
        optional = [
            ("train_compression_model", train),
            ("validate_model", validate_model),
            ("deploy_to_staging", deploy),
        ]
        for task_id, callable_ in optional:
            if callable_ is not None:
                steps.append(PythonOperator(task_id=task_id, python_callable=callable_))
        for upstream, downstream in itertools.pairwise(steps):
            upstream >> downstream
    return dag
