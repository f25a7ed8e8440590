"""Reading and writing training data: CSV and Parquet, files, globs and shard folders."""

from __future__ import annotations

import contextlib
import csv
import glob
import hashlib
import itertools
import os
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal, TypedDict, Union, overload

import polars as pl

from dwcp_data import _core
from dwcp_data._convert import one_of, positive_int
from dwcp_data._frames import FrameLike, to_polars
from dwcp_data._keywords import Unpack, spelled_out
from dwcp_data._outputs import (
    FolderBuild,
    atomic_path,
    check_manifest_files,
    output_folder,
    publish_file,
    shard_name,
    work_folder,
)
from dwcp_data._progress import progress
from dwcp_data.errors import CsvError, DataError, InvalidArgumentError
from dwcp_data.labelling import LABEL_SCHEMA
from dwcp_data.schema import SCHEMA

__all__ = [
    "SHARD_ROWS",
    "ReadKeywords",
    "ReadOptions",
    "ReadReport",
    "atomic_path",
    "lazy_batches",
    "read_training_data",
    "write_frames",
    "write_shards",
    "write_training_data",
]

_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}
#: Every column this package knows: the schema, then the oracle's columns.
KNOWN_SCHEMA: pl.Schema = pl.Schema([*SCHEMA.items(), *LABEL_SCHEMA.items()])
_CSV_DATETIME = "%Y-%m-%dT%H:%M:%S%.6fZ"
#: What :func:`read_training_data` reads: a file, folder or glob, or a list of those.
Source = Union[str, "os.PathLike[str]", Sequence[Union[str, "os.PathLike[str]"]]]


#: Rows per shard when a frame or LazyFrame is written to a folder.
SHARD_ROWS = 5_000_000
#: Rows per batch streamed from a LazyFrame (and per slice of a frame) into shards.
_BATCH_ROWS = 1 << 20

#: Rows under which a file of one frame is written directly (see :func:`write_frames`).
_DIRECT_ROWS = 1 << 16

#: Parquet's zstd level: level 1 makes files within 1% of level 3's (the
#: default) on these metrics and writes them 1.6x faster.
_ZSTD_LEVEL = 1


def file_format(path: Path, param: str) -> str:
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InvalidArgumentError.of(
            param, f"cannot tell the format of {str(path)!r}; use one of {', '.join(sorted(_FORMATS))}"
        )
    return fmt


def _ordered(df: pl.DataFrame) -> pl.DataFrame:
    """Known columns in schema order first, then any others in their order."""
    known = [c for c in KNOWN_SCHEMA.names() if c in df.columns]
    return df.select(known + [c for c in df.columns if c not in KNOWN_SCHEMA])


def write_training_data(
    df: FrameLike, path: str | os.PathLike[str], *, shard_rows: int = SHARD_ROWS, overwrite: bool = False
) -> Path:
    """Write ``df`` (a polars or pandas DataFrame, LazyFrame or pyarrow Table)
    to ``path`` atomically (temporary file, then rename).

    The format follows the suffix: ``.parquet``/``.pq`` is Parquet (zstd level 1,
    with column statistics), ``.csv`` is CSV with a header in §2.1's column order and
    ISO 8601 UTC timestamps to the microsecond. Schema columns come first, in
    order, then the oracle's columns, then any others.

    Any other ``path`` (see :func:`is_folder`: ``out``, ``data.v2``, an existing folder) gets a folder of
    Parquet shards of ``shard_rows`` rows, ``part-00000.parquet``, … (at
    least one) and a manifest, ``_dwcp_manifest.json`` (the files, their rows
    and bytes). The folder is built beside ``path`` and appears once complete.
    An existing folder is replaced only if it is empty or an earlier output of
    ours (its manifest lists everything in it); any other needs
    ``overwrite=True``, which replaces it and all it holds. A LazyFrame is
    then streamed: its plan runs once, a batch at a time, and memory stays
    that of a batch, whatever its size.

    Returns:
        The path written.

    Raises:
        dwcp_data.errors.InvalidArgumentError: unknown suffix, ``shard_rows``
            not a positive whole number, or a folder ``path`` that holds files
            dwcp-data did not write (``param="path"``).
    """
    path = Path(path)
    if is_folder(path):
        positive_int(shard_rows, "shard_rows")
        if isinstance(df, pl.LazyFrame):
            write_shards(lazy_batches(df), path, df.collect_schema(), shard_rows, overwrite=overwrite)
        else:
            frame = to_polars(df)
            slices = (frame.slice(k, _BATCH_ROWS) for k in range(0, frame.height, _BATCH_ROWS))
            write_shards(slices, path, frame.schema, shard_rows, overwrite=overwrite)
        return path
    fmt = file_format(path, "path")
    ordered = _ordered(to_polars(df))
    with atomic_path(path) as tmp:
        if fmt == "parquet":
            ordered.write_parquet(tmp, compression="zstd", compression_level=_ZSTD_LEVEL, statistics=True)
        else:
            ordered.write_csv(tmp, datetime_format=_CSV_DATETIME)
    return path


