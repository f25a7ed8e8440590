"""The data-set stages on a Ray cluster (extra ``dwcp-data[ray]``), with the one-machine answers.

The out-of-core stages (:mod:`dwcp_data.dataset`) pass over a data set shard
by shard, keeping small partial statistics that merge. Here each pass is one
Ray task per block, all blocks at once, and the driver merges the tasks'
partials in block order with the same merge functions: validation facts
(``ValidationFacts.then``), rank partials (``merge_rank_partials``), counts.
So the rows, their order and the reports are exactly those of
:func:`dwcp_data.clean_dataset` and friends on the same data, whatever the
block boundaries.

Blocks:

* a folder, glob or list of shards: one block per shard file, read by the
  task that works on it (workers need the files at the same path: a shared
  file system);
* a ``ray.data.Dataset``: its blocks, in order (``materialize`` then
  ``to_arrow_refs``), held in Ray's object store and handed to the Rust
  kernels as Arrow without a copy;
* a ``polars.LazyFrame``: streamed once into temporary shards on the driver.

Row numbers need the block order, which ``map_batches`` does not expose, so
each pass is a task per block over the ordered block references; :func:`label`
(row by row) is a lazy ``map_batches``.

Duplicates: every block's rows are hashed (128 bits) and split into
partitions by hash; one task per partition sorts its records from every block
and finds the rows repeating an earlier one (the shuffle of row hashes); each
block then reads its own flags from the partitions' sorted results.

Growth: the work is ``passes × blocks`` tasks (about 12 passes for the
default cleaning: one to read, one for duplicates, two or three per quartile
column, two for medians, one to write). A task holds one block at most: the
passes over whole rows read it a slice of 1M rows at a time, as on one
machine, the others one or two of its columns; plus the block's state (9 bytes
a row, kept in the object store between passes) and partials.
The driver holds partials and references only, never rows: per block and
pass at most a few hundred KiB (rank partials are 65,536 counters per open
quartile search; facts keep at most ``max_examples`` rows; group tables),
merged as they arrive. What limits scaling: the pass count (each pass waits
for its slowest block); the driver's serial share, growing with blocks ×
passes (about 1.6 ms for Ray to submit each task and 5 ms to merge a block's
partials over a whole pipeline, measured: see BENCHMARKS.md); the hash
shuffle (24 bytes a row through the object store, partition tasks each
sorting ``rows / partitions`` records: about 8M); and that every pass rereads
each block's columns.

Operations: call ``ray.init(address=...)`` (or set ``RAY_ADDRESS``) before
these functions, else a local Ray starts. Workers need the same
``dwcp-data`` wheel. A worker lost mid-pass is retried by Ray (tasks are
pure functions of their block); the output folder appears only once the whole
run succeeded (written to a temporary folder beside it, then renamed), so
``out`` must be on a file system the workers and the driver share.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeAlias

import numpy as np
import polars as pl
import pyarrow as pa
import ray
import ray.data
import ray.exceptions

from dwcp_data import _core, dataset, pipeline
from dwcp_data._frames import to_core
from dwcp_data._outputs import FolderBuild, output_folder, shard_name
from dwcp_data.cleaning import DEFAULT_OUTLIER_COLUMNS, CleaningReport
from dwcp_data.dataset import (
    Dataset,
    DatasetSource,
    ShardHooks,
    _bincount,
    _clean_into,
    _Cleaner,
    _cleaning_options,
    _fills,
    _Groups,
    _nan_as_null,
    _Scan,
    _scan_shard,
    _shard_fence,
    _Validation,
    _write_cleaned,
    _write_slices,
    open_dataset,
)
from dwcp_data.errors import DwcpDataError, InvalidArgumentError
from dwcp_data.io import _conform
from dwcp_data.labelling import label_oracle
from dwcp_data.pipeline import PipelineResult
from dwcp_data.validation import Profile, ValidationReport

__all__ = [
    "RayBlocks",
    "RaySource",
    "clean_dataset",
    "label",
    "label_dataset",
    "open_blocks",
    "run_pipeline",
    "source_of",
    "validate_dataset",
]

#: What the Ray stages read: shard files, a LazyFrame, or a ``ray.data.Dataset``.
RaySource = DatasetSource | ray.data.Dataset

#: A block as tasks get it: one shard file (a one-shard ``Dataset``: the file as it
#: was when the run began, and how to read it), or an Arrow table from the object store.
_Block: TypeAlias = "Dataset | pa.Table"


class RayBlocks:
    """The blocks of a data set for Ray tasks, in order: shard files, or the
    object references of a ``ray.data.Dataset``'s Arrow blocks."""

    def __init__(self, blocks: Sequence[Dataset | ray.ObjectRef[Any]], files: Dataset | None = None) -> None:
        """``blocks``: the shards of ``files`` (one ``Dataset`` each), or a Dataset's block references."""
        self.blocks = list(blocks)
        self._files = files
        self.files: tuple[Path, ...] = () if files is None else files.files
        #: What an output must not overlap (see :attr:`Dataset.inputs`).
        self.inputs = () if files is None else files.inputs
        #: Per CSV shard with bad lines, how many were quarantined (known after the first pass).
        self.rejected: dict[str, int] = {}
        self._rows: list[int] | None = None
        #: Rows a task reads, transforms and writes at a time (the one-machine passes' slice).
        self.slice_rows: int = dataset._SLICE

    def __len__(self) -> int:
        return len(self.blocks)

    def __repr__(self) -> str:
        return f"RayBlocks({len(self.blocks)} blocks)"

    def rows(self) -> list[int]:
        """Rows per block (shard files: from their footers, on the driver)."""
        if self._rows is None:
            if self._files is not None:
                self._rows = self._files.rows()
            else:
                self._rows = _get([_num_rows.remote(b) for b in self.blocks])
        return self._rows

    def first_rows(self) -> list[int]:
        """The data-set row number of each block's first row."""
        return list(itertools.accumulate(self.rows()[:-1], initial=0))

    def read(self, i: int, columns: Sequence[str] | None = None) -> pl.DataFrame:
        """Block ``i`` (``columns`` of it), on the driver."""
        block = self.blocks[i]
        return _read_block(block if isinstance(block, Dataset) else ray.get(block), columns)

    def repeated_keys(
        self, key: list[str], keep: int, work_dir: str | os.PathLike[str] | None, show: bool | None
    ) -> tuple[int, list[int]]:
        """Rows whose ``key`` columns repeat an earlier row's: how many, and the
        first ``keep`` (data-set row numbers), through the shuffle of hashes."""
        parts = _core.partition_count(sum(self.rows()))
        records = [
            _returns(_key_records.options(num_returns=parts).remote(b, key, first, parts), parts)
            for b, first in zip(self.blocks, self.first_rows(), strict=True)
        ]
        count, head, _ = _repeats(records, parts, keep)
        return count, head


