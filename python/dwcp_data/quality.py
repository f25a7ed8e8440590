"""Data-quality monitoring (design document §8): the figures a dashboard follows."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import polars as pl

from dwcp_data import _core
from dwcp_data._frames import FrameLike, to_polars
from dwcp_data.errors import InvalidArgumentError
from dwcp_data.labelling import LABEL_COLUMN
from dwcp_data.pipeline import label_shares

__all__ = ["flatten", "quality_metrics", "to_line_protocol"]


def quality_metrics(df: FrameLike, *, now: datetime | None = None) -> dict[str, Any]:
    """§8's data-collection metrics of a data set, JSON-serialisable.

    Returns:
        ``rows``; ``samples_per_hour`` and ``volume_mb_per_day`` (``mean``,
        ``min``, ``max`` over the hours and days the data covers; volume is the
        sum of ``data_size_bytes`` in MB); ``missing_share`` per column and its
        ``missing_share_max``; ``class_shares`` of ``current_compression`` and
        ``label_shares`` of the oracle label (empty when absent);
        ``freshness_hours``: hours from the newest timestamp to ``now``.
    """
    frame = to_polars(df)
    now = now or datetime.now(timezone.utc)
    out: dict[str, Any] = {"rows": frame.height}
    missing = {c: (frame[c].null_count() / frame.height if frame.height else 0.0) for c in frame.columns}
    out["missing_share"] = missing
    out["missing_share_max"] = max(missing.values(), default=0.0)
    out["class_shares"] = label_shares(frame, "current_compression")
    out["label_shares"] = label_shares(frame, LABEL_COLUMN)
    if "timestamp" in frame.columns and frame.height:
        ts = pl.col("timestamp")
        hourly = frame.group_by(ts.dt.truncate("1h")).agg(pl.len().alias("n"))["n"]
        out["samples_per_hour"] = {"mean": hourly.mean(), "min": hourly.min(), "max": hourly.max()}
        if "data_size_bytes" in frame.columns:
            daily = frame.group_by(ts.dt.truncate("1d")).agg(
                (pl.col("data_size_bytes").sum() / 1e6).alias("mb")
            )
            out["volume_mb_per_day"] = {
                "mean": daily["mb"].mean(),
                "min": daily["mb"].min(),
                "max": daily["mb"].max(),
            }
        newest = frame["timestamp"].max()
        if isinstance(newest, datetime):
            out["freshness_hours"] = (now - newest).total_seconds() / 3600
        else:
            out["freshness_hours"] = None
    return out


def to_line_protocol(
    measurement: str,
    fields: dict[str, Any],
    *,
    tags: dict[str, str] | None = None,
    time: datetime | None = None,
) -> str:
    """One line-protocol point (for the small ``data_quality`` and ``pipeline_runs``
    points), encoded by the same Rust encoder as the metrics: keys and tag values
    escaped, strings quoted, booleans and integers typed; ``None``, NaN and
    infinities left out, as are empty tags. Text with a line break raises
    :class:`~dwcp_data.errors.DataError`."""
    tags = {k: v for k, v in (tags or {}).items() if v}
    columns: dict[str, pl.Series] = {
        "timestamp": pl.Series([time or datetime.now(timezone.utc)], dtype=pl.Datetime("us", "UTC"))
    }
    for name, value in [*tags.items(), *fields.items()]:
        if value is None:
            continue
        if name in columns:
            raise InvalidArgumentError(f"invalid argument `fields`: {name!r} is given twice", param="fields")
        dtype = pl.Float64 if isinstance(value, float) else None  # an int-valued float stays a float
        columns[name] = pl.Series([value], dtype=dtype)
    body, _ = _core.encode_line_protocol(pl.DataFrame(columns), [], measurement, list(tags))
    return body.decode()


def flatten(metrics: dict[str, Any]) -> dict[str, Any]:
    """:func:`quality_metrics` as flat ``data_quality`` fields."""
    flat: dict[str, Any] = {
        "rows": metrics["rows"],
        "missing_share_max": metrics["missing_share_max"],
        "freshness_hours": metrics.get("freshness_hours"),
    }
    for key in ("samples_per_hour", "volume_mb_per_day"):
        for stat, value in metrics.get(key, {}).items():
            flat[f"{key}_{stat}"] = float(value) if value is not None else None
    flat.update({f"missing_share_{c}": v for c, v in metrics["missing_share"].items()})
    flat.update({f"class_share_{c}": v for c, v in metrics["class_shares"].items()})
    flat.update({f"label_share_{c}": v for c, v in metrics["label_shares"].items()})
    return flat