def lazy_batches(lf: pl.LazyFrame) -> Iterator[pl.DataFrame]:
    """The rows of ``lf`` a batch at a time, its plan run once by the streaming
    engine: ``LazyFrame.collect_batches`` where Polars has it, else (Polars
    1.32 lacks it) a temporary Parquet file sunk by the streaming engine and
    read back a slice at a time."""
    if hasattr(lf, "collect_batches"):
        yield from lf.collect_batches(chunk_size=_BATCH_ROWS)
        return
    with work_folder("lazy") as tmp:
        file = tmp / "rows.parquet"
        lf.sink_parquet(file)
        rows = pl.scan_parquet(file).select(pl.len()).collect().item()
        for k in range(0, rows, _BATCH_ROWS):
            yield pl.scan_parquet(file).slice(k, _BATCH_ROWS).collect()


def is_folder(path: str | os.PathLike[str]) -> bool:
    """Whether an output ``path`` names a folder of shards: the one rule that
    :func:`write_training_data`, :func:`~dwcp_data.run_pipeline`, the data-set
    stages and the CLI follow. A path is a file when it ends in a data file's
    suffix (``.parquet``, ``.pq``, ``.csv``, any case) and is not an existing
    folder; anything else is a folder (``out``, ``training.2026-11``, ``data.v2``)."""
    path = Path(path)
    return path.is_dir() or path.suffix.lower() not in _FORMATS


def write_shards(
    frames: Iterable[pl.DataFrame],
    folder: str | os.PathLike[str],
    schema: pl.Schema,
    shard_rows: int,
    *,
    overwrite: bool = False,
) -> list[Path]:
    """Stream ``frames`` (with ``schema``) into the folder ``folder`` as Parquet
    shards of ``shard_rows`` rows (the last one shorter; one empty shard when
    there are no rows), atomically: the folder appears, or replaces an
    earlier output of ours, once every shard is written (see
    :func:`write_training_data` for what may be replaced).

    Returns:
        The shards written, in order.
    """
    rest = _Rows(frames)
    with output_folder(folder, overwrite=overwrite, param="path") as build:
        count = 0
        while not count or not rest.done():
            name = shard_name(count, 1)
            _, rows = write_frames(rest.take(shard_rows), build.file(name), schema=schema)
            build.rows[name] = rows
            count += 1
        _widen_shard_names(build, count)
    return [build.target / shard_name(i, count) for i in range(count)]


def _widen_shard_names(build: FolderBuild, count: int) -> None:
    """Renames shards streamed as ``part-NNNNN`` to names with enough digits
    for ``count`` shards (past 100,000), so that name order stays shard order."""
    if shard_name(count - 1, count) == shard_name(count - 1, 1):
        return
    for i in range(count):
        old, new = shard_name(i, 1), shard_name(i, count)
        os.rename(build.path / old, build.path / new)
        build.rows[new] = build.rows.pop(old)


class _Rows:
    """The rows of a stream of frames, taken a given number at a time."""

    def __init__(self, frames: Iterable[pl.DataFrame]) -> None:
        self.frames = iter(frames)
        self.carry: pl.DataFrame | None = None

    def done(self) -> bool:
        """Whether no rows are left."""
        while self.carry is None or self.carry.height == 0:
            self.carry = next(self.frames, None)
            if self.carry is None:
                return True
        return False

    def take(self, n: int) -> Iterator[pl.DataFrame]:
        """The next ``n`` rows (fewer at the end), as frames."""
        while n > 0 and not self.done():
            assert self.carry is not None
            frame, self.carry = self.carry.head(n), self.carry.slice(n)
            n -= frame.height
            yield frame