def source_of(location: str) -> RaySource:
    """A source named by text, as the CLI and Airflow take it: a URI
    (``s3://...``, ``gs://...``) is read by Ray Data as Parquet
    (``ray.data.read_parquet``), anything else is a folder, glob or file."""
    return ray.data.read_parquet(location) if "://" in location else location


@contextlib.contextmanager
def open_blocks(
    source: RaySource,
    work_dir: str | os.PathLike[str] | None = None,
    *,
    on_bad_rows: Literal["raise", "quarantine"] = "raise",
    rejects_dir: str | os.PathLike[str] | None = None,
) -> Iterator[RayBlocks]:
    """The blocks of ``source``: one per shard file (a LazyFrame is first
    streamed into temporary shards in ``work_dir``, as
    :func:`~dwcp_data.dataset.open_dataset` does), or a ``ray.data.Dataset``'s
    blocks, materialised in the object store. CSV shards are read with
    ``on_bad_rows`` and ``rejects_dir`` (see :func:`~dwcp_data.read_training_data`)."""
    if isinstance(source, ray.data.Dataset):
        refs = _ordered_blocks(source)
        if not refs:
            raise InvalidArgumentError("invalid argument `source`: the Dataset has no blocks", param="source")
        yield RayBlocks(refs)
        return
    with open_dataset(source, work_dir, on_bad_rows=on_bad_rows, rejects_dir=rejects_dir) as ds:
        shards = [Dataset(s, on_bad_rows=ds.on_bad_rows, rejects_dir=ds.rejects_dir) for s in ds.shards]
        yield RayBlocks(shards, ds)


