"""Data-quality monitoring (design document §8): the figures a dashboard follows."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any

import polars as pl

from dwcp_data import _core
from dwcp_data._convert import utc_datetime
from dwcp_data._frames import FrameLike, to_polars
from dwcp_data._quality_counts import QualityCounts, count_values, shares_of
from dwcp_data.datasets.passes import quality_blocks
from dwcp_data.datasets.runners import engine_for
from dwcp_data.datasets.shards import DatasetSource
from dwcp_data.engines import EngineLike, engine_of
from dwcp_data.errors import InvalidArgumentError
from dwcp_data.io import lazy_batches

__all__ = ["QualityCounts", "count_values", "flatten", "quality_metrics", "shares_of", "to_line_protocol"]


def quality_metrics(
    df: FrameLike | DatasetSource,
    *,
    now: datetime | None = None,
    engine: EngineLike = "local",
    work_dir: str | os.PathLike[str] | None = None,
    show_progress: bool | None = None,
) -> dict[str, Any]:
    """§8's data-collection metrics of a data set, JSON-serialisable.

    ``df`` is a frame, or a data set larger than memory: a folder, glob or
    list of Parquet/CSV shards, read a block at a time on ``engine`` like
    every data-set stage (``"ray"``: a Ray task per block; also a
    ``ray.data.Dataset``), with a progress bar when ``show_progress``; or a
    LazyFrame (streamed a batch at a time; on Ray first written to shards in
    ``work_dir``). The figures are merged from small per-slice counts, so a
    data set gives exactly what its concatenation gives in memory.

    Returns:
        ``rows``; ``samples_per_hour`` and ``volume_mb_per_day`` (``mean``,
        ``min``, ``max`` over the hours and days the data covers; volume is the
        sum of ``data_size_bytes`` in MB); ``missing_share`` per column and its
        ``missing_share_max``; ``class_shares`` of ``current_compression`` and
        ``label_shares`` of the oracle label (empty when absent);
        ``freshness_hours``: hours from the newest timestamp to ``now`` (a
        naive ``now`` is taken as UTC, as :func:`~dwcp_data.validate` takes
        it), and that ``newest_timestamp``.
    """
    counts = QualityCounts()
    local = engine_of(engine).name == "local"
    if isinstance(df, pl.LazyFrame) and local:
        for batch in lazy_batches(df):
            counts.add(batch)
        if counts.columns is None:
            counts.add(df.clear().collect())
    elif isinstance(df, (str, os.PathLike, list, tuple, pl.LazyFrame)) or not local:
        with engine_for(engine, work_dir, show_progress) as runner, runner.open(df, work_dir) as blocks:
            counts = quality_blocks(runner, blocks)
    else:
        counts.add(to_polars(df))
    return counts.metrics(datetime.now(timezone.utc) if now is None else utc_datetime(now, "now"))


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
            raise InvalidArgumentError.of("fields", f"{name!r} is given twice")
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