def write_frames(
    frames: Iterable[pl.DataFrame], path: str | os.PathLike[str], schema: pl.Schema | None = None
) -> tuple[Path, int]:
    """Stream ``frames`` (same columns) into one file at ``path``, atomically.

    Only one frame is in memory at a time. Parquet (zstd level 1, statistics) goes
    through Polars' streaming Parquet sink, which encodes columns in parallel
    and sizes row groups itself; CSV gets one header then each frame's rows.
    ``schema`` gives the file's columns when ``frames`` may be empty.

    Returns:
        The path written and the number of rows.

    Raises:
        dwcp_data.errors.InvalidArgumentError: unknown suffix, or no frames
            and no ``schema``.
    """
    path = Path(path)
    fmt = file_format(path, "path")
    ordered = (_ordered(frame) for frame in frames)
    first = next(ordered, None)
    if first is None and schema is None:
        raise InvalidArgumentError.of("schema", "no frames to write, so the file's columns must be given")
    columns = first.schema if first is not None else _ordered(pl.DataFrame(schema=schema)).schema
    # A small first frame may be all there is: it is then written at once, without a
    # streaming plan. A large one is streamed without waiting for the next frame.
    small = first is not None and first.height < _DIRECT_ROWS
    second = next(ordered, None) if small else None
    pulled = [f for f in (first, second) if f is not None]
    direct = first is None or (small and second is None)
    rows = 0

    def counted() -> Iterator[pl.DataFrame]:
        nonlocal rows
        for i, frame in enumerate(itertools.chain(pulled, ordered)):
            if frame.schema != columns:
                raise InvalidArgumentError.of(
                    "frames",
                    f"frame {i} has the columns {dict(frame.schema)}, not those of the file, {dict(columns)}",
                )
            rows += frame.height
            yield frame

    with atomic_path(path) as tmp:
        if fmt == "parquet" and direct:
            (first if first is not None else pl.DataFrame(schema=columns)).write_parquet(
                tmp, compression="zstd", compression_level=_ZSTD_LEVEL, statistics=True
            )
            rows = 0 if first is None else first.height
        elif fmt == "parquet":
            _frame_source(counted, columns).sink_parquet(
                tmp, compression="zstd", compression_level=_ZSTD_LEVEL, statistics=True
            )
        else:
            with open(tmp, "wb") as out:
                for i, frame in enumerate(counted()):
                    frame.write_csv(out, include_header=i == 0, datetime_format=_CSV_DATETIME)
                if first is None:
                    pl.DataFrame(schema=columns).write_csv(out)
    return path, rows


def _frame_source(frames: Callable[[], Iterator[pl.DataFrame]], schema: pl.Schema) -> pl.LazyFrame:
    """A LazyFrame reading the frames that ``frames()`` yields, one at a time
    (Polars asks for them as its streaming engine needs the next rows)."""
    from polars.io.plugins import register_io_source

    def source(
        with_columns: list[str] | None, predicate: pl.Expr | None, n_rows: int | None, batch_size: int | None
    ) -> Iterator[pl.DataFrame]:
        left = n_rows
        for frame in frames():
            if with_columns is not None:
                frame = frame.select(with_columns)
            if predicate is not None:
                frame = frame.filter(predicate)
            if left is not None:
                frame = frame.head(left)
                left -= frame.height
            yield frame
            if left == 0:
                return

    return register_io_source(source, schema=schema)


@dataclass(frozen=True)
class ReadReport:
    """What :func:`read_training_data` read.

    Attributes:
        files: the files read, in order.
        rows: rows returned.
        rejected: per CSV file with bad lines, how many went to its rejects file.
        rejects_files: the rejects files written.
        absent_columns: per file lacking schema columns, those columns (returned as nulls).
    """

    files: tuple[str, ...]
    rows: int
    rejected: dict[str, int] = field(default_factory=dict)
    rejects_files: tuple[str, ...] = ()
    absent_columns: dict[str, tuple[str, ...]] = field(default_factory=dict)


#: What quarantined CSV lines are written to: never read back as input.
_REJECTS_SUFFIX = ".rejects.csv"


