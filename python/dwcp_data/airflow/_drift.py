"""The weekly DAG's drift report: the published set's profile compared with the
previous published set of the same DAG (or a pinned reference), the report
written beside the published set as a page and as JSON, and the figures of
the ``data_drift`` point Grafana plots.

Profiles are trusted only once checked: a published set's manifest records
its profile's SHA-256 when it is published, and the profile is read back
against that digest (then by :func:`~dwcp_data.load_profile`'s own checks).
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from dwcp_data import _json
from dwcp_data._outputs import atomic_path, read_manifest
from dwcp_data.airflow._retention import published_sets
from dwcp_data.airflow._runs import beside
from dwcp_data.drift import DriftReport
from dwcp_data.errors import DataError
from dwcp_data.profiles import INCOMPARABLE, Profile, load_or_profile, load_profile

__all__ = [
    "ON_DRIFT",
    "OnDrift",
    "Reference",
    "drift_fields",
    "drift_message",
    "publish_profile",
    "published_profile",
    "reference_for",
    "write_report",
]

_log = logging.getLogger(__name__)

#: What ``make_dag(on_drift=...)`` may do when a published set drifted: fail
#: the run, warn (log and call the notifiers), or only report it.
OnDrift = Literal["fail", "warn", "ignore"]
ON_DRIFT: tuple[OnDrift, ...] = ("fail", "warn", "ignore")


@dataclass(frozen=True)
class Reference:
    """What a published set is compared with.

    Attributes:
        name: the earlier published set's folder name, or the pinned path.
        profile: its profile.
    """

    name: str
    profile: Profile


def publish_profile(profile_file: Path, target: Path) -> dict[str, str]:
    """Copies the profile the pipeline wrote (``profile_file``) beside the set
    about to be published at ``target`` (``<target>.profile``, atomically);
    what the manifest records of it: its SHA-256."""
    data = profile_file.read_bytes()
    with atomic_path(beside(target, ".profile")) as tmp:
        tmp.write_bytes(data)
    return {"sha256": hashlib.sha256(data).hexdigest()}


def published_profile(folder: Path) -> Profile | None:
    """The profile published beside ``folder``, checked against the digest its
    manifest records; ``None`` for a set published before profiles were.

    Raises:
        dwcp_data.errors.DataError: (rule ``profile``) the profile is missing,
            or is not the one published (edited, replaced, cut).
    """
    manifest = read_manifest(folder) or {}
    recorded = manifest.get("profile")
    if recorded is None:
        return None
    path = beside(folder, ".profile")
    digest = recorded.get("sha256") if isinstance(recorded, dict) else None
    if not isinstance(digest, str):
        raise DataError(
            f"{folder}: its manifest's profile record is damaged", column="", row=None, rule="profile"
        )
    if not path.is_file():
        raise DataError(
            f"{path}: missing, though {folder.name}'s manifest records a profile",
            column="",
            row=None,
            rule="profile",
        )
    return load_profile(path, sha256=digest)


def reference_for(dag_id: str, published: Path, pinned: str | None) -> Reference | None:
    """What ``published`` is compared with: the profile at (or of) ``pinned``
    when given (see :func:`~dwcp_data.profiles.load_or_profile`), else the
    newest of the DAG's earlier published sets (by window end) that has a
    profile; ``None`` when there is none (the DAG's first run, or the first
    since profiles were published), or when the newest one's profile is sound
    but cannot be compared (made by a dwcp-data of another schema or a newer
    format: the log says so, and the next run compares with this one).

    Raises:
        dwcp_data.errors.DataError: (rule ``profile``) a profile that is not
            the one published (edited, replaced, cut), or a broken pinned one.
    """
    if pinned is not None:
        return Reference(str(pinned), load_or_profile(pinned))
    names = [folder.name for _, folder in published_sets(dag_id)]
    earlier = names[: names.index(published.name)] if published.name in names else names
    for name in reversed(earlier):
        try:
            found = published_profile(published.with_name(name))
        except DataError as exc:
            if exc.rule != INCOMPARABLE:
                raise
            _log.warning("%s: not compared (%s)", name, exc)
            return None
        if found is not None:
            return Reference(name, found)
    return None


def write_report(report: DriftReport, published: Path, reference: Reference) -> tuple[Path, Path]:
    """Writes the report beside ``published`` as ``<published>.drift.html``
    (with the sets compared, and the published set's validation and cleaning
    from its manifest) and ``<published>.drift.json``; both paths."""
    manifest = read_manifest(published) or {}
    compared = {"current": published.name, "reference": reference.name}
    extra = {
        "Compared": compared,
        "Validation of the published set": _scalars(manifest.get("output_validation")),
        "Cleaning": _scalars(manifest.get("cleaning")),
    }
    page = report.to_html(beside(published, ".drift.html"), extra=extra)
    document = beside(published, ".drift.json")
    with atomic_path(document) as tmp:
        tmp.write_text(_json.dumps({**compared, **report.to_dict()}, indent=2))
    return page, document


def _scalars(summary: Any) -> dict[str, Any]:
    """The top-level numbers, flags and texts of a summary (its tables left out)."""
    if not isinstance(summary, dict):
        return {}
    return {k: v for k, v in summary.items() if isinstance(v, (str, int, float, bool)) or v is None}


def drift_fields(report: DriftReport, reference: Reference) -> dict[str, Any]:
    """The ``data_drift`` point's fields: whether the set drifted, how many
    columns did (over every row or in a group) of how many judged, the
    largest value of each judged statistic, both sides' rows and the
    reference's name."""
    judged = [r for r in report.rows if r["threshold"] is not None]
    fields: dict[str, Any] = {
        "drifted": report.drifted,
        "drifted_columns": len({column for _, column in report.drifted_columns}),
        "columns": len({r["column"] for r in judged}),
        "current_rows": report.current_rows,
        "reference_rows": report.reference_rows,
        "reference": reference.name,
    }
    for statistic in dict.fromkeys(r["statistic"] for r in judged):
        values = [
            abs(r["value"]) for r in judged if r["statistic"] == statistic and math.isfinite(r["value"])
        ]
        if values:
            fields[f"max_{statistic.removeprefix('max_')}"] = max(values)
    return fields


def drift_message(report: DriftReport, reference: Reference, page: Path) -> str:
    """One line saying what drifted against what, and where the page is."""
    columns = [c if g is None else f"{c} [{g}]" for g, c in report.drifted_columns]
    shown = ", ".join(columns[:8]) + (f" and {len(columns) - 8} more" if len(columns) > 8 else "")
    return f"data drift against {reference.name}: {shown}; report: {page}"