def _ordered_blocks(ds: ray.data.Dataset) -> list[ray.ObjectRef[Any]]:
    """``ds``'s Arrow blocks in its order: materialised with the dataset's
    ``preserve_order`` on (Ray Data may otherwise hand blocks out as they finish)."""
    options = ds.context.execution_options
    before = options.preserve_order
    options.preserve_order = True
    try:
        return list(ds.materialize().to_arrow_refs())
    finally:
        options.preserve_order = before


def _get(refs: Any) -> Any:
    """``ray.get(refs)``, a task's ``dwcp_data`` error raised as itself."""
    try:
        return ray.get(refs)
    except ray.exceptions.RayTaskError as exc:
        if isinstance(exc.cause, DwcpDataError):
            raise exc.cause from None
        raise


def _returns(refs: Any, n: int) -> list[Any]:
    """A call's ``n`` return references as a list (Ray gives one bare)."""
    return [refs] if n == 1 else list(refs)


def _read_block(block: _Block, columns: Sequence[str] | None = None) -> pl.DataFrame:
    """A block in the schema (as :func:`~dwcp_data.read_training_data` reads it), ``columns`` of it."""
    if isinstance(block, Dataset):
        return block.read(0, columns)
    if columns is not None:
        block = block.select([c for c in columns if c in block.column_names])
    df, _ = _conform(
        pl.DataFrame(pl.from_arrow(block)), Path("<a ray.data block>"), keep_unknown_columns=False
    )
    return df if columns is None else df.select(columns)


def _slices(block: _Block, rows: int) -> Iterator[pl.DataFrame]:
    """A block as :func:`_read_block` reads it, in slices of at most ``rows``
    rows (at least one): a task's memory follows the slice, not the block."""
    if isinstance(block, Dataset):
        yield from block.slices(0, rows=rows)
        return
    for first in range(0, max(block.num_rows, 1), rows):
        yield _read_block(block.slice(first, rows))


def _repeats(records: list[list[Any]], parts: int, keep: int) -> tuple[int, list[int], list[Any]]:
    """Given each block's partition records, one task per partition finds its
    repeated rows: how many in all, the first ``keep``, and each partition's
    sorted rows (references, left in the object store)."""
    calls = [
        _partition_repeats.options(num_returns=3).remote(keep, *(r[p] for r in records)) for p in range(parts)
    ]
    counts: list[int] = _get([c[0] for c in calls])
    heads: list[np.ndarray] = _get([c[1] for c in calls])
    head = sorted(int(r) for h in heads for r in h)[:keep]
    return sum(counts), head, [c[2] for c in calls]


@ray.remote
def _num_rows(block: pa.Table) -> int:
    return int(block.num_rows)


@ray.remote
def _key_records(block: _Block, key: list[str], first_row: int, parts: int) -> Any:
    core_frame, enums = to_core(_read_block(block, key))
    records = _core.hash_records(core_frame, enums, first_row, parts)
    return records[0] if parts == 1 else tuple(records)


@ray.remote
def _partition_repeats(keep: int, *pieces: bytes) -> tuple[int, np.ndarray, np.ndarray]:
    rows = _core.repeated_rows(list(pieces))
    return len(rows), rows[:keep].copy(), rows


class _FirstPass:
    """What the first cleaning pass found in one block (or slice of it)."""

    def __init__(self, df: pl.DataFrame, by: list[str] | None, seen: Any) -> None:
        self.rows = df.height
        self.schema = df.schema
        self.nulls = dict(zip(df.columns, df.null_count().row(0), strict=True))
        # a block without a `by` column has no groups: the driver refuses it by its schema
        grouped = by is not None and all(c in df.columns for c in by)
        self.groups = df.select(by).unique(maintain_order=True) if grouped else None
        self.links = df.select("link_type").unique(maintain_order=True)
        self.seen = [seen]
        #: Per CSV shard with bad lines, how many were quarantined.
        self.rejected: dict[str, int] = {}

    def then(self, later: _FirstPass) -> _FirstPass:
        """This slice's findings followed by ``later``'s."""
        self.rows += later.rows
        self.nulls = {c: n + later.nulls[c] for c, n in self.nulls.items()}
        if self.groups is not None and later.groups is not None:
            self.groups = pl.concat([self.groups, later.groups]).unique(maintain_order=True)
        self.links = pl.concat([self.links, later.links]).unique(maintain_order=True)
        self.seen += later.seen
        return self