def _is_data_file(path: Path) -> bool:
    """A CSV or Parquet file, not a rejects file."""
    return path.suffix.lower() in _FORMATS and not path.name.endswith(_REJECTS_SUFFIX)


def _rejects_path(file: Path, rejects_dir: Path | None) -> Path:
    """Where ``file``'s bad lines go: ``<file>.rejects.csv`` beside it, or in
    ``rejects_dir`` with a hash of its folder, so that shards of the same
    name in different folders never share one."""
    if rejects_dir is None:
        return file.parent / f"{file.name}{_REJECTS_SUFFIX}"
    folder = hashlib.sha256(str(file.parent.resolve()).encode()).hexdigest()[:8]
    return rejects_dir / f"{file.name}.{folder}{_REJECTS_SUFFIX}"


def data_files(source: Source) -> list[Path]:
    """The data files named by a file, a folder of shards, a glob, or a list of those.

    A glob names each file once, however many ways it reaches it (a symlink
    loop under ``**`` reaches a file at ever longer paths)."""
    if isinstance(source, (list, tuple)):
        if not source:
            raise InvalidArgumentError.of("source", "an empty list names no files")
        return [f for s in source for f in data_files(s)]
    if not isinstance(source, (str, os.PathLike)):
        raise InvalidArgumentError.of(
            "source",
            f"expected a file, folder or glob (str or path) or a list of them, got {type(source).__name__}",
        )
    text = os.fspath(source)
    path = Path(text)
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if _is_data_file(p) and not p.name.startswith("."))
        check_manifest_files(path, found)
    elif any(ch in text for ch in "*?[") and not path.is_file():  # a file named so is itself
        seen: set[str] = set()
        found = []
        for p in sorted(glob.glob(text, recursive=True), key=lambda p: (p.count(os.sep), p)):
            real = os.path.realpath(p)
            if _is_data_file(Path(p)) and real not in seen:
                seen.add(real)
                found.append(Path(p))
        found.sort()
    elif path.exists():
        found = [path]
    else:
        raise InvalidArgumentError.of("source", f"{text!r} does not exist")
    if not found:
        raise InvalidArgumentError.of("source", f"no .csv or .parquet files in {text!r}")
    return found


#: A frame read from one file, and the schema columns it lacked (added as nulls).
_Conformed = tuple[pl.DataFrame, tuple[str, ...]]


def conform(
    df: pl.DataFrame, file: Path, keep_unknown_columns: bool, columns: Sequence[str] | None = None
) -> _Conformed:
    """``df`` with the known columns cast to their types and put in order, absent
    schema columns added as nulls (see :func:`read_training_data`); and those
    columns. With ``columns``, only those, in that order (the passes of a data
    set read a few columns of a shard at a time)."""
    schema = df.schema
    _check_column_names(schema.names(), file)
    wanted = None if columns is None else set(columns)
    absent = tuple(c for c in SCHEMA.names() if c not in schema and (wanted is None or c in wanted))
    changes: list[pl.Series | pl.Expr] = [
        _cast(df[name], target, file)
        for name, dtype in schema.items()
        if (target := KNOWN_SCHEMA.get(name)) is not None
        and dtype != target
        and (wanted is None or name in wanted)
    ]
    changes += [pl.lit(None, dtype=SCHEMA[c]).alias(c) for c in absent]
    if changes:
        df = df.with_columns(changes)
    if columns is not None:
        return (df if df.columns == list(columns) else df.select(columns)), absent
    ordered = _ordered(df)
    if not keep_unknown_columns:
        ordered = ordered.select(c for c in ordered.columns if c in KNOWN_SCHEMA)
    return ordered, absent


