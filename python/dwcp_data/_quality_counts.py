"""§8's figures as counts of a data set's rows, added a frame at a time and
merged in order: what :func:`dwcp_data.quality_metrics` and the pipeline's
write pass gather, on any engine."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

import polars as pl

from dwcp_data._convert import epoch_us, iso_timestamp
from dwcp_data.labelling import LABEL_COLUMN

__all__ = ["QualityCounts", "count_values", "shares_of"]


def count_values(counter: Counter[str], df: pl.DataFrame, column: str) -> None:
    """Adds ``df``'s values of ``column`` (nulls as ``"null"``; none when absent) to ``counter``."""
    if column in df.columns:
        for value, n in df[column].cast(pl.String).fill_null("null").value_counts().iter_rows():
            counter[str(value)] += n


def shares_of(counter: Counter[str]) -> dict[str, float]:
    """Each value's share of the counts, most common first."""
    rows = sum(counter.values())
    return {v: n / rows for v, n in counter.most_common()} if rows else {}


class QualityCounts:
    """What :func:`quality_metrics` needs of a data set, added a frame at a time
    and independent of the frames' boundaries: rows, nulls per column, value
    counts, rows per hour, bytes per day, the newest timestamp. Counts of
    consecutive parts merge (:meth:`merge`), so a pipeline gathers them where
    each slice is written."""

    def __init__(self) -> None:
        self.rows = 0
        self.columns: list[str] | None = None
        self.nulls: Counter[str] = Counter()
        self.values: dict[str, Counter[str]] = {"current_compression": Counter(), LABEL_COLUMN: Counter()}
        self.hourly = _PeriodTotals()
        self.daily = _PeriodTotals()
        #: The newest timestamp, in µs since the epoch (an integer: a Polars
        #: Datetime holds years a Python datetime cannot).
        self.newest_us: int | None = None

    def add(self, frame: pl.DataFrame) -> None:
        """The next rows."""
        if self.columns is None:
            self.columns = frame.columns
        self.rows += frame.height
        self.nulls.update(dict(zip(frame.columns, frame.null_count().row(0), strict=True)))
        for column, counter in self.values.items():
            count_values(counter, frame, column)
        if "timestamp" not in frame.columns:
            return
        ts = pl.col("timestamp")
        self.hourly.add(frame.group_by(ts.dt.truncate("1h")).agg(pl.len().cast(pl.Int64)))
        if "data_size_bytes" in frame.columns:
            self.daily.add(frame.group_by(ts.dt.truncate("1d")).agg(pl.col("data_size_bytes").sum()))
        if isinstance(frame.schema["timestamp"], pl.Datetime):
            self._newest(frame["timestamp"].dt.epoch("us").max())

    def merge(self, later: QualityCounts) -> None:
        """Takes the counts of the rows that follow."""
        if self.columns is None:
            self.columns = later.columns
        self.rows += later.rows
        self.nulls.update(later.nulls)
        for column, counter in self.values.items():
            counter.update(later.values[column])
        self.hourly.merge(later.hourly)
        self.daily.merge(later.daily)
        self._newest(later.newest_us)

    def _newest(self, micros: object) -> None:
        if isinstance(micros, int) and (self.newest_us is None or micros > self.newest_us):
            self.newest_us = micros

    def shares(self, column: str) -> dict[str, float]:
        """Each value's share of ``column`` (``current_compression`` or the oracle label)."""
        return shares_of(self.values[column])

    def metrics(self, now: datetime) -> dict[str, Any]:
        """The figures, as :func:`quality_metrics` returns them."""
        columns = self.columns or []
        missing = {c: self.nulls[c] / self.rows if self.rows else 0.0 for c in columns}
        out: dict[str, Any] = {
            "rows": self.rows,
            "missing_share": missing,
            "missing_share_max": max(missing.values(), default=0.0),
            "class_shares": shares_of(self.values["current_compression"]),
            "label_shares": shares_of(self.values[LABEL_COLUMN]),
        }
        if "timestamp" in columns and self.rows:
            out["samples_per_hour"] = self.hourly.spread(1)
            if "data_size_bytes" in columns:
                out["volume_mb_per_day"] = self.daily.spread(1e6)
            newest = self.newest_us
            out["freshness_hours"] = None if newest is None else (epoch_us(now) - newest) / 3.6e9
            out["newest_timestamp"] = None if newest is None else iso_timestamp(newest)
        return out


class _PeriodTotals:
    """A total per period (hour or day; ``None`` for rows without a time), as
    small frames of ``(period, total)`` that are summed by period when they
    pile up: data covering millions of hours stays in Polars, never in a
    Python dict."""

    #: Frames kept before they are summed into one.
    _PILE = 16

    def __init__(self) -> None:
        self._parts: list[pl.DataFrame] = []

    def add(self, totals: pl.DataFrame) -> None:
        """Totals of the next rows: a frame of two columns, period and total."""
        self._parts.append(totals.rename(dict(zip(totals.columns, ["period", "total"], strict=True))))
        if len(self._parts) > self._PILE:
            self._parts = [self._summed()]

    def merge(self, later: _PeriodTotals) -> None:
        """Takes the totals of the rows that follow."""
        self._parts.extend(later._parts)
        if len(self._parts) > self._PILE:
            self._parts = [self._summed()]

    def _summed(self) -> pl.DataFrame:
        return pl.concat(self._parts).group_by("period").agg(pl.col("total").sum())

    def spread(self, unit: float) -> dict[str, float | None]:
        """``mean``, ``min`` and ``max`` of the per-period totals (in ``unit``),
        taken in period order (nulls last) so that the sum is always the same."""
        if not self._parts:
            return {"mean": None, "min": None, "max": None}
        values = self._summed().sort("period", nulls_last=True)["total"]
        if unit != 1:
            values = values / unit
        return {"mean": values.mean(), "min": values.min(), "max": values.max()}  # type: ignore[dict-item]
