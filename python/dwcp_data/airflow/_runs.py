"""What one run of the DAG works on: its window, its folders and its names.

Airflow 3 gives the kinds of run different dates (measured on 3.3.2 with the
DAG's cron schedule, a ``CronTriggerTimetable``):

============================  ===============  ====================  ==========================
run                           ``logical_date``  ``data_interval_end``  the window ends at
============================  ===============  ====================  ==========================
scheduled                     the cron time     the cron time          ``data_interval_end``
backfill                      each cron time    each cron time         ``data_interval_end``
manual, no date (CLI, UI)     none              none                   ``run_after`` (trigger time)
manual, CLI ``-l DATE``       DATE              the trigger time       ``logical_date`` (DATE)
manual, REST ``logical_date`` DATE              DATE                   ``logical_date`` (DATE)
asset-triggered               none              none                   ``run_after``
============================  ===============  ====================  ==========================

A scheduled or backfill run ends its window where its data interval ends (also
under a ``CronDataIntervalTimetable``, where the logical date is the interval's
start); a manual run at the date it was given, or at the moment it was
triggered. The window is the ``lookback_days`` before that end.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from airflow.sdk import Variable

from dwcp_data._convert import epoch_us, utc_datetime

__all__ = [
    "BESIDE_PUBLISHED",
    "OUTPUT_VARIABLE",
    "beside",
    "dag_folder",
    "output",
    "published_name",
    "run_dir",
    "run_window",
    "window_end",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: The Airflow variable naming the output folder.
OUTPUT_VARIABLE = "dwcp_data_output_dir"
#: The files a published set ``<name>/`` has beside it, as ``<name><suffix>``:
#: §8's figures, its profile, its drift report (page and JSON).
BESIDE_PUBLISHED = (".quality.json", ".profile", ".drift.html", ".drift.json")


def _run_type(context: dict[str, Any]) -> str:
    """``scheduled``, ``backfill``, ``manual`` or ``asset_triggered``."""
    kind = getattr(context.get("dag_run"), "run_type", "") or ""
    return str(getattr(kind, "value", kind)).lower()


def _utc(value: Any) -> datetime | None:
    """A datetime (pendulum's too; naive is UTC) as a plain UTC datetime, to
    the microsecond, or ``None``."""
    if not isinstance(value, datetime):
        return None
    return _EPOCH + timedelta(microseconds=epoch_us(utc_datetime(value, "date")))


def window_end(context: dict[str, Any]) -> datetime:
    """Where the run's window ends (see the module's table)."""
    run = context.get("dag_run")
    interval_end = _utc(context.get("data_interval_end"))
    logical = _utc(context.get("logical_date"))
    run_after = _utc(getattr(run, "run_after", None))
    if _run_type(context) in ("scheduled", "backfill") and interval_end is not None:
        return interval_end
    for candidate in (logical, run_after, interval_end):
        if candidate is not None:
            return candidate
    return datetime.now(timezone.utc)


def run_window(context: dict[str, Any], lookback_days: int) -> tuple[datetime, datetime]:
    """``[start, end)`` of the run: the ``lookback_days`` before :func:`window_end`."""
    end = window_end(context)
    return end - timedelta(days=lookback_days), end


def output() -> Path:
    """The output folder (variable :data:`OUTPUT_VARIABLE`)."""
    return Path(Variable.get(OUTPUT_VARIABLE))


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


def dag_folder(kind: str, context: dict[str, Any]) -> Path:
    """``<output>/<kind>/<dag_id>``: a folder this DAG owns (exports, staging),
    shared with no other DAG on the same output folder."""
    return output() / kind / _safe(context["dag"].dag_id)


def run_dir(context: dict[str, Any]) -> Path:
    """``<output>/runs/<dag_id>/<run_id>``, made if needed: the run's own work."""
    path = dag_folder("runs", context) / _safe(context["run_id"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def published_name(context: dict[str, Any], end: datetime) -> str:
    """``<dag_id>_<window end>``: to the second, and to the microsecond where
    the end has a fraction (two runs a fraction of a second apart get two names)."""
    stamp = f"{end:%Y%m%dT%H%M%S}" + (f".{end.microsecond:06d}" if end.microsecond else "")
    return f"{_safe(context['dag'].dag_id)}_{stamp}"


def beside(folder: Path, suffix: str) -> Path:
    """``<folder><suffix>``: a file published beside the set ``folder`` (one of
    :data:`BESIDE_PUBLISHED`)."""
    return folder.with_name(f"{folder.name}{suffix}")