@ray.remote
def _first_pass(
    block: _Block, slice_rows: int, first_row: int, parts: int, by: list[str] | None, hooks: ShardHooks | None
) -> Any:
    found: _FirstPass | None = None
    records: list[list[bytes]] = [[] for _ in range(parts)]
    row = first_row
    for raw in _slices(block, slice_rows):
        seen = None if hooks is None else hooks.inspect(raw)
        df = _nan_as_null(raw)
        part = _FirstPass(df, by, seen)
        found = part if found is None else found.then(part)
        if parts:
            core_frame, enums = to_core(df)
            for bucket, piece in zip(records, _core.hash_records(core_frame, enums, row, parts), strict=True):
                bucket.append(piece)
        row += df.height
    assert found is not None  # a block gives at least one slice
    if isinstance(block, Dataset):
        found.rejected = block.rejected
    return found if not parts else (found, *(b"".join(r) for r in records))


@ray.remote(num_returns=2)
def _state(
    block: _Block, first_row: int, groups: _Groups, links: _Groups, repeats: list[Any]
) -> tuple[pl.DataFrame, tuple[list[int], list[int]]]:
    df = _read_block(block, sorted({*(groups.by or []), "link_type"}))
    keep = np.ones(df.height, dtype=bool)
    for rows in ray.get(repeats):
        lo, hi = np.searchsorted(rows, [first_row, first_row + df.height])
        keep[rows[lo:hi] - first_row] = False
    state = pl.DataFrame({"gid": groups.ids(df), "lid": links.ids(df.select("link_type")), "keep": keep})
    return state, (_bincount(state["gid"], groups.count()), _bincount(state["lid"], links.count()))


@ray.remote(num_returns=2)
def _scan(
    block: _Block,
    state: pl.DataFrame,
    columns: list[str],
    fence: Any,
    probes: dict[str, list[Any]],
    n: int,
    grouped: bool,
) -> tuple[pl.DataFrame | None, _Scan]:
    return _scan_shard(state, _nan_as_null(_read_block(block, columns)), fence, probes, n, grouped)


@ray.remote
def _kept_counts(state: pl.DataFrame, links: int, groups: int) -> tuple[int, list[int], list[int]]:
    kept = state.filter(pl.col("keep"))
    return kept.height, _bincount(kept["lid"], links), _bincount(kept["gid"], groups)


@ray.remote
def _write_block(
    block: _Block,
    slice_rows: int,
    state: pl.DataFrame,
    schema: pl.Schema,
    medians: dict[str, float],
    path: Path,
    hooks: ShardHooks | None,
) -> tuple[int, list[Any]]:
    return _write_cleaned(_slices(block, slice_rows), state["keep"], _fills(schema, medians), hooks, path)


@ray.remote
def _label_block(block: _Block, slice_rows: int, path: Path, cpu_weight: float) -> int:
    return _write_slices(_slices(block, slice_rows), path, lambda df: label_oracle(df, cpu_weight=cpu_weight))


@ray.remote
def _facts(block: _Block, slice_rows: int, validation: _Validation) -> Any:
    facts = None
    for df in _slices(block, slice_rows):
        more = validation.facts_of(df)
        facts = more if facts is None else facts.then(more)
    return facts


