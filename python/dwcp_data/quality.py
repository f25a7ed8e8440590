"""Data-quality monitoring (design document §8): the figures a dashboard follows."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import polars as pl

from dwcp_data._frames import FrameLike, to_polars
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
        out["freshness_hours"] = (now - newest).total_seconds() / 3600 if newest is not None else None
    return out


def _field(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return f"{name}={str(value).lower()}"
    if isinstance(value, int):
        return f"{name}={value}i"
    if isinstance(value, float):
        return f"{name}={value!r}" if value == value else None
    return f'{name}="{str(value).replace(chr(34), chr(92) + chr(34))}"'


def to_line_protocol(
    measurement: str,
    fields: dict[str, Any],
    *,
    tags: dict[str, str] | None = None,
    time: datetime | None = None,
) -> str:
    """One line-protocol point (for the small ``data_quality`` and ``pipeline_runs`` points)."""
    tag_text = "".join(
        f",{k}={v.replace(' ', chr(92) + ' ').replace(',', chr(92) + ',')}"
        for k, v in sorted((tags or {}).items())
        if v
    )
    field_text = ",".join(f for f in (_field(k, v) for k, v in fields.items()) if f)
    when = int((time or datetime.now(timezone.utc)).timestamp() * 1e9)
    return f"{measurement}{tag_text} {field_text} {when}\n"


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
