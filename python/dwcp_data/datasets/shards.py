"""A data set's shards: what a folder, glob, list or LazyFrame holds, each
shard's identity checked at every read, and the blocks an engine runs
kernels over (a shard, or consecutive small shards read together).

Memory: one slice of a shard (or a few of its columns) at a time.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeGuard, TypeVar, cast

import polars as pl

from dwcp_data._convert import one_of
from dwcp_data._outputs import work_folder
from dwcp_data._progress import progress
from dwcp_data.errors import DataError, DwcpDataError
from dwcp_data.io import (
    Source,
    conform,
    data_files,
    file_format,
    parquet_errors,
    read_parquet_file,
    read_training_data,
    stored_columns,
    warn_absent,
    write_training_data,
)

__all__ = [
    "GROUP_ROWS",
    "SLICE_ROWS",
    "SMALL_SHARD_ROWS",
    "Dataset",
    "DatasetSource",
    "Shard",
    "ShardBlocks",
    "ShardGroup",
    "named_paths",
    "open_dataset",
]

_T = TypeVar("_T")

#: Rows read, transformed and written at a time by the passes over whole rows.
SLICE_ROWS = 1 << 20

#: Shards under this many rows are read together with their neighbours (see
#: :meth:`Dataset.block_ranges`), in blocks of at most ``GROUP_ROWS`` rows.
SMALL_SHARD_ROWS = 1000
GROUP_ROWS = 1 << 16
#: The column naming each row's file when several shards are counted in one read.
_FILE_COLUMN = "\x00dwcp_data_file"


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


def _all_shards(source: object) -> TypeGuard[tuple[Shard, ...]]:
    """Whether ``source`` is a non-empty tuple of :class:`Shard` records (a
    block), not a tuple of paths a user gave."""
    return isinstance(source, tuple) and bool(source) and all(isinstance(s, Shard) for s in source)


class Dataset:
    """The shards of a data set, in order: a folder of ``.parquet``/``.csv``
    files (name order), a glob, or a list of those.

    Each shard's identity is recorded when the data set is opened and checked
    at every read (:class:`Shard`). CSV shards are read with ``on_bad_rows``
    (see :func:`~dwcp_data.read_training_data`); :attr:`rejected` counts the
    lines each one quarantined."""

    def __init__(
        self,
        source: Source | Shard | tuple[Shard, ...],
        *,
        on_bad_rows: Literal["raise", "quarantine"] = "raise",
        rejects_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        """``source``: the files; or :class:`Shard` records of an earlier
        ``Dataset`` (a block of it: it may travel to a Ray task)."""
        given: list[str | os.PathLike[str]] = []
        if isinstance(source, Shard):
            self.shards: tuple[Shard, ...] = (source,)
        elif _all_shards(source):
            self.shards = source
        else:
            files = cast(Source, source)
            self.shards = tuple(Shard.of(f) for f in data_files(files))
            given = named_paths(files)
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
        self._layouts: dict[int, tuple[tuple[str, str], ...]] = {}
        for f in self.files:
            file_format(f, "source")

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
        if file_format(file, "source") == "parquet":
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
        at most ``rows`` rows (default ``SLICE_ROWS``), in order; an empty shard is
        one empty slice. Parquet shards are read a slice at a time (only the
        row groups holding it), so memory follows the slice, not the shard."""
        rows = rows or SLICE_ROWS
        if file_format(self.files[i], "source") != "parquet":
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
        wanted = stored_columns(list(self._stored(i)), columns)
        df, missing = self._checked(
            i, lambda: conform(read_parquet_file(file, wanted, rows), file, False, columns)
        )
        if columns is None and missing and (rows is None or rows[0] == 0):
            warn_absent(file, missing)
        return df

    def _stored(self, i: int) -> dict[str, pl.DataType]:
        """The columns Parquet shard ``i`` stores, read from its footer once."""
        if i not in self._schemas:
            file = self.files[i]

            def schema() -> dict[str, pl.DataType]:
                with parquet_errors(file):
                    return dict(pl.scan_parquet(file, glob=False).collect_schema())  # a name, never a pattern

            self._schemas[i] = self._checked(i, schema)
        return self._schemas[i]

    def rows(self) -> list[int]:
        """Rows per shard (Parquet: from the footers, without reading the data;
        consecutive shards storing the same columns counted in one call), counted
        once: a CSV shard has to be read for it."""
        if self._rows is None:
            self._rows = [n for run in self._layout_runs() for n in self._count(run)]
        return self._rows

    def _layout_runs(self) -> list[range]:
        """The shards as runs of consecutive Parquet shards that store the same
        columns (a CSV shard is a run of its own)."""
        runs: list[range] = []
        for i in range(len(self)):
            if runs and self._alike(runs[-1].start, i):
                runs[-1] = range(runs[-1].start, i + 1)
            else:
                runs.append(range(i, i + 1))
        return runs

    def _alike(self, i: int, j: int) -> bool:
        """Whether shards ``i`` and ``j`` are Parquet shards storing the same columns and types."""
        parquet = all(file_format(self.files[k], "source") == "parquet" for k in (i, j))
        return parquet and self._layout(i) == self._layout(j)

    def _layout(self, i: int) -> tuple[tuple[str, str], ...]:
        """Parquet shard ``i``'s stored columns and types, as a key quick to compare."""
        if i not in self._layouts:
            self._layouts[i] = tuple((name, repr(dtype)) for name, dtype in self._stored(i).items())
        return self._layouts[i]

    def _count(self, run: range) -> list[int]:
        """Rows of each shard of ``run`` (see :meth:`_layout_runs`)."""
        first = self.files[run.start]
        if file_format(first, "source") != "parquet":
            return [self.read(run.start).height]
        if len(run) == 1:

            def count() -> int:
                with parquet_errors(first):
                    return int(pl.scan_parquet(first, glob=False).select(pl.len()).collect().item())

            return [self._checked(run.start, count)]
        files = [self.files[i] for i in run]
        try:
            with parquet_errors(first):
                found = dict(
                    pl.scan_parquet(files, include_file_paths=_FILE_COLUMN, glob=False)
                    .group_by(_FILE_COLUMN)
                    .len()
                    .collect()
                    .iter_rows()
                )
        except DwcpDataError:  # count them one by one, so that the error names its file
            return [n for i in run for n in self._count(range(i, i + 1))]
        for i in run:
            self.shards[i].check()
        return [int(found.get(str(f), 0)) for f in files]

    def passes(self, label: str, show_progress: bool | None) -> Iterator[int]:
        """Shard indices, with a progress bar named ``label``."""
        return progress(range(len(self.shards)), label, enabled=show_progress)

    def block(self, shards: range, spill: Path | None = None) -> Dataset | ShardGroup:
        """Shards ``shards`` as one block of an engine (it travels to where its
        kernel runs), with what this data set knows of them: a one-shard
        ``Dataset``, or a :class:`ShardGroup` of several small ones (kept in
        ``spill``, if given, once read)."""
        one = Dataset(
            self.shards[shards.start : shards.stop],
            on_bad_rows=self.on_bad_rows,
            rejects_dir=self.rejects_dir,
        )
        one.rejected = self.rejected  # in this process, a shard's bad lines are quarantined (and told) once
        if self._rows is not None:
            one._rows = self._rows[shards.start : shards.stop]
        one._schemas = {k: self._schemas[i] for k, i in enumerate(shards) if i in self._schemas}
        if len(shards) == 1:
            return one
        return ShardGroup(one, None if spill is None else spill / f"block-{shards.start:06d}.arrow")

    def block_ranges(self) -> list[range]:
        """The shards as blocks: a shard of :data:`SMALL_SHARD_ROWS` rows or more
        is a block of its own; consecutive smaller ones that store the same
        columns make one block of at most :data:`GROUP_ROWS` rows, read (and
        written) together: a file costs about a millisecond to open, more than
        its rows cost to process."""
        rows = self.rows()
        blocks: list[range] = []
        for run in self._layout_runs():
            group_rows = GROUP_ROWS + 1  # rows of the last block while it may grow; more when it may not
            for i in run:
                if group_rows + rows[i] <= GROUP_ROWS and rows[i] < SMALL_SHARD_ROWS:
                    blocks[-1] = range(blocks[-1].start, i + 1)
                    group_rows += rows[i]
                else:
                    blocks.append(range(i, i + 1))
                    group_rows = rows[i] if rows[i] < SMALL_SHARD_ROWS else GROUP_ROWS + 1
        return blocks

    def as_blocks(self, spill: Path | None = None) -> ShardBlocks:
        """The shards as an engine's blocks (see :meth:`block_ranges`); groups
        of small shards are kept in the folder ``spill`` once read, if given."""
        return ShardBlocks(self, spill)