class _RayCleaner(_Cleaner):
    """:class:`~dwcp_data.dataset._Cleaner` whose passes are Ray tasks, one per
    block; the driver keeps the partials and the references to each block's
    state (``gid``, ``lid``, ``keep``), which stays in the object store."""

    ds: RayBlocks  # type: ignore[assignment]

    def __init__(self, blocks: RayBlocks, work: Path | None = None, **options: Any) -> None:
        # the state lives in the object store: no work folder
        super().__init__(blocks, Path(os.devnull), **options)  # type: ignore[arg-type]

    def first_pass(self) -> None:
        blocks, firsts = self.ds.blocks, self.ds.first_rows()
        parts = _core.partition_count(sum(self.ds.rows())) if self.dedupe else 0
        work = None if self.hooks is None else self.hooks[0]
        calls = [
            _first_pass.options(num_returns=1 + parts).remote(
                b, self.ds.slice_rows, first, parts, self.groups.by, work
            )
            for b, first in zip(blocks, firsts, strict=True)
        ]
        returns = [_returns(c, 1 + parts) for c in calls]
        for found in _get([r[0] for r in returns]):
            self.check(pl.DataFrame(schema=found.schema))
            for column, n in found.nulls.items():
                self.has_nulls[column] = self.has_nulls.get(column, 0) + n
            if found.groups is not None:
                self.groups.ids(found.groups)
            self.links.ids(found.links)
            self.ds.rejected.update(found.rejected)
            if self.hooks is not None:
                for seen in found.seen:
                    self.hooks[1].inspected(seen)
        duplicates, _, repeats = _repeats([r[1:] for r in returns], parts, 0) if parts else (0, [], [])
        del calls, returns  # the hash records, freed from the object store
        states = [
            _returns(_state.remote(b, first, self.groups, self.links, repeats), 2)
            for b, first in zip(blocks, firsts, strict=True)
        ]
        self.states = [s[0] for s in states]
        rows_in, links_in = [0] * self.groups.count(), [0] * self.links.count()
        for gids, lids in _get([s[1] for s in states]):
            rows_in = [a + b for a, b in zip(rows_in, gids, strict=True)]
            links_in = [a + b for a, b in zip(links_in, lids, strict=True)]
        self.rows_in = sum(self.ds.rows())
        self.counts = (duplicates, rows_in, links_in)

    def scan(
        self,
        label: str,
        columns: list[str],
        probes: dict[str, list[Any]],
        fence: Any = None,
        grouped: bool = True,
    ) -> _Scan:
        n = self.groups.count()
        read = sorted(set(columns) | ({fence[0]} if fence else set()))
        shard_fence = _shard_fence(fence)
        calls = [
            _returns(_scan.remote(b, s, read, shard_fence, probes, n, grouped), 2)
            for b, s in zip(self.ds.blocks, self.states, strict=True)
        ]
        total = _Scan({c: [] for c in probes}, dict.fromkeys(probes, 0), [0] * n, [0] * n)
        for scan in _get([c[1] for c in calls]):
            total = total.then(scan)
        if fence is not None:
            self.states = [c[0] for c in calls]
        return total

    def count_out(self) -> tuple[int, list[int], list[int]]:
        links, groups, total = [0] * self.links.count(), [0] * self.groups.count(), 0
        for rows, lids, gids in _get([_kept_counts.remote(s, len(links), len(groups)) for s in self.states]):
            total += rows
            links = [a + b for a, b in zip(links, lids, strict=True)]
            groups = [a + b for a, b in zip(groups, gids, strict=True)]
        return total, links, groups

    def write(self, out: FolderBuild) -> None:
        assert self.schema is not None
        work = None if self.hooks is None else self.hooks[0]
        names = [shard_name(i, len(self.ds)) for i in range(len(self.ds))]
        calls = [
            _write_block.remote(b, self.ds.slice_rows, s, self.schema, self.medians, out.file(name), work)
            for name, b, s in zip(names, self.ds.blocks, self.states, strict=True)
        ]
        for name, (rows, seen) in zip(names, _get(calls), strict=True):
            out.rows[name] = rows
            if self.hooks is not None:
                for finished in seen:
                    self.hooks[1].finished(finished)


