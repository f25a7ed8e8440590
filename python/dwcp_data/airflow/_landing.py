"""A landing folder read for one run: the run's days found by a templated
path, and only the rows of the run's window kept.

``source`` is a folder, a glob or a list of shard files, and may hold
``{date}`` (with a ``strftime`` format: ``{date:%Y-%m-%d}``): it is then
formatted once per UTC day of the window, so a backfill of one week reads that
week's folders only (``/landing/dt={date:%Y-%m-%d}/*.parquet``). A day with
nothing there is skipped. Shards whose rows all fall in the window are read as
they are; shards that straddle its edges are cut into the run's folder; shards
wholly outside it are left out.
"""

from __future__ import annotations

import glob
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from dwcp_data._convert import epoch_us, iso_timestamp
from dwcp_data.datasets import Dataset
from dwcp_data.errors import InvalidArgumentError
from dwcp_data.io import write_training_data

__all__ = ["landing_paths", "window_shards"]


def landing_paths(source: str, start: datetime, end: datetime) -> list[str]:
    """The paths ``source`` names for ``[start, end)``: itself, or formatted
    for each UTC day of the window (those that exist or match), in order."""
    if "{date" not in source:
        return [source]
    day = start.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    paths: list[str] = []
    while day < end:
        try:
            path = source.format(date=day)
        except (KeyError, IndexError, ValueError) as exc:
            raise InvalidArgumentError.of("source", f"{source!r} is not a path template: {exc}") from None
        if path not in paths and (glob.glob(path) if glob.has_magic(path) else os.path.exists(path)):
            paths.append(path)
        day += timedelta(days=1)
    if not paths:
        raise InvalidArgumentError.of(
            "source", f"{source!r} names nothing for the days from {start:%Y-%m-%d} to {end:%Y-%m-%d}"
        )
    return paths


def window_shards(
    source: str, start: datetime, end: datetime, work: Path
) -> tuple[list[str], dict[str, Any]]:
    """The shards holding exactly the rows of ``source`` (see
    :func:`landing_paths`) in ``[start, end)`` (cut copies written into
    ``work``), and what was read: ``rows``, ``first`` and ``last`` timestamp.

    Raises:
        dwcp_data.errors.InvalidArgumentError: nothing to read, or no row in the window.
        dwcp_data.errors.DataError: a shard cannot be read.
    """
    data = Dataset(landing_paths(source, start, end))
    lo, hi = epoch_us(start), epoch_us(end)
    kept: list[str] = []
    rows, firsts, lasts = 0, [], []
    for i, file in enumerate(data.files):
        times = data.read(i, ["timestamp"])["timestamp"].dt.epoch("us")
        inside = times.is_between(lo, hi, closed="left").fill_null(False)
        within = times.filter(inside)
        if within.is_empty():
            continue
        if within.len() < times.len():
            cut = work / f"{i:05d}-{file.stem}.parquet"
            write_training_data(data.read(i).filter(inside), cut)
            file = cut
        kept.append(str(file))
        rows += within.len()
        firsts.append(int(within.min()))
        lasts.append(int(within.max()))
    if not kept:
        raise InvalidArgumentError.of(
            "source",
            f"{source!r} holds no row from {start.isoformat()} to {end.isoformat()} (the run's window)",
        )
    read = {
        "rows": rows,
        "first": iso_timestamp(min(firsts)),
        "last": iso_timestamp(max(lasts)),
    }
    return kept, read
