"""Data profiles: what a data set holds, per column, of every row and per group
of ``by``, computed a block at a time in Rust and merged, so that a data set
larger than memory is profiled in one read on any engine; saved as a small
versioned file (gzip-compressed JSON) that is checked before use.

Per column: rows and nulls; for numbers (timestamps as µs since the epoch):
NaN, +inf, -inf, min, max, the finite values' count, mean and variance, and a
histogram over fixed bins, each spanning at most 2^-5 (3.1 %) of its values'
magnitude, whatever the data (quantiles read from it are within that of the
exact ones); for text and Enum columns, each value's count (up to 256
distinct values). Merged profiles equal the whole's exactly, but for the
last bits of means and variances.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from dwcp_data import _core
from dwcp_data._frames import FrameLike, to_core, to_polars
from dwcp_data._outputs import atomic_path
from dwcp_data.datasets.passes import profile_blocks
from dwcp_data.datasets.runners import engine_for
from dwcp_data.datasets.shards import DatasetSource
from dwcp_data.engines import EngineLike, engine_of
from dwcp_data.errors import DataError, InvalidArgumentError
from dwcp_data.io import lazy_batches
from dwcp_data.schema import SCHEMA

__all__ = ["FORMAT", "INCOMPARABLE", "VERSION", "Profile", "load_or_profile", "load_profile", "profile"]

#: What a profile file says it is, and the newest version this package reads.
FORMAT = "dwcp-data profile"
VERSION = 1
#: The rule of a sound profile this version cannot use (newer format, another schema).
INCOMPARABLE = "profile_version"
#: Mantissa bits of a histogram bin (see ``crate::profile::MANTISSA_BITS``).
_MANTISSA_BITS = 5


def _schema_id() -> str:
    """The schema's column names and types, hashed: a profile says which schema it was made for."""
    text = json.dumps([[name, str(dtype)] for name, dtype in SCHEMA.items()])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Profile:
    """A data set's profile (see the module's description): made by
    :func:`profile`, merged with :meth:`then`, saved with :meth:`save` and
    read back with :func:`load_profile`. Pickles."""

    def __init__(self, core: _core.Profile) -> None:
        self._core = core
        self._data: dict[str, Any] = json.loads(core.to_json())

    @property
    def by(self) -> list[str]:
        """The grouping columns (empty: no groups)."""
        return list(self._data["by"])

    @property
    def groups(self) -> list[str]:
        """The groups' keys (the values of ``by``, joined by ``|``), sorted."""
        return list(self._data["groups"])

    @property
    def columns(self) -> list[str]:
        """The columns profiled."""
        return list(self._data["all"])

    @property
    def rows(self) -> int:
        """Rows profiled."""
        return max((c["rows"] for c in self._data["all"].values()), default=0)

    def column(self, name: str, group: str | None = None) -> dict[str, Any]:
        """The figures of column ``name`` over every row, or over ``group``:
        ``rows``, ``nulls``, and for numbers ``nan``, ``pos_inf``, ``neg_inf``,
        ``count`` (finite values), ``min``, ``max``, ``mean``, ``variance``
        (sample; ``None`` under two values), ``bins`` (``(low, high, count)``
        in order); for text ``counts`` (``None`` past 256 distinct values).

        Raises:
            dwcp_data.errors.InvalidArgumentError: an unknown column or group.
        """
        columns = self._data["all"] if group is None else self._data["groups"].get(group)
        if columns is None:
            raise InvalidArgumentError.of("group", f"no group {group!r} (groups: {', '.join(self.groups)})")
        if name not in columns:
            raise InvalidArgumentError.of("name", f"no column {name!r} in the profile")
        raw = columns[name]
        out: dict[str, Any] = {"rows": raw["rows"], "nulls": raw["nulls"]}
        numeric = raw["numeric"]
        if numeric is not None:
            count = numeric["count"]
            out.update({k: numeric[k] for k in ("nan", "pos_inf", "neg_inf", "count", "min", "max")})
            out["mean"] = numeric["mean"] if count else None
            out["variance"] = numeric["m2"] / (count - 1) if count > 1 else None
            out["bins"] = [(*_bin_range(int(b)), n) for b, n in sorted(numeric["bins"].items(), key=_bin_key)]
        if raw["counts"] is not None or numeric is None:
            out["counts"] = raw["counts"]
        return out

    def quantile(self, name: str, q: float, group: str | None = None) -> float | None:
        """The ``q`` quantile of column ``name``'s finite values (of ``group``),
        from the histogram: within 2^-5 of the exact value's magnitude
        (clipped to the column's min and max); ``None`` without values."""
        if not 0.0 <= q <= 1.0 or math.isnan(q):
            raise InvalidArgumentError.of("q", f"must be within [0, 1], got {q!r}")
        figures = self.column(name, group)
        if not figures.get("count"):
            return None
        rank, seen = q * (figures["count"] - 1), 0
        for low, high, n in figures["bins"]:
            seen += n
            if seen > rank:
                return float(min(max((low + high) / 2, figures["min"]), figures["max"]))
        return float(figures["max"])

    def then(self, later: Profile) -> Profile:
        """This profile and ``later``'s (of the rows that follow), as one."""
        return Profile(self._core.then(later._core))

    def to_dict(self) -> dict[str, Any]:
        """The profile as JSON-ready data (what :meth:`save` writes)."""
        data: dict[str, Any] = json.loads(self._core.to_json())
        return data

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Writes the profile to ``path`` (gzip-compressed JSON, atomically): its format and
        version, the schema it was made for, and a checksum that
        :func:`load_profile` verifies. The path written."""
        body = self._core.to_json()
        document = {
            "format": FORMAT,
            "version": VERSION,
            "schema": _schema_id(),
            "sha256": hashlib.sha256(body.encode()).hexdigest(),
            "profile": body,
        }
        target = Path(path)
        with atomic_path(target) as tmp:
            tmp.write_bytes(gzip.compress(json.dumps(document).encode(), mtime=0))
        return target

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Profile) and self._data == other._data

    __hash__ = None  # type: ignore[assignment]  # mutable-looking: compared by value

    def __reduce__(self) -> tuple[Any, tuple[_core.Profile]]:
        return (Profile, (self._core,))

    def __repr__(self) -> str:
        groups = f", {len(self.groups)} groups of {', '.join(self.by)}" if self.by else ""
        return f"Profile({self.rows:,} rows, {len(self.columns)} columns{groups})"


def _bin_key(item: tuple[str, int]) -> int:
    return int(item[0])


def _bin_range(bin_: int) -> tuple[float, float]:
    """The smallest and largest value of histogram bin ``bin_`` (its order key's top bits)."""
    dropped = 52 - _MANTISSA_BITS
    low, high = bin_ << dropped, (bin_ << dropped) | ((1 << dropped) - 1)
    return _from_order_key(low), _from_order_key(high)


def _from_order_key(key: int) -> float:
    import struct

    bits = key & ~(1 << 63) if key >> 63 else ~key & ((1 << 64) - 1)
    return float(struct.unpack("<d", struct.pack("<Q", bits))[0])


def profile(
    source: FrameLike | DatasetSource,
    *,
    by: str | Sequence[str] | None = "link_type",
    engine: EngineLike = "local",
    work_dir: str | os.PathLike[str] | None = None,
    show_progress: bool | None = None,
) -> Profile:
    """The profile of a frame, a LazyFrame or a data set (a folder, glob or
    list of shards; on Ray also a ``ray.data.Dataset``), in one read, a block
    at a time on ``engine``: per column of every row, and per group of ``by``
    (default ``link_type``; ``None``: no groups).

    Raises:
        dwcp_data.errors.InvalidArgumentError: a ``by`` column the data lacks, or a bad engine.
    """
    keys = [] if by is None else [by] if isinstance(by, str) else list(by)
    local = engine_of(engine).name == "local"
    if isinstance(source, pl.LazyFrame) and local:
        found: Profile | None = None
        for batch in lazy_batches(source):
            part = _of(batch, keys)
            found = part if found is None else found.then(part)
        return found if found is not None else _of(source.clear().collect(), keys)
    if isinstance(source, (str, os.PathLike, list, tuple, pl.LazyFrame)) or not local:
        with engine_for(engine, work_dir, show_progress) as runner, runner.open(source, work_dir) as blocks:
            return Profile(profile_blocks(runner, blocks, keys))
    return _of(to_polars(source), keys)


def _of(df: pl.DataFrame, by: list[str]) -> Profile:
    missing = [c for c in by if c not in df.columns]
    if missing:
        raise InvalidArgumentError.of("by", f"no column {', '.join(map(repr, missing))} in the data")
    return Profile(_core.Profile.of(*to_core(df), by))


def load_profile(path: str | os.PathLike[str], *, sha256: str | None = None) -> Profile:
    """The profile :meth:`Profile.save` wrote to ``path``, checked first; with
    ``sha256``, the file's bytes must also have that digest (one a manifest
    recorded when the file was published).

    Raises:
        dwcp_data.errors.DataError: rule ``profile``: a file that is not a
            profile, is cut or edited (checksum), or has another digest than
            ``sha256``; rule ``profile_version`` (:data:`INCOMPARABLE`): a
            sound profile this dwcp-data cannot compare, from a newer
            dwcp-data or made for another schema.
    """
    file = Path(path)

    def refuse(why: str, rule: str = "profile") -> DataError:
        return DataError(f"{file}: {why}", column="", row=None, rule=rule)

    data = file.read_bytes()
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise refuse("not the profile that was published (its SHA-256 differs from the one recorded)")
    try:
        document = json.loads(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data)
    except (gzip.BadGzipFile, EOFError, zlib.error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise refuse(f"not a dwcp-data profile ({type(exc).__name__})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise refuse("not a dwcp-data profile")
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise refuse("a profile without a version")
    if version > VERSION:
        raise refuse(
            f"written by a newer dwcp-data (profile format {version}; this one reads {VERSION})", INCOMPARABLE
        )
    if document.get("schema") != _schema_id():
        raise refuse(
            "made for another schema of the metrics (another dwcp-data version): profile the data again",
            INCOMPARABLE,
        )
    body = document.get("profile")
    if not isinstance(body, str) or hashlib.sha256(body.encode()).hexdigest() != document.get("sha256"):
        raise refuse("the profile was cut or edited (its checksum does not match)")
    try:
        return Profile(_core.Profile.from_json(body))
    except InvalidArgumentError as exc:
        raise refuse(str(exc)) from None


def load_or_profile(
    path: str | os.PathLike[str],
    *,
    by: str | Sequence[str] | None = "link_type",
    engine: EngineLike = "local",
) -> Profile:
    """The profile a file holds, or the profile of a data source: ``path`` names
    a saved profile (any file but a ``.parquet``/``.pq``/``.csv`` one, loaded
    and checked by :func:`load_profile`) or a data set (a shard, a folder or a
    glob, read once by :func:`profile` with ``by`` on ``engine``).

    Raises:
        dwcp_data.errors.DataError: a profile file that fails its checks, or
            bad data in the data set.
    """
    source = Path(path)
    if source.is_file() and source.suffix.lower() not in (".parquet", ".pq", ".csv"):
        return load_profile(source)
    return profile(str(path), by=by, engine=engine)