def _cast(column: pl.Series, target: pl.DataType, file: Path) -> pl.Series:
    """``column`` of ``file`` as the schema type ``target``; ``DataError``
    naming the first value that type cannot hold as it is (a fraction or a
    non-finite float in an integer column is refused, not truncated)."""
    if column.dtype == pl.Null:  # no values at all (an empty or all-null Arrow/pandas block)
        nulls: pl.Series = column.cast(target)
        return nulls
    if column.name == "timestamp":
        return _core.to_utc_timestamps(column)
    failure: Exception | None = None
    bad = None
    if column.dtype.is_float() and target.is_integer():
        fractional = (~column.is_finite() | (column != column.floor())).fill_null(False)
        bad = fractional if fractional.any() else None
    if bad is None:
        try:
            cast: pl.Series = column.cast(target, strict=True)
            return cast
        except pl.exceptions.PolarsError as exc:
            bad, failure = column.cast(target, strict=False).is_null() & column.is_not_null(), exc
    row = int(bad.arg_true()[0]) if bad.any() else None
    where = f": row {row} holds {column[row]!r}" if row is not None else f" ({failure})"
    raise DataError(
        f"{file}: column `{column.name}` cannot be read as {target}{where}",
        column=column.name,
        row=row,
        rule="schema_dtype",
    ) from failure


@contextlib.contextmanager
def parquet_errors(file: Path) -> Iterator[None]:
    """Turns polars' and the OS's errors reading Parquet ``file`` (truncated,
    empty, foreign) into ``DataError`` naming it."""
    try:
        yield
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise DataError(
            f"{file}: not a readable Parquet file ({type(exc).__name__}: {exc})",
            column="",
            row=None,
            rule="parquet",
        ) from None


def stored_columns(stored: Sequence[str], columns: Sequence[str] | None) -> list[str] | None:
    """Which of a file's ``stored`` columns to read for ``columns`` (all:
    ``None``): those it stores, or its first column when it stores none of
    them, so that the read still counts the file's rows (a read of no
    columns has no rows, and the absent columns would come back empty)."""
    if columns is None:
        return None
    wanted = [c for c in columns if c in stored]
    return wanted or list(stored[:1])


def read_parquet_file(
    file: Path, columns: list[str] | None = None, rows: tuple[int, int] | None = None
) -> pl.DataFrame:
    """A Parquet file (``columns`` of it, ``rows = (offset, length)`` of it:
    only the row groups holding them are read); a truncated, empty or foreign
    one raises ``DataError`` naming it."""
    with parquet_errors(file):
        if rows is None:
            return pl.read_parquet(file, columns=columns, glob=False)  # a name, never a pattern
        scan = pl.scan_parquet(file, glob=False)
        return (scan if columns is None else scan.select(columns)).slice(*rows).collect()


def warn_absent(file: Path, missing: Sequence[str], others: int = 0) -> None:
    """Warns that ``file`` (and ``others`` more shards stored alike) lacks the
    schema columns ``missing`` (read as nulls)."""
    also = f" (and {others:,} more shards storing the same columns)" if others else ""
    warnings.warn(f"{file}{also}: schema column(s) absent, read as nulls: {', '.join(missing)}", stacklevel=3)


def _csv_frame(file: Path) -> pl.DataFrame:
    """A CSV file read with the known columns' types; others as strings."""
    with open(file, encoding="utf-8-sig", errors="replace", newline="") as f:
        first = f.readline()
    header = next(csv.reader([first]), [])
    overrides = {
        name: KNOWN_SCHEMA[name] if KNOWN_SCHEMA.get(name, pl.String()).is_numeric() else pl.String()
        for name in header
    }
    # a name with glob characters is read through its handle: polars would take it for a pattern
    source: Path | BinaryIO = open(file, "rb") if any(c in file.name for c in "*?[{") else file  # noqa: SIM115
    try:
        df = pl.read_csv(source, schema_overrides=overrides, infer_schema=False)
    finally:
        if not isinstance(source, Path):
            source.close()
    # polars reads a blank line as a row of nulls; a line without any value is no row.
    empty = pl.all_horizontal(pl.all().is_null())
    return df.filter(~empty) if df.width and df.select(empty.any()).item() else df


#: How much of a CSV file's start is read to judge its encoding and line endings.
_HEAD_BYTES = 1 << 16


def _csv_lines_end_in_cr(file: Path) -> bool:
    """Whether ``file``'s lines end in a lone CR (old Mac style), which polars
    would read as one line; raises ``DataError`` for a file that is not UTF-8
    text (UTF-16 or UTF-32, as some spreadsheet exports are)."""
    with open(file, "rb") as f:
        head = f.read(_HEAD_BYTES)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head:
        raise DataError(
            f"{file}: the file looks UTF-16 or UTF-32 encoded (it holds NUL bytes); dwcp-data reads "
            "UTF-8 CSV files: save it as UTF-8",
            column="",
            row=None,
            rule="csv_encoding",
        )
    return b"\r" in head and b"\n" not in head