def validate_dataset(
    source: RaySource,
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
) -> ValidationReport:
    """:func:`dwcp_data.validate_dataset` on Ray: each block's validation facts
    in a task, merged in block order on the driver; the strict profile's
    repeated keys through the shuffle of key hashes. The same report as on
    one machine (examples as data-set row numbers).

    ``source``: a ``ray.data.Dataset``, a folder, glob or list of shards, or a
    LazyFrame (see :func:`open_blocks`)."""
    validation = _Validation(profile, min_rows, max_missing_fraction, min_class_share, now, max_examples)
    with open_blocks(source, work_dir, on_bad_rows=on_bad_rows, rejects_dir=rejects_dir) as blocks:
        for facts in _get([_facts.remote(b, blocks.slice_rows, validation) for b in blocks.blocks]):
            validation.merge(facts)
        return validation.report(
            lambda: blocks.read(0), lambda key, keep: blocks.repeated_keys(key, keep, work_dir, None)
        )


def clean_dataset(
    source: RaySource,
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
) -> CleaningReport:
    """:func:`dwcp_data.clean_dataset` on Ray: the same rows in the same order
    in the folder ``out`` (one Parquet shard per block, ``part-00000.parquet``,
    …, and a manifest) and the same report. ``out`` is published as on one
    machine: once every block is written, never over files dwcp-data did not
    write (unless ``overwrite=True``) nor over its input."""
    options = _cleaning_options(dedupe, outlier_columns, iqr_k, by, impute)
    with open_blocks(source, work_dir, on_bad_rows=on_bad_rows, rejects_dir=rejects_dir) as blocks:
        return _clean_into(_RayCleaner(blocks, show_progress=False, **options), out, overwrite)


def label(ds: ray.data.Dataset, *, cpu_weight: float = 0.0) -> ray.data.Dataset:
    """``ds`` with :func:`~dwcp_data.label_oracle`'s columns, lazily: a
    ``map_batches`` over whole Arrow blocks (labels are row by row, so no block
    order is needed), for Ray Data pipelines that feed training directly. The
    rows come back in the schema (Enum columns as Arrow dictionaries)."""
    weight = float(cpu_weight)

    def labelled(batch: pa.Table) -> pa.Table:
        return label_oracle(_read_block(batch), cpu_weight=weight).to_arrow()

    return ds.map_batches(labelled, batch_size=None, batch_format="pyarrow", zero_copy_batch=True)


def label_dataset(
    source: RaySource,
    out: str | os.PathLike[str],
    *,
    cpu_weight: float = 0.0,
    on_bad_rows: Literal["raise", "quarantine"] = "raise",
    rejects_dir: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    work_dir: str | os.PathLike[str] | None = None,
) -> int:
    """:func:`dwcp_data.label_dataset` on Ray: each block labelled by a task
    into the folder ``out`` (one Parquet shard per block, in order, and a
    manifest), published as on one machine. Returns the number of rows labelled."""
    with (
        open_blocks(source, work_dir, on_bad_rows=on_bad_rows, rejects_dir=rejects_dir) as blocks,
        output_folder(out, inputs=blocks.inputs, overwrite=overwrite, kind="labelled") as build,
    ):
        names = [shard_name(i, len(blocks)) for i in range(len(blocks))]
        calls = [
            _label_block.remote(b, blocks.slice_rows, build.file(name), float(cpu_weight))
            for name, b in zip(names, blocks.blocks, strict=True)
        ]
        build.rows.update(zip(names, _get(calls), strict=True))
    return sum(build.rows.values())


def run_pipeline(
    source: RaySource,
    out: str | os.PathLike[str],
    *,
    profile: Literal["document", "strict"] = "document",
    min_rows: int = 10_000,
    on_invalid: Literal["stop", "continue"] = "stop",
    on_bad_rows: Literal["raise", "quarantine"] = "raise",
    by: str | Sequence[str] | None = None,
    cpu_weight: float = 0.0,
    overwrite: bool = False,
) -> PipelineResult:
    """:func:`dwcp_data.run_pipeline` on Ray (``engine="ray"``): ``source`` a
    folder, glob or list of shards, a LazyFrame or a ``ray.data.Dataset``;
    ``out`` a folder. The same data set and report as on one machine."""
    return pipeline.run_pipeline(
        source,  # type: ignore[arg-type]
        out,
        profile=profile,
        min_rows=min_rows,
        on_invalid=on_invalid,
        on_bad_rows=on_bad_rows,
        by=by,
        cpu_weight=cpu_weight,
        show_progress=False,
        engine="ray",
        overwrite=overwrite,
    )
