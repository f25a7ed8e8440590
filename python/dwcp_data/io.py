"""Writing training data to disk, atomically."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from dwcp_data.errors import InvalidArgumentError

__all__ = ["atomic_path", "write_training_data"]

_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success rename it onto ``target``.

    If the body raises, the temporary file is removed and ``target`` is left as
    it was: a reader never sees a half-written file.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_training_data(df: pl.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write ``df`` to ``path`` atomically (temporary file, then rename).

    The format follows the suffix: ``.parquet``/``.pq`` is Parquet (zstd, with
    column statistics), ``.csv`` is CSV with a header and ISO 8601 UTC
    timestamps.

    Returns:
        The path written.

    Raises:
        dwcp_data.errors.InvalidArgumentError: unknown suffix.
    """
    path = Path(path)
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InvalidArgumentError(
            f"invalid argument `path`: cannot tell the format of {str(path)!r}; "
            f"use one of {', '.join(sorted(_FORMATS))}",
            param="path",
        )
    with atomic_path(path) as tmp:
        if fmt == "parquet":
            df.write_parquet(tmp, compression="zstd", statistics=True)
        else:
            df.write_csv(tmp, datetime_format="%Y-%m-%dT%H:%M:%S%.fZ")
    return path