#: Schema columns by their lowercase name: what a header's near misses meant.
_BY_LOWER = {name.lower(): name for name in KNOWN_SCHEMA.names()}


def _check_column_names(columns: Sequence[str], file: Path) -> None:
    """Refuses a file whose column names miss the schema's by case or spaces,
    or that has none of the schema's columns (naming the delimiter it seems to
    use): reading it would give rows of nulls."""
    for name in columns:
        meant = _BY_LOWER.get(name.strip().lower())
        if name not in KNOWN_SCHEMA and meant is not None and meant not in columns:
            raise DataError(
                f"{file}: column {name!r} is not `{meant}`: column names must be spelled as the schema "
                "spells them (lowercase, no spaces around them)",
                column=meant,
                row=None,
                rule="column_name",
            )
    if not columns or any(c in KNOWN_SCHEMA for c in columns):
        return
    for separator, what in ((";", "semicolons"), ("\t", "tabs"), ("|", "vertical bars")):
        parts = columns[0].split(separator)
        if len(columns) == 1 and sum(p.strip().lower() in _BY_LOWER for p in parts) >= 2:
            raise DataError(
                f"{file}: the columns are separated by {what} ({separator!r}); dwcp-data reads "
                "comma-separated files",
                column="",
                row=None,
                rule="csv_delimiter",
            )
    shown = ", ".join(repr(c) for c in columns[:4]) + (", ..." if len(columns) > 4 else "")
    raise DataError(
        f"{file}: none of its columns ({shown}) is a column of the schema: not training data, or in "
        "an encoding or layout dwcp-data does not read",
        column="",
        row=None,
        rule="column_name",
    )


def _read_csv(
    file: Path, on_bad_rows: str, rejects_dir: Path | None, keep_unknown_columns: bool
) -> tuple[_Conformed, int, Path | None]:
    """One CSV file: the conformed frame, how many lines were rejected, and the rejects file.

    The file is read by polars; only when that fails (or its lines end in a
    lone CR) does the Rust check find the bad lines, writing the good ones to
    a temporary file beside the rejects file for polars to read: memory holds
    the file's bytes once, then the frame."""
    cr_only = _csv_lines_end_in_cr(file)
    failure: Exception | None = None
    if not cr_only:
        try:
            return conform(_csv_frame(file), file, keep_unknown_columns), 0, None
        except (pl.exceptions.PolarsError, DataError) as exc:
            if isinstance(exc, DataError) and exc.rule in ("column_name", "csv_delimiter"):
                raise  # the whole file, not a line, is at fault
            failure = exc
    rejects = _rejects_path(file, rejects_dir)
    rejects.parent.mkdir(parents=True, exist_ok=True)
    with work_folder("csv", rejects.parent) as work:
        kept, rejected = work / "kept.csv", work / "rejected.csv"
        split = (kept, rejected) if cr_only or on_bad_rows == "quarantine" else None
        try:
            bad = _core.check_csv(file, cr_only, split)
        except DataError as exc:
            raise DataError(f"{file}: {exc}", column=exc.column, row=None, rule=exc.rule) from None
        if bad and on_bad_rows == "raise":
            line, column, message, _, _ = bad[0]
            where = f", column `{column}`" if column else ""
            more = f" ({len(bad) - 1} more bad line(s))" if len(bad) > 1 else ""
            raise CsvError(
                f"{file}, line {line}{where}: {message}{more}", path=str(file), line=line, column=column or ""
            )
        if not bad and failure is not None:
            raise DataError(f"{file}: {failure}", column="", row=None, rule="csv") from failure
        frame = conform(_csv_frame(kept), file, keep_unknown_columns)
        if not bad:
            return frame, 0, None
        publish_file(rejected, rejects)
    warnings.warn(f"{file}: {len(bad)} bad line(s) moved to {rejects}", stacklevel=3)
    return frame, len(bad), rejects