class ShardGroup:
    """Consecutive small Parquet shards that store the same columns, as one
    block: read in one call and conformed once (about 0.2 ms a file, where a
    file read on its own costs 1–2 ms), and with ``spill`` kept there in Arrow
    IPC (LZ4) after the first read, so that later passes read one file: the
    work folder then holds about the small shards' rows once more (on
    synthetic rows 1.2 times their Parquet size). Each shard's
    identity is still checked at every read (see :class:`Shard`); a read that
    fails is done again shard by shard, so that the error names its file."""

    def __init__(self, shards: Dataset, spill: Path | None) -> None:
        self.shards = shards
        self.spill = spill

    def __len__(self) -> int:
        return len(self.shards)

    def __repr__(self) -> str:
        return f"ShardGroup({len(self.shards)} shards, {sum(self.shards.rows()):,} rows)"

    def __getstate__(self) -> dict[str, Any]:
        return {"shards": self.shards, "spill": None}  # the spill folder is this machine's

    def read(self, _: int = 0, columns: Sequence[str] | None = None) -> pl.DataFrame:
        """The group's rows in the schema, ``columns`` of them (the index is the
        block's own, 0, as for a one-shard :class:`Dataset`)."""
        for shard in self.shards.shards:
            shard.check()
        if self.spill is not None and self.spill.exists():
            df = (
                pl.read_ipc(self.spill) if columns is None else pl.read_ipc(self.spill, columns=list(columns))
            )
            df = df if columns is None else df.select(columns)
        else:
            df = self._read_shards()
            if self.spill is not None:
                df.write_ipc(self.spill.with_suffix(".tmp"), compression="lz4")
                os.replace(self.spill.with_suffix(".tmp"), self.spill)
            df = df if columns is None else df.select(columns)
        for shard in self.shards.shards:
            shard.check()
        return df

    def slices(
        self, _: int = 0, columns: Sequence[str] | None = None, rows: int | None = None
    ) -> Iterator[pl.DataFrame]:
        """:meth:`read` in slices of at most ``rows`` rows (one empty slice when empty)."""
        df = self.read(0, columns)
        rows = rows or SLICE_ROWS
        yield from (df.slice(k, rows) for k in range(0, max(df.height, 1), rows))

    def _read_shards(self) -> pl.DataFrame:
        files = list(self.shards.files)
        try:
            with parquet_errors(files[0]):
                raw = pl.read_parquet(files, glob=False)  # names, never patterns
            df, missing = conform(raw, files[0], False)
        except DwcpDataError:
            return pl.concat([self.shards.read(i) for i in range(len(files))])
        if missing:
            warn_absent(files[0], missing, others=len(files) - 1)
        return df


class ShardBlocks:
    """A data set's shards as an engine's blocks (see ``dwcp_data.datasets.engine.Blocks``
    and :meth:`Dataset.block_ranges`), read where their kernels run."""

    def __init__(self, ds: Dataset, spill: Path | None = None) -> None:
        self.ranges = ds.block_ranges()  # footers read once, here, and handed to the blocks
        rows = ds.rows()
        self._rows = [sum(rows[i] for i in r) for r in self.ranges]
        self.blocks: list[Any] = [ds.block(r, spill) for r in self.ranges]
        self.files = ds.files
        self.inputs = ds.inputs
        self.rejected: dict[str, int] = ds.rejected

    def __len__(self) -> int:
        return len(self.blocks)

    def __repr__(self) -> str:
        return f"ShardBlocks({len(self.blocks)} blocks of {len(self.files)} shards)"

    def rows(self) -> list[int]:
        """Rows per block."""
        return self._rows

    def read(self, i: int, columns: Sequence[str] | None = None) -> pl.DataFrame:
        """Block ``i`` (``columns`` of it)."""
        df: pl.DataFrame = self.blocks[i].read(0, columns)
        return df


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
#: CSV shards) or a LazyFrame; on the Ray engine also a ``ray.data.Dataset``.
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
