"""What changed between two data sets: drift statistics per column and group,
computed from their profiles alone (see :mod:`dwcp_data.profiles`), with a
verdict per column, per group and for the data set.

Statistics (``crate::profile::drift``): for numbers the Kolmogorov–Smirnov
distance, Wasserstein-1 normed by the reference's standard deviation and the
population stability index on the reference's deciles; for categories the
Jensen–Shannon distance and the largest change of one value's share; for
every column the change in missing share (nulls, and NaN for numbers). At
millions of rows every p-value is about zero, so the verdicts compare effect
sizes with thresholds (:class:`DriftOptions`).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from dwcp_data._drift_html import page, render
from dwcp_data._frames import FrameLike
from dwcp_data._outputs import atomic_path
from dwcp_data.datasets.shards import DatasetSource
from dwcp_data.errors import InvalidArgumentError
from dwcp_data.profiles import Profile, profile

__all__ = ["DriftOptions", "DriftReport", "drift"]


@dataclass(frozen=True)
class DriftOptions:
    """The thresholds a statistic must pass for its column to have drifted.

    Attributes:
        wasserstein: normed Wasserstein-1 of a numeric column; 0.1 is
            Evidently's default for numeric columns of more than 1,000 rows,
            so results compare with its ``DataDriftPreset``.
        psi: population stability index of a numeric column (0.2: the usual
            "significant shift").
        jensen_shannon: Jensen–Shannon distance of a category column (0.1:
            Evidently's default for categories).
        share_change: the largest change of one value's share (0.05): class
            shares 0.5/0.3/0.2 -> 0.4/0.3/0.3 move by 0.1 while their
            Jensen–Shannon distance is 0.088, under Evidently's 0.1.
        missing_change: change of a column's missing share (0.1).
        ignore: columns never judged (by default ``timestamp``: every week's
            times differ from the last's).
    """

    wasserstein: float = 0.1
    psi: float = 0.2
    jensen_shannon: float = 0.1
    share_change: float = 0.05
    missing_change: float = 0.1
    ignore: tuple[str, ...] = field(default=("timestamp",))

    def __post_init__(self) -> None:
        for name in ("wasserstein", "psi", "jensen_shannon", "share_change", "missing_change"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not value > 0
                or math.isinf(value)
            ):
                raise InvalidArgumentError.of(name, f"must be a positive finite number, got {value!r}")
        if isinstance(self.ignore, str) or not all(isinstance(c, str) for c in self.ignore):
            raise InvalidArgumentError.of("ignore", "must be a sequence of column names")
        object.__setattr__(self, "ignore", tuple(self.ignore))


#: The statistics judged, and the option holding each one's threshold.
_JUDGED = {
    "wasserstein_norm": "wasserstein",
    "psi": "psi",
    "jensen_shannon": "jensen_shannon",
    "max_share_change": "share_change",
    "missing_change": "missing_change",
}
_STATISTICS = ("ks", "wasserstein_norm", "psi", "jensen_shannon", "max_share_change", "missing_change")


class DriftReport:
    """The drift from a reference data set to the current one (see :func:`drift`).

    Attributes:
        rows: one dict per column × group × statistic: ``group`` (``None``:
            every row), ``column``, ``statistic``, ``value``, ``threshold``
            (``None``: reported, not judged) and ``drifted``.
        reference_rows, current_rows: the two sides' rows.
        options: the thresholds used.
    """

    def __init__(
        self, rows: list[dict[str, Any]], reference: Profile, current: Profile, options: DriftOptions
    ):
        self.rows = rows
        self.reference, self.current = reference, current
        self.reference_rows, self.current_rows = reference.rows, current.rows
        self.by = current.by
        self.options = options

    @property
    def drifted_columns(self) -> list[tuple[str | None, str]]:
        """``(group, column)`` of every drifted column, every row's first."""
        seen: list[tuple[str | None, str]] = []
        for row in self.rows:
            key = (row["group"], row["column"])
            if row["drifted"] and key not in seen:
                seen.append(key)
        return seen

    @property
    def drifted(self) -> bool:
        """Whether any column drifted, over every row or in a group."""
        return bool(self.drifted_columns)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "drifted": self.drifted,
            "drifted_columns": [{"group": g, "column": c} for g, c in self.drifted_columns],
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "by": self.by,
            "options": asdict(self.options),
            "rows": self.rows,
        }

    def to_frame(self) -> pl.DataFrame:
        """One row per column × group × statistic."""
        schema = {
            "group": pl.String,
            "column": pl.String,
            "statistic": pl.String,
            "value": pl.Float64,
            "threshold": pl.Float64,
            "drifted": pl.Boolean,
        }
        return pl.DataFrame(self.rows, schema=schema)

    def to_html(self, path: str | os.PathLike[str], extra: dict[str, Any] | None = None) -> Path:
        """Writes the report to ``path`` as one self-contained HTML page (inline
        CSS and SVG, no script, no request): the verdict and what drifted
        first, then every column's reference and current distributions
        overlaid (per group where it drifted), class shares side by side, the
        rows and dates of both sides; ``extra``: summaries to show too (e.g.
        ``{"Validation": report.to_dict()}``), by title. The path written."""
        target = Path(path)
        with atomic_path(target) as tmp:
            tmp.write_text(page(render(self, self.reference, self.current, extra)), encoding="utf-8")
        return target

    def _repr_html_(self) -> str:
        return render(self, self.reference, self.current)

    def __repr__(self) -> str:
        what = ", ".join(c if g is None else f"{c} [{g}]" for g, c in self.drifted_columns[:5])
        more = "" if len(self.drifted_columns) <= 5 else f" and {len(self.drifted_columns) - 5} more"
        return f"DriftReport({'drift: ' + what + more if self.drifted else 'no drift'})"


def drift(
    current: Profile | FrameLike | DatasetSource,
    reference: Profile | FrameLike | DatasetSource,
    *,
    options: DriftOptions | None = None,
    by: str | Sequence[str] | None = "link_type",
) -> DriftReport:
    """The drift from ``reference`` to ``current``: each a :class:`~dwcp_data.Profile`,
    or anything :func:`~dwcp_data.profile` reads (profiled with ``by``).
    Computed from the profiles alone: a saved reference is never read again.

    Returns:
        A :class:`DriftReport`.
    """
    options = DriftOptions() if options is None else options
    if not isinstance(options, DriftOptions):
        raise InvalidArgumentError.of("options", f"must be a DriftOptions, got {type(options).__name__}")
    sides = [side if isinstance(side, Profile) else profile(side, by=by) for side in (reference, current)]
    reference_profile, current_profile = sides
    found = json.loads(current_profile._core.drift_json(reference_profile._core))
    rows: list[dict[str, Any]] = []
    for entry in found:
        judged = entry["column"] not in options.ignore
        for statistic in _STATISTICS:
            value = entry["drift"][statistic]
            if value is None:
                continue
            option = _JUDGED.get(statistic)
            threshold = getattr(options, option) if judged and option else None
            rows.append(
                {
                    "group": entry["group"],
                    "column": entry["column"],
                    "statistic": statistic,
                    "value": value,
                    "threshold": threshold,
                    "drifted": threshold is not None and abs(value) > threshold,
                }
            )
    return DriftReport(rows, reference_profile, current_profile, options)