@dataclass(frozen=True)
class ReadOptions:
    """How :func:`read_training_data` reads files: its keywords, with their
    defaults (each is described there).

    Raises:
        dwcp_data.errors.InvalidArgumentError: ``on_bad_rows`` is neither.
    """

    on_bad_rows: Literal["raise", "quarantine"] = "raise"
    rejects_dir: str | os.PathLike[str] | None = None
    keep_unknown_columns: bool = False
    show_progress: bool | None = None

    def __post_init__(self) -> None:
        one_of(self.on_bad_rows, ("raise", "quarantine"), "on_bad_rows")


class ReadKeywords(TypedDict, total=False):
    """:class:`ReadOptions` as keywords, for type checkers (each optional)."""

    on_bad_rows: Literal["raise", "quarantine"]
    rejects_dir: str | os.PathLike[str] | None
    keep_unknown_columns: bool
    show_progress: bool | None


@overload
def read_training_data(
    source: Source, *, report: Literal[False] = ..., **options: Unpack[ReadKeywords]
) -> pl.DataFrame: ...
@overload
def read_training_data(
    source: Source, *, report: Literal[True], **options: Unpack[ReadKeywords]
) -> tuple[pl.DataFrame, ReadReport]: ...
@spelled_out(ReadKeywords, ReadOptions)
def read_training_data(
    source: Source, *, report: bool = False, **options: Unpack[ReadKeywords]
) -> pl.DataFrame | tuple[pl.DataFrame, ReadReport]:
    """Read training data from CSV and Parquet files into the schema.

    ``source`` is a file, a folder of shards (every ``.csv``/``.parquet`` in
    it, in name order), a glob (``"data/*.parquet"``), or a list of those.

    The schema is enforced: known columns (the schema's and the oracle's) are
    cast to their types (``timestamp`` from ISO 8601 strings or epoch
    nanoseconds) and put in §2.1's order; unknown columns are dropped unless
    ``keep_unknown_columns``. A schema column a file does not have comes back
    as nulls, as an InfluxDB export returns fields the server never stored
    (the design document's collector writes no ``node_id``, ``peer_id``,
    ``active_transfers`` or ``hde_throughput_mbps``): a warning and the
    report's ``absent_columns`` name them, and :func:`~dwcp_data.validate`
    reports them as absent (failing only where a rule needs them).

    A CSV line without any value (a blank line) is no row. A line that does not
    fit (a wrong number of fields, an unclosed quote, a value of the wrong
    type, an unknown category) raises
    :class:`~dwcp_data.errors.CsvError` naming the file, line and column. With
    ``on_bad_rows="quarantine"`` such lines go verbatim (after the header) to
    ``<file>.rejects.csv`` beside the file (or ``<file>.<folder hash>.rejects.csv``
    in ``rejects_dir``), a warning gives their count, and the rest is read:
    nothing is silently lost, and good rows plus rejected lines are the file's
    data lines. Rejects files are never read as input.

    Args:
        source: what to read.
        report: also return a :class:`ReadReport`.

    Keyword Args:
        on_bad_rows: ``"raise"`` or ``"quarantine"``.
        rejects_dir: where quarantined lines go (default: beside each file).
        keep_unknown_columns: keep columns the schema does not know.
        show_progress: a progress bar over files (default: when reading many
            files into a terminal).

    Returns:
        The frame, or ``(frame, report)`` with ``report=True``.
    """
    read = ReadOptions(**options)
    files = data_files(source)
    formats = [file_format(f, "source") for f in files]
    reject_to = Path(read.rejects_dir) if read.rejects_dir is not None else None
    frames, rejected, rejects_files, absent = [], {}, [], {}
    for file, fmt in progress(
        list(zip(files, formats, strict=True)), "reading", enabled=read.show_progress, min_items=4
    ):
        if fmt == "parquet":
            frame, missing = conform(read_parquet_file(file), file, read.keep_unknown_columns)
        else:
            (frame, missing), count, rejects = _read_csv(
                file, read.on_bad_rows, reject_to, read.keep_unknown_columns
            )
            if count:
                rejected[str(file)] = count
                rejects_files.append(str(rejects))
        if missing:
            absent[str(file)] = missing
            warn_absent(file, missing)
        frames.append(frame)
    df = frames[0] if len(frames) == 1 else _ordered(pl.concat(frames, how="diagonal"))
    if not report:
        return df
    return df, ReadReport(tuple(map(str, files)), df.height, rejected, tuple(rejects_files), absent)
