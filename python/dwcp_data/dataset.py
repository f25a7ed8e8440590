"""Data sets larger than memory: shards processed one at a time, with the in-memory answers.

A data set is a folder (or glob, or list) of Parquet and CSV shards, in name
order. Each stage reads one shard at a time, only the columns a pass needs, and
keeps small partial statistics from ``_core`` (``crate::partial``) that merge
into exactly what the in-memory stage computes on the concatenated data:

* validation: each shard's facts (counts and first failing rows per rule,
  class counts, types) merged shard after shard, as ``validate`` itself does;
* duplicates: 128-bit hashes of whole rows, partitioned on disk and sorted
  one partition at a time (the first occurrence in data-set order is kept);
* quartiles and medians: exact order statistics found digit by digit from
  merged bucket counts over the values' ordered bit patterns (three passes
  for real data, four at most), with pandas' linear interpolation.

Memory: one shard's columns, a few bytes of state per row of the current shard,
and partials whose size does not depend on the rows. Disk: 24 bytes per row for
the duplicate search and 6 bytes per row of state, in a temporary folder.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

import numpy as np
import polars as pl

from dwcp_data import _core
from dwcp_data._convert import epoch_us, one_of, utc_datetime
from dwcp_data._frames import to_core
from dwcp_data._outputs import FolderBuild, output_folder, shard_name, work_folder
from dwcp_data._progress import progress
from dwcp_data._reports import CleaningReportDict, FenceDict, ImputationDict, KeptShareDict, OutlierStepDict
from dwcp_data.cleaning import DEFAULT_OUTLIER_COLUMNS, CleaningReport, _names
from dwcp_data.errors import DataError, DwcpDataError, InvalidArgumentError
from dwcp_data.io import (
    Source,
    _conform,
    _files,
    _format,
    _read_parquet,
    _warn_absent,
    parquet_errors,
    read_training_data,
    write_frames,
    write_training_data,
)
from dwcp_data.labelling import label_oracle
from dwcp_data.validation import Profile, RuleResult, ValidationReport

__all__ = [
    "Dataset",
    "DatasetSource",
    "Shard",
    "clean_dataset",
    "label_dataset",
    "named_paths",
    "open_dataset",
    "validate_dataset",
]

_T = TypeVar("_T")

#: A probe of a rank search as ``_core`` takes it: ``(prefix, depth, collect)``.
_Probe = tuple[int, int, bool]
_ALL: _Probe = (0, 0, False)
#: Rows read, transformed and written at a time by the passes over whole rows.
_SLICE = 1 << 20
#: Bytes of cleaning state per row (group id, link id, kept flag), and how
#: much of it is kept in memory rather than in the work folder: the states of
#: up to ~28M rows, which saves a read and a write per shard and pass.
_STATE_BYTES = 9
_STATE_MEMORY = 256 << 20


@dataclass(frozen=True)
class Shard:
    """A shard file as it was when its data set was opened: size, times and
    file id. The stages pass over a shard several times; :meth:`check`
    catches a file changed, replaced or removed in between, which would
    otherwise give silently wrong output."""

    path: Path
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int

    @classmethod
    def of(cls, path: Path) -> Shard:
        """``path`` as it is now."""
        st = os.stat(path)
        return cls(path, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)

    def check(self) -> None:
        """Raises ``DataError`` naming the shard unless it is as it was."""
        try:
            now = Shard.of(self.path)
        except FileNotFoundError:
            what = "was removed"
        else:
            if now == self:
                return
            what = (
                f"changed ({self.size:,} bytes before, {now.size:,} now)"
                if now.size != self.size
                else "was modified or replaced"
            )
        raise DataError(
            f"{self.path}: the shard {what} while the data set was being processed; its output would "
            "mix two versions of the data, so the run stops (nothing was published). Process a data set "
            "that nothing writes to meanwhile",
            column="",
            row=None,
            rule="shard_changed",
        )


class Dataset:
    """The shards of a data set, in order: a folder of ``.parquet``/``.csv``
    files (name order), a glob, or a list of those.

    Each shard's identity is recorded when the data set is opened and checked
    at every read (:class:`Shard`). CSV shards are read with ``on_bad_rows``
    (see :func:`~dwcp_data.read_training_data`); :attr:`rejected` counts the
    lines each one quarantined."""

    def __init__(
        self,
        source: Source | Shard,
        *,
        on_bad_rows: Literal["raise", "quarantine"] = "raise",
        rejects_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        """``source``: the files; or one :class:`Shard`, as recorded by an
        earlier ``Dataset`` (a Ray task's block)."""
        if isinstance(source, Shard):
            self.shards: tuple[Shard, ...] = (source,)
            given: list[str | os.PathLike[str]] = []
        else:
            self.shards = tuple(Shard.of(f) for f in _files(source))
            given = named_paths(source)
        #: The shard files, in order.
        self.files: tuple[Path, ...] = tuple(s.path for s in self.shards)
        #: What an output must not overlap: the files, and the folders and files named as the source.
        self.inputs: tuple[str | os.PathLike[str], ...] = (*given, *self.files)
        one_of(on_bad_rows, ("raise", "quarantine"), "on_bad_rows")
        self.on_bad_rows = on_bad_rows
        self.rejects_dir = rejects_dir
        #: Per CSV shard with bad lines, how many were quarantined.
        self.rejected: dict[str, int] = {}
        self._rows: list[int] | None = None
        self._schemas: dict[int, dict[str, pl.DataType]] = {}
        for f in self.files:
            _format(f, "source")

    def __len__(self) -> int:
        return len(self.shards)

    def __repr__(self) -> str:
        return f"Dataset({len(self.shards)} shards)"

    def _checked(self, i: int, read: Callable[[], _T]) -> _T:
        """``read()`` of shard ``i``, which must be as it was before and after
        (a read that fails because the file changed says so)."""
        shard = self.shards[i]
        shard.check()
        try:
            result = read()
        except DwcpDataError:
            shard.check()
            raise
        shard.check()
        return result

    def read(self, i: int, columns: Sequence[str] | None = None) -> pl.DataFrame:
        """Shard ``i`` in the schema (as :func:`~dwcp_data.read_training_data`
        reads it), only ``columns`` if given."""
        file = self.files[i]
        if _format(file, "source") == "parquet":
            return self._read_parquet(i, columns)
        df = self._checked(i, lambda: self._read_csv(i))
        return df if columns is None else df.select(columns)

    def _read_csv(self, i: int) -> pl.DataFrame:
        """CSV shard ``i``, bad lines handled by ``on_bad_rows`` (quarantined
        once: later passes rewrite the same rejects file without warning again)."""
        file = str(self.files[i])
        with warnings.catch_warnings():
            if file in self.rejected:
                warnings.simplefilter("ignore")
            df, read = read_training_data(
                file, on_bad_rows=self.on_bad_rows, rejects_dir=self.rejects_dir, report=True
            )
        self.rejected.update(read.rejected)
        return df

    def slices(
        self, i: int, columns: Sequence[str] | None = None, rows: int | None = None
    ) -> Iterator[pl.DataFrame]:
        """Shard ``i`` (``columns`` of it) as :meth:`read` gives it, in slices of
        at most ``rows`` rows (default ``_SLICE``), in order; an empty shard is
        one empty slice. Parquet shards are read a slice at a time (only the
        row groups holding it), so memory follows the slice, not the shard."""
        rows = rows or _SLICE
        if _format(self.files[i], "source") != "parquet":
            df = self.read(i, columns)
            yield from (df.slice(k, rows) for k in range(0, max(df.height, 1), rows))
            return
        for k in range(0, max(self.rows()[i], 1), rows):
            yield self._read_parquet(i, columns, (k, rows))

    def _read_parquet(
        self, i: int, columns: Sequence[str] | None, rows: tuple[int, int] | None = None
    ) -> pl.DataFrame:
        """Parquet shard ``i`` conformed to the schema (``columns`` of it, ``rows`` of it)."""
        file = self.files[i]
        wanted = None if columns is None else [c for c in columns if c in self._stored(i)]
        df, missing = self._checked(
            i, lambda: _conform(_read_parquet(file, wanted, rows), file, False, columns)
        )
        if columns is None and missing and (rows is None or rows[0] == 0):
            _warn_absent(file, missing)
        return df

    def _stored(self, i: int) -> dict[str, pl.DataType]:
        """The columns Parquet shard ``i`` stores, read from its footer once."""
        if i not in self._schemas:
            file = self.files[i]

            def schema() -> dict[str, pl.DataType]:
                with parquet_errors(file):
                    return pl.read_parquet_schema(file)

            self._schemas[i] = self._checked(i, schema)
        return self._schemas[i]

    def rows(self) -> list[int]:
        """Rows per shard (Parquet: from the footer, without reading the data),
        counted once: a CSV shard has to be read for it."""
        if self._rows is None:
            self._rows = [self._count(i) for i in range(len(self))]
        return self._rows

    def _count(self, i: int) -> int:
        file = self.files[i]
        if _format(file, "source") != "parquet":
            return self.read(i).height

        def count() -> int:
            with parquet_errors(file):
                return int(pl.scan_parquet(file).select(pl.len()).collect().item())

        return self._checked(i, count)

    def repeated_keys(
        self, key: list[str], keep: int, work_dir: str | os.PathLike[str] | None, show: bool | None
    ) -> tuple[int, list[int]]:
        """Rows whose ``key`` columns repeat an earlier row's: how many, and the
        first ``keep`` (row numbers in the data set). The keys' 128-bit hashes
        are partitioned on disk in ``work_dir`` (default: a temporary folder)."""
        rows = self.rows()
        parts = _core.partition_count(sum(rows))
        with work_folder("keys", work_dir) as work:
            first = 0
            for i in self.passes("validate: repeated keys", show):
                core_frame, enums = to_core(self.read(i, key))
                _core.hash_partitions(core_frame, enums, first, str(work), parts)
                first += rows[i]
            count = _core.find_duplicates(str(work), parts)
            found: list[int] = []
            first = 0
            for n in rows:
                if len(found) < keep:
                    flags = _core.duplicate_flags(str(work), parts, first, n)
                    found += [first + r for r in flags.arg_true().head(keep - len(found)).to_list()]
                first += n
        return count, found

    def passes(self, label: str, show_progress: bool | None) -> Iterator[int]:
        """Shard indices, with a progress bar named ``label``."""
        return progress(range(len(self.shards)), label, enabled=show_progress)


def named_paths(source: object) -> list[str | os.PathLike[str]]:
    """The files and folders ``source`` names (a path or a list of them; not
    globs, nor frames): what an output must not overlap, known before the
    data set is opened."""
    named = list(source) if isinstance(source, (list, tuple)) else [source]
    return [
        p
        for p in named
        if isinstance(p, os.PathLike) or (isinstance(p, str) and not any(c in p for c in "*?["))
    ]


#: What the data-set stages read: files (a folder, glob or list of Parquet and
#: CSV shards) or a LazyFrame.
DatasetSource = Source | pl.LazyFrame


@contextlib.contextmanager
def open_dataset(
    source: DatasetSource,
    work_dir: str | os.PathLike[str] | None = None,
    *,
    on_bad_rows: Literal["raise", "quarantine"] = "raise",
    rejects_dir: str | os.PathLike[str] | None = None,
) -> Iterator[Dataset]:
    """The data set ``source`` names. A LazyFrame is first streamed once into
    temporary Parquet shards of :data:`~dwcp_data.io.SHARD_ROWS` rows in
    ``work_dir`` (default: a temporary folder), removed afterwards: the
    stages pass over the data several times, and its plan then runs once."""
    if not isinstance(source, pl.LazyFrame):
        yield Dataset(source, on_bad_rows=on_bad_rows, rejects_dir=rejects_dir)
        return
    with work_folder("source", work_dir) as tmp:
        folder = tmp / "shards"
        write_training_data(source, folder)
        yield Dataset(folder)


def _nan_as_null(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` with float NaN as null, as cleaning takes it; only columns holding
    a NaN are rewritten (a copy of every float column would double a shard)."""
    with_nan = [c for c, t in df.schema.items() if t == pl.Float64 and df[c].is_nan().any()]
    return df.with_columns(pl.col(with_nan).fill_nan(None)) if with_nan else df


class _Groups:
    """Group ids of rows across shards, in the in-memory order: first
    appearance in the data set, or category order (nulls last) for a single
    Enum column."""

    def __init__(self, by: list[str] | None) -> None:
        self.by = by
        self.table: pl.DataFrame | None = None

    def ids(self, df: pl.DataFrame) -> pl.Series:
        """Each row's group id (new groups numbered on from the known ones)."""
        if self.by is None:
            return pl.Series("gid", [0] * df.height, dtype=pl.UInt32)
        keys = df.select(self.by)
        new = keys.unique(maintain_order=True)
        known = 0 if self.table is None else self.table.height
        if self.table is not None:
            new = new.join(self.table.drop("gid"), on=self.by, how="anti", nulls_equal=True)
        new = new.with_columns(pl.int_range(known, known + new.height, dtype=pl.UInt32).alias("gid"))
        self.table = new if self.table is None else pl.concat([self.table, new])
        joined = keys.join(self.table, on=self.by, how="left", nulls_equal=True, maintain_order="left")
        return joined["gid"]

    def count(self) -> int:
        """Groups seen so far."""
        return 1 if self.table is None else self.table.height

    def order(self) -> list[int]:
        """Group ids in report order."""
        if self.table is None:
            return [0]
        table = self.table
        if len(self.by or []) == 1 and isinstance(table.dtypes[0], (pl.Enum, pl.UInt8)):
            column = table.columns[0]
            table = table.sort(pl.col(column).to_physical(), nulls_last=True)
        return table["gid"].to_list()

    def labels(self) -> list[str | None]:
        """Each group id's label, ``column=value, ...`` (``None`` when pooled)."""
        if self.table is None or self.by is None:
            return [None]
        text = self.table.select(pl.col(self.by).cast(pl.String))
        rows = text.rows()
        return [
            ", ".join(f"{c}={'null' if v is None else v}" for c, v in zip(self.by, r, strict=True))
            for r in rows
        ]


def _bincount(ids: pl.Series, n: int) -> list[int]:
    """How many times each id in ``0..n`` occurs in ``ids``."""
    return [int(c) for c in np.bincount(ids.to_numpy(), minlength=n)] if ids.len() else [0] * n


def _merge(merged: list[pl.Series], partials: list[pl.Series]) -> list[pl.Series]:
    """One shard's rank partials merged into those of the shards before it (none: ``[]``)."""
    if not merged:
        return partials
    return [_core.merge_rank_partials(a, b) for a, b in zip(merged, partials, strict=True)]


@dataclass
class _Search:
    """The search for one rank of one group's values."""

    group: int
    rank: int
    probe: _Probe = _ALL
    value: float | None = None


@dataclass
class _Quantile:
    """One quantile of one group's values: the searches for the ranks it interpolates between."""

    low: _Search
    high: _Search | None
    fraction: float

    @classmethod
    def of(cls, group: int, n: int, q: float) -> _Quantile:
        low, high, fraction = _core.quantile_ranks(q, n)
        return cls(_Search(group, low), None if high is None else _Search(group, high), fraction)

    def searches(self) -> list[_Search]:
        return [self.low] if self.high is None else [self.low, self.high]

    def value(self) -> float:
        """The quantile, once its searches are done."""
        assert self.low.value is not None
        return _core.interpolate(
            self.low.value, None if self.high is None else self.high.value, self.fraction
        )


@dataclass
class _Scan:
    """What a pass over shards gives (see ``_Cleaner.scan``): per column its
    partials for its probes and its nulls among the kept rows; per group the
    values the fence judged and the rows it removed."""

    partials: dict[str, list[pl.Series]]
    nulls: dict[str, int]
    judged: list[int]
    removed: list[int]

    def then(self, later: _Scan) -> _Scan:
        """This scan's shards followed by ``later``'s, merged."""
        return _Scan(
            {c: _merge(p, later.partials[c]) for c, p in self.partials.items()},
            {c: n + later.nulls[c] for c, n in self.nulls.items()},
            [a + b for a, b in zip(self.judged, later.judged, strict=True)],
            [a + b for a, b in zip(self.removed, later.removed, strict=True)],
        )


#: A fence as one shard applies it: the column, and per group the lower and
#: upper bounds (null for a group without values).
_ShardFence = tuple[str, pl.Series, pl.Series]


def _scan_shard(
    state: pl.DataFrame,
    df: pl.DataFrame,
    fence: _ShardFence | None,
    probes: dict[str, list[tuple[int, _Probe]]],
    n: int,
    grouped: bool,
) -> tuple[pl.DataFrame | None, _Scan]:
    """One shard's part of a scan: ``fence`` applied to the rows ``state``
    keeps (the new state, or ``None`` without a fence), then each column's
    partials for its probes over the kept rows of ``df`` (NaN as null)."""
    judged, removed = [0] * n, [0] * n
    new_state = None
    if fence is not None:
        name, lower, upper = fence
        values = df[name].cast(pl.Float64)
        lo, hi = lower.gather(state["gid"]), upper.gather(state["gid"])
        present = state["keep"] & values.is_not_null()
        # as in memory, a NaN fence (from infinite values) keeps nothing
        outside = present & lo.is_not_null() & ~((values >= lo) & (values <= hi))
        judged = _bincount(state["gid"].filter(present), n)
        removed = _bincount(state["gid"].filter(outside), n)
        state = new_state = pl.DataFrame(
            [state["gid"], state["lid"], (state["keep"] & ~outside).alias("keep")]
        )
    keep = state["keep"]
    kept = {column: df[column].filter(keep) for column in probes}
    gids = state["gid"].filter(keep) if grouped else None
    partials = {column: _core.rank_partials(kept[column], gids, ps) for column, ps in probes.items()}
    nulls = {column: kept[column].null_count() for column in probes}
    return new_state, _Scan(partials, nulls, judged, removed)


def _shard_fence(fence: tuple[str, _Bounds] | None) -> _ShardFence | None:
    """``fence`` as shards apply it."""
    if fence is None:
        return None
    name, bounds = fence
    lower = pl.Series([None if b is None else b[2] for b in bounds], dtype=pl.Float64)
    upper = pl.Series([None if b is None else b[3] for b in bounds], dtype=pl.Float64)
    return name, lower, upper


class ShardHooks(Protocol):
    """What a pipeline computes from each shard in the cleaning passes: pure
    functions of the rows (they run where the shard is: a Ray task)."""

    def inspect(self, raw: pl.DataFrame) -> Any:
        """A partial result from rows as read, before cleaning."""

    def finish(self, part: pl.DataFrame) -> tuple[pl.DataFrame, Any]:
        """Cleaned rows as written (transformed), and a partial result from them."""


class DriverHooks(Protocol):
    """Where the partial results of :class:`ShardHooks` are merged, in shard order."""

    def inspected(self, seen: Any) -> None:
        """Takes the next shard's (or slice's) ``ShardHooks.inspect`` result."""

    def finished(self, seen: Any) -> None:
        """Takes the next shard's (or slice's) ``ShardHooks.finish`` result."""


#: Per group, ``(q1, q3, lower, upper)``, or ``None`` for a group without values.
_Bounds = list[tuple[float, float, float, float] | None]


class _Cleaner:
    """One out-of-core :func:`~dwcp_data.clean` run over a data set."""

    def __init__(
        self,
        ds: Dataset,
        work: Path,
        *,
        dedupe: bool,
        columns: list[str],
        iqr_k: float,
        by: list[str] | None,
        impute: bool,
        show_progress: bool | None,
        hooks: tuple[ShardHooks, DriverHooks] | None = None,
    ) -> None:
        """``hooks``: what a pipeline adds to the passes (see :class:`ShardHooks`)."""
        self.hooks = hooks
        self.ds, self.work, self.dedupe, self.columns = ds, work, dedupe, columns
        self.iqr_k, self.impute, self.show = iqr_k, impute, show_progress
        self.groups = _Groups(by)
        self.links = _Groups(["link_type"])
        self.first_rows: list[int] = []
        self.has_nulls: dict[str, int] = {}
        self.schema: pl.Schema | None = None
        #: Each shard's state, when kept in memory (see :meth:`save`).
        self.held: dict[int, pl.DataFrame] = {}

    def read(self, i: int, columns: Sequence[str] | None = None) -> pl.DataFrame:
        """Shard ``i`` (``columns`` of it) with float NaN as null, as cleaning takes it."""
        return _nan_as_null(self.ds.read(i, columns))

    def state(self, i: int) -> pl.DataFrame:
        """Shard ``i``'s rows' group and link ids, and whether each is kept."""
        if i in self.held:
            return self.held[i]
        return pl.read_ipc(self.work / f"state-{i:05d}.arrow")

    def save(self, i: int, state: pl.DataFrame) -> None:
        """Keeps shard ``i``'s state: in memory while the data set's fit in
        :data:`_STATE_MEMORY`, else in the work folder."""
        if sum(self.ds.rows()) * _STATE_BYTES <= _STATE_MEMORY:
            self.held[i] = state
            return
        # a new file, renamed over the old one: a frame read from it may map it
        path = self.work / f"state-{i:05d}.arrow"
        state.write_ipc(path.with_suffix(".tmp"))
        os.replace(path.with_suffix(".tmp"), path)

    def first_pass(self) -> None:
        """Hashes rows into partitions, numbers groups; rows in per group and link type."""
        total = sum(self.ds.rows())
        parts = _core.partition_count(total)
        row = 0
        for i in self.ds.passes("clean: rows", self.show):
            self.first_rows.append(row)
            states = []
            for raw in self.ds.slices(i):
                if self.hooks is not None:
                    self.hooks[1].inspected(self.hooks[0].inspect(raw))
                df = _nan_as_null(raw)
                self.check(df)
                for column, n in zip(df.columns, df.null_count().row(0), strict=True):
                    self.has_nulls[column] = self.has_nulls.get(column, 0) + n
                if self.dedupe:
                    core_frame, enums = to_core(df)
                    _core.hash_partitions(core_frame, enums, row, str(self.work), parts)
                ids = {"gid": self.groups.ids(df), "lid": self.links.ids(df.select("link_type"))}
                states.append(pl.DataFrame(ids))
                row += df.height
            self.save(i, pl.concat(states))
        duplicates = _core.find_duplicates(str(self.work), parts) if self.dedupe else 0
        rows_in = [0] * self.groups.count()
        links_in = [0] * self.links.count()
        for i in range(len(self.ds)):
            state = self.state(i)
            keep = (
                ~_core.duplicate_flags(str(self.work), parts, self.first_rows[i], state.height)
                if self.dedupe
                else pl.Series("keep", [True] * state.height, dtype=pl.Boolean)
            )
            self.save(i, state.with_columns(keep.alias("keep")))
            for gid, n in enumerate(_bincount(state["gid"], self.groups.count())):
                rows_in[gid] += n
            for lid, n in enumerate(_bincount(state["lid"], self.links.count())):
                links_in[lid] += n
        self.rows_in = row
        self.counts = (duplicates, rows_in, links_in)

    def check(self, df: pl.DataFrame) -> None:
        """The columns cleaning needs, as :func:`~dwcp_data.clean` checks them."""

        def refuse(name: str, rule: str, message: str) -> DataError:
            return DataError(f"column `{name}`: {message} (rule `{rule}`)", column=name, row=None, rule=rule)

        for name in self.columns:
            if name not in df.columns:
                raise refuse(name, "outlier_column", "the column is absent")
            if not df.schema[name].is_numeric():
                raise refuse(
                    name, "outlier_column", f"IQR fences need a numeric column, found {df.schema[name]}"
                )
        for name in self.groups.by or []:
            if name not in df.columns:
                raise refuse(name, "group_column", "the column is absent")
        self.schema = df.schema

    def scan(
        self,
        label: str,
        columns: list[str],
        probes: dict[str, list[tuple[int, _Probe]]],
        fence: tuple[str, _Bounds] | None = None,
        grouped: bool = True,
    ) -> _Scan:
        """One pass: applies ``fence`` (column, bounds per group) to the rows
        still kept, then gives each column's merged partials for its probes
        over the kept rows, per group (or pooled: all in group 0), and its
        nulls there; and per group the values the fence judged and the rows it
        removed."""
        n = self.groups.count()
        total = _Scan({c: [] for c in probes}, dict.fromkeys(probes, 0), [0] * n, [0] * n)
        read = sorted(set(columns) | ({fence[0]} if fence else set()))
        shard_fence = _shard_fence(fence)
        for i in self.ds.passes(label, self.show):
            state, scan = _scan_shard(self.state(i), self.read(i, read), shard_fence, probes, n, grouped)
            if state is not None:
                self.save(i, state)
            total = total.then(scan)
        return total

    def search(
        self,
        label: str,
        searches: dict[str, list[_Search]],
        first: dict[str, list[pl.Series]],
        grouped: bool = True,
    ) -> None:
        """Advances ``searches`` (per column) from the merged partials of the
        all-values probes ``first`` (one per group), then passes until every
        rank is found."""
        for column, column_searches in searches.items():
            for s in column_searches:
                self.advance(s, first[column][s.group])
        while True:
            open_ = {c: [s for s in ss if s.value is None] for c, ss in searches.items()}
            open_ = {c: ss for c, ss in open_.items() if ss}
            if not open_:
                return
            probes = {c: sorted({(s.group, s.probe) for s in ss}) for c, ss in open_.items()}
            merged = self.scan(label, list(open_), probes, grouped=grouped).partials
            for column, ss in open_.items():
                index = {p: k for k, p in enumerate(probes[column])}
                for s in ss:
                    self.advance(s, merged[column][index[(s.group, s.probe)]])

    @staticmethod
    def advance(s: _Search, merged: pl.Series) -> None:
        value, step = _core.advance_rank(s.probe, s.rank, merged)
        if step is None:
            s.value = value
        else:
            s.probe, s.rank = step

    def run(self) -> CleaningReportDict:
        """Every pass after the first: fences, medians, counts; the report."""
        duplicates, rows_in, links_in = self.counts
        n = self.groups.count()
        order, labels = self.groups.order(), self.groups.labels()
        outliers: list[OutlierStepDict] = []
        fence: tuple[str, _Bounds] | None = None
        for column in self.columns:
            all_probes = {column: [(g, _ALL) for g in range(n)]}
            scan = self.scan(f"clean: {column}", [column], all_probes, fence)
            first = scan.partials
            if fence is not None:
                outliers.append(self.step(fence, scan.judged, scan.removed, order, labels))
            quartiles = {
                g: (_Quantile.of(g, count, 0.25), _Quantile.of(g, count, 0.75))
                for g in range(n)
                if (count := int(first[column][g].sum()))
            }
            searches = [s for pair in quartiles.values() for q in pair for s in q.searches()]
            self.search(f"clean: {column} quartiles", {column: searches}, first)
            bounds: _Bounds = [None] * n
            for g, (q1s, q3s) in quartiles.items():
                q1, q3 = q1s.value(), q3s.value()
                iqr = q3 - q1  # as in memory, operation for operation
                bounds[g] = (q1, q3, q1 - self.iqr_k * iqr, q3 + self.iqr_k * iqr)
            fence = (column, bounds)
        return self.finish(fence, outliers, duplicates, rows_in, links_in, order, labels)

    @staticmethod
    def step(
        fence: tuple[str, _Bounds],
        judged: list[int],
        removed: list[int],
        order: list[int],
        labels: list[str | None],
    ) -> OutlierStepDict:
        """The report of one outlier column's fences."""
        column, bounds = fence
        fences: list[FenceDict] = []
        for g in order:
            q1, q3, lower, upper = bounds[g] or (None, None, None, None)
            fences.append(
                {
                    "group": labels[g],
                    "values": judged[g],
                    "q1": q1,
                    "q3": q3,
                    "lower": lower,
                    "upper": upper,
                    "rows_removed": removed[g],
                }
            )
        return {"column": column, "fences": fences, "rows_removed": sum(removed)}

    def finish(
        self,
        fence: tuple[str, _Bounds] | None,
        outliers: list[OutlierStepDict],
        duplicates: int,
        rows_in: list[int],
        links_in: list[int],
        order: list[int],
        labels: list[str | None],
    ) -> CleaningReportDict:
        """Applies the last fence, finds the medians, and reports."""
        assert self.schema is not None
        # only columns with a null somewhere may need a median
        numeric = [c for c, t in self.schema.items() if t.is_numeric() and self.has_nulls[c]]
        probes = {c: [(0, _ALL)] for c in numeric if self.impute}
        scan = self.scan("clean: medians", list(probes), probes, fence, grouped=False)
        first, nulls = scan.partials, scan.nulls
        if fence is not None:
            outliers.append(self.step(fence, scan.judged, scan.removed, order, labels))
        median = {
            column: _Quantile.of(0, count, 0.5)
            for column in probes
            if nulls[column] and (count := int(first[column][0].sum()))
        }
        self.search("clean: medians", {c: q.searches() for c, q in median.items()}, first, grouped=False)
        medians: dict[str, float] = {}
        imputed: list[ImputationDict] = []
        for column in probes:
            if not nulls[column]:
                continue
            value = None
            if column in median:
                value = median[column].value()
                if not self.schema[column].is_float():
                    value = float(round(value))  # half to even, as in memory
                medians[column] = value
            # as in memory: the nulls filled, none without a median
            imputed.append(
                {"column": column, "count": nulls[column] if value is not None else 0, "value": value}
            )
        self.medians = medians
        rows_out, links_out, groups_out = self.count_out()
        link_labels = self.links.labels()
        links: list[KeptShareDict] = [
            {"group": str(link_labels[lid]), "rows_in": links_in[lid], "rows_out": links_out[lid]}
            for lid in self.links.order()
        ]
        groups: list[KeptShareDict] = (
            []
            if self.groups.by is None
            else [{"group": str(labels[g]), "rows_in": rows_in[g], "rows_out": groups_out[g]} for g in order]
        )
        return {
            "rows_in": self.rows_in,
            "rows_out": rows_out,
            "duplicates_removed": duplicates,
            "timestamp": "unchanged" if "timestamp" in self.schema else None,
            "outliers": outliers,
            "kept_by_link_type": links if "link_type" in self.schema else [],
            "kept_by_group": groups,
            "imputed": imputed,
        }

    def count_out(self) -> tuple[int, list[int], list[int]]:
        """Kept rows: all, per link type, per group."""
        links, groups, total = [0] * self.links.count(), [0] * self.groups.count(), 0
        for i in range(len(self.ds)):
            state = self.state(i).filter(pl.col("keep"))
            total += state.height
            for lid, n in enumerate(_bincount(state["lid"], self.links.count())):
                links[lid] += n
            for gid, n in enumerate(_bincount(state["gid"], self.groups.count())):
                groups[gid] += n
        return total, links, groups

    def write(self, out: FolderBuild) -> None:
        """Each shard's kept rows, nulls filled with the medians, into the folder ``out``."""
        assert self.schema is not None
        fills = _fills(self.schema, self.medians)
        work = None if self.hooks is None else self.hooks[0]
        for i in self.ds.passes("clean: writing", self.show):
            name = shard_name(i, len(self.ds))
            out.rows[name], seen = _write_cleaned(
                self.ds.slices(i), self.state(i)["keep"], fills, work, out.file(name)
            )
            if self.hooks is not None:
                for s in seen:
                    self.hooks[1].finished(s)


def _write_cleaned(
    slices: Iterable[pl.DataFrame],
    keep: pl.Series,
    fills: list[pl.Expr],
    work: ShardHooks | None,
    path: Path,
) -> tuple[int, list[Any]]:
    """One shard's cleaned rows written to the Parquet file ``path`` a slice at
    a time: of each slice (as read) the rows ``keep`` flags, NaN as null, nulls
    filled by ``fills``, then ``work.finish``-ed. The rows written, and the
    ``finish`` results of the slices in order."""
    seen: list[Any] = []

    def cleaned() -> Iterator[pl.DataFrame]:
        first = 0
        for df in slices:
            part = _nan_as_null(df).filter(keep.slice(first, df.height)).with_columns(fills)
            first += df.height
            if work is not None:
                part, finished = work.finish(part)
                seen.append(finished)
            yield part

    return write_frames(cleaned(), path)[1], seen


def _fills(schema: pl.Schema, medians: dict[str, float]) -> list[pl.Expr]:
    """The expressions filling each column's nulls with its median, as in memory."""
    return [
        pl.col(c).cast(pl.Float64).fill_null(m)
        if schema[c].is_float()
        else pl.col(c).cast(pl.Int64).fill_null(int(m))
        for c, m in medians.items()
    ]


def _write_slices(
    slices: Iterable[pl.DataFrame], path: Path, transform: Callable[[pl.DataFrame], pl.DataFrame]
) -> int:
    """``transform`` of each slice (at least one), written in order to the
    Parquet file ``path``; the rows written."""
    return write_frames((transform(part) for part in slices), path)[1]


def clean_dataset(
    source: DatasetSource,
    out: str | os.PathLike[str],
    *,
    dedupe: bool = True,
    outlier_columns: str | Sequence[str] = DEFAULT_OUTLIER_COLUMNS,
    iqr_k: float = 1.5,
    by: str | Sequence[str] | None = None,
    impute: Literal["median"] | None = "median",
    on_bad_rows: Literal["raise", "quarantine"] = "raise",
    rejects_dir: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    work_dir: str | os.PathLike[str] | None = None,
    show_progress: bool | None = None,
) -> CleaningReport:
    """:func:`~dwcp_data.clean` for a data set larger than memory.

    Reads ``source`` (a folder, glob or list of Parquet/CSV shards, or a
    LazyFrame: see :func:`open_dataset`) one shard at a time and writes the cleaned rows to the folder ``out``, one Parquet
    shard per input shard (``part-00000.parquet``, … in input order, empty
    ones included). Read back in order, they equal ``clean()`` of the
    concatenated data, row for row, and the report is the same: duplicates
    across shards (first occurrence kept), sequential fences on the survivors
    (pooled or per group of ``by``) with exact quartiles, and exact medians.
    Bad CSV lines raise, or with ``on_bad_rows="quarantine"`` go to rejects
    files (see :func:`~dwcp_data.read_training_data`).

    ``out`` is built beside itself and appears (or replaces an earlier output
    of ours) only once every shard is written, with a manifest
    (``_dwcp_manifest.json``: files, rows, the cleaning report). A folder
    holding anything dwcp-data did not write is refused unless
    ``overwrite=True``; an ``out`` that is, holds or lies inside the input is
    always refused. Each shard must stay as it was while the passes run (a
    change raises ``DataError``, rule ``shard_changed``). Work files (about 30
    bytes per row) go to ``work_dir`` (default: a temporary folder) and are
    removed afterwards.

    Returns:
        The :class:`~dwcp_data.cleaning.CleaningReport`.
    """
    options = _cleaning_options(dedupe, outlier_columns, iqr_k, by, impute)
    with (
        work_folder("clean", work_dir) as work,
        open_dataset(source, work, on_bad_rows=on_bad_rows, rejects_dir=rejects_dir) as ds,
    ):
        return _clean_into(_Cleaner(ds, work, show_progress=show_progress, **options), out, overwrite)


def _cleaning_options(
    dedupe: object,
    outlier_columns: str | Sequence[str],
    iqr_k: object,
    by: str | Sequence[str] | None,
    impute: object,
) -> dict[str, Any]:
    """``clean_dataset``'s arguments, checked as :func:`~dwcp_data.clean` checks
    them, as a cleaner takes them."""
    one_of(dedupe, (True, False), "dedupe")
    one_of(impute, ("median", None), "impute")
    if not isinstance(iqr_k, (int, float)) or isinstance(iqr_k, bool) or not 0 <= iqr_k < float("inf"):
        raise InvalidArgumentError(
            f"invalid argument `iqr_k`: must be a finite number >= 0, got {iqr_k!r}", param="iqr_k"
        )
    return {
        "dedupe": dedupe,
        "columns": _names(outlier_columns, "outlier_columns") or [],
        "iqr_k": float(iqr_k),
        "by": _names(by, "by", allow_empty=False),
        "impute": impute == "median",
    }


def _clean_into(cleaner: _Cleaner, out: str | os.PathLike[str], overwrite: bool) -> CleaningReport:
    """Runs ``cleaner``'s passes and writes its rows to the folder ``out``
    (see :func:`clean_dataset`); the report."""
    with output_folder(out, inputs=cleaner.ds.inputs, overwrite=overwrite, kind="cleaned") as build:
        cleaner.first_pass()
        report = CleaningReport._from_core(cleaner.run())
        cleaner.write(build)
        build.info["cleaning"] = report.to_dict()
    return report


class _Validation:
    """:func:`~dwcp_data.validate` of a data set given a frame at a time (shards
    or slices, in order): each frame's facts merged into the previous ones."""

    def __init__(
        self,
        profile: Profile,
        min_rows: int,
        max_missing_fraction: float,
        min_class_share: float,
        now: datetime | None,
        max_examples: int,
    ) -> None:
        self.now = utc_datetime(now, "now")
        self.args = (
            profile,
            min_rows,
            float(max_missing_fraction),
            float(min_class_share),
            epoch_us(self.now),
            max_examples,
        )
        self.options = {
            "min_rows": min_rows,
            "max_missing_fraction": max_missing_fraction,
            "min_class_share": min_class_share,
            "now": self.now,
        }
        self.facts: _core.ValidationFacts | None = None

    def facts_of(self, df: pl.DataFrame) -> _core.ValidationFacts:
        """The facts of rows ``df`` (pure: it runs where the rows are)."""
        core_frame, enums = to_core(df)
        return _core.validation_facts(core_frame, enums, *self.args)

    def merge(self, facts: _core.ValidationFacts) -> None:
        """Takes the facts of the next rows of the data set."""
        self.facts = facts if self.facts is None else self.facts.then(facts)

    def add(self, df: pl.DataFrame) -> None:
        """The next rows of the data set."""
        self.merge(self.facts_of(df))

    def report(
        self,
        empty: Callable[[], pl.DataFrame],
        repeated_keys: Callable[[list[str], int], tuple[int, list[int]]],
    ) -> ValidationReport:
        """The report, once every row was added. ``empty`` gives the data's
        columns when no rows were added; ``repeated_keys(key, keep)`` finds the
        repeated keys across the data set for the strict profile (see
        :meth:`Dataset.repeated_keys`)."""
        if self.facts is None:
            self.add(empty())
        assert self.facts is not None
        profile, max_examples = self.args[0], self.args[-1]
        facts = self.facts
        if facts.needs_duplicates:
            facts = facts.with_duplicates(*repeated_keys(list(_core.DUPLICATE_KEY), max_examples))
        results = [RuleResult(**r) for r in facts.results()]
        return ValidationReport(results, profile=profile, n_rows=facts.rows, options=self.options)


def validate_dataset(
    source: DatasetSource,
    *,
    profile: Profile = "document",
    min_rows: int = 10_000,
    max_missing_fraction: float = 0.1,
    min_class_share: float = 0.05,
    now: datetime | None = None,
    max_examples: int = 5,
    on_bad_rows: Literal["raise", "quarantine"] = "raise",
    rejects_dir: str | os.PathLike[str] | None = None,
    work_dir: str | os.PathLike[str] | None = None,
    show_progress: bool | None = None,
) -> ValidationReport:
    """:func:`~dwcp_data.validate` for a data set larger than memory.

    Reads ``source`` (a folder, glob or list of Parquet/CSV shards, or a
    LazyFrame: see :func:`open_dataset`) one shard at a time. Each shard gives the small facts the rules need (null and violation
    counts with the first failing rows, class counts, types), merged shard
    after shard in Rust; the report is the one :func:`~dwcp_data.validate` gives
    on the concatenated data: the same counts, observed values and examples (as
    row numbers in the data set). The strict profile's repeated
    ``(node_id, peer_id, timestamp)`` are found across shards through 128-bit
    key hashes partitioned on disk in ``work_dir`` (default: a temporary folder).
    Bad CSV lines raise, or with ``on_bad_rows="quarantine"`` go to rejects
    files (see :func:`~dwcp_data.read_training_data`).

    Returns:
        A :class:`~dwcp_data.ValidationReport`.
    """
    validation = _Validation(profile, min_rows, max_missing_fraction, min_class_share, now, max_examples)
    with open_dataset(source, work_dir, on_bad_rows=on_bad_rows, rejects_dir=rejects_dir) as ds:
        for i in ds.passes("validate", show_progress):
            for part in ds.slices(i):
                validation.add(part)
        return validation.report(
            lambda: ds.read(0), lambda key, keep: ds.repeated_keys(key, keep, work_dir, show_progress)
        )


def label_dataset(
    source: DatasetSource,
    out: str | os.PathLike[str],
    *,
    cpu_weight: float = 0.0,
    on_bad_rows: Literal["raise", "quarantine"] = "raise",
    rejects_dir: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    work_dir: str | os.PathLike[str] | None = None,
    show_progress: bool | None = None,
) -> int:
    """:func:`~dwcp_data.label_oracle` for a data set larger than memory: each
    shard of ``source`` (files or a LazyFrame, see :func:`open_dataset`)
    labelled into the folder ``out`` (one Parquet shard per input shard, in
    order, and a manifest). ``out`` is written as :func:`clean_dataset`
    writes it: built beside itself, published once whole, never over files
    dwcp-data did not write (unless ``overwrite=True``) nor over its input.

    Returns:
        The number of rows labelled.
    """
    rows = 0
    with (
        open_dataset(source, work_dir, on_bad_rows=on_bad_rows, rejects_dir=rejects_dir) as ds,
        output_folder(out, inputs=ds.inputs, overwrite=overwrite, kind="labelled") as build,
    ):
        for i in ds.passes("label", show_progress):
            name = shard_name(i, len(ds))
            build.rows[name] = _write_slices(
                ds.slices(i), build.file(name), lambda part: label_oracle(part, cpu_weight=cpu_weight)
            )
            rows += build.rows[name]
    return rows
