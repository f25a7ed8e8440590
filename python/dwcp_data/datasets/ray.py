"""The data-set stages on a Ray cluster (extra ``dwcp-data[ray]``), with the one-machine answers.

``engine="ray"`` (or ``engine=RayEngine(address=..., num_cpus=...)``, see
:mod:`dwcp_data.engines`) on :func:`~dwcp_data.validate_dataset`,
:func:`~dwcp_data.clean_dataset`, :func:`~dwcp_data.label_dataset`,
:func:`~dwcp_data.quality_metrics` and :func:`~dwcp_data.run_pipeline` runs
every pass of those stages as one Ray task per block (:class:`RayRunner`);
this module is where the optional Ray backend is imported. The passes are the one-machine passes
(``dwcp_data.datasets.passes``): their kernels become Ray tasks, and the driver merges
the tasks' small partials as they arrive (``ray.wait``), with the same merge
functions, so the rows, their order and the reports are exactly the
one-machine ones, whatever the block boundaries. The driver holds one merged
partial per probe, never rows; partials whose merge needs the block order
(validation facts, group tables) wait only until their predecessors arrive.

Blocks:

* a folder, glob or list of shards: one block per shard file (consecutive
  small shards together, see ``Dataset.block_ranges``), read by the task that
  works on it (workers need the files at the same path: a shared
  file system);
* a ``ray.data.Dataset``: its blocks, in order (``materialize`` then
  ``to_arrow_refs``), held in Ray's object store and handed to the Rust
  kernels as Arrow without a copy;
* a ``polars.LazyFrame``: streamed once into temporary shards on the driver.

State and shuffles: each block's state between passes (group ids and kept
flags, 9 bytes a row) is a task result left in the object store; the driver
keeps references. Repeated rows are found by a shuffle of row hashes: each
block's 128-bit hashes split by hash into partitions (24 bytes a row through
the object store), one task per partition sorts its records from every block,
and each block's later task reads its own flags from the partitions' sorted rows.

Growth: the work is ``passes × blocks`` tasks (about 12 passes for the
default cleaning). A task holds one block at most: the passes over whole rows
read it a slice of 1M rows at a time, as on one machine, the others one or
two of its columns. What limits scaling: the pass count (each pass waits for
its slowest block); the driver's serial share, growing with blocks × passes
(about 1.6 ms for Ray to submit each task and 5 ms to merge a block's
partials over a whole pipeline, measured: see BENCHMARKS.md); the hash
shuffle (partition tasks each sorting ``rows / partitions`` records: about
8M); and that every pass rereads each block's columns.

Operations: pass ``engine=RayEngine(address=...)``, or call
``ray.init(address=...)`` (or set ``RAY_ADDRESS``) before the stages, else a
local Ray starts. Workers need the same
``dwcp-data`` wheel. A worker (or a whole node) lost mid-pass is retried by
Ray (tasks are pure functions of their block); the output folder appears only
once the whole run succeeded (written to a folder beside it, then published),
so ``out`` must be on a file system the workers and the driver share.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
import ray
import ray.data
import ray.exceptions

from dwcp_data import _core
from dwcp_data._frames import to_core
from dwcp_data.datasets.engine import Blocks, Job, Repeats, Runner, Shuffle, Sink
from dwcp_data.datasets.passes import block_read
from dwcp_data.datasets.shards import DatasetSource
from dwcp_data.engines import EngineName, RayEngine
from dwcp_data.errors import DwcpDataError, InvalidArgumentError
from dwcp_data.labelling import label_oracle

__all__ = ["RayRunner", "RaySource", "connect", "label", "source_of"]

#: What the Ray stages read: shard files, a LazyFrame, or a ``ray.data.Dataset``.
RaySource = DatasetSource | ray.data.Dataset


def source_of(location: str) -> RaySource:
    """A source named by text, as the CLI and Airflow take it: a URI
    (``s3://...``, ``gs://...``) is read by Ray Data as Parquet
    (``ray.data.read_parquet``), anything else is a folder, glob or file."""
    return ray.data.read_parquet(location) if "://" in location else location


def _get(refs: Any) -> Any:
    """``ray.get(refs)``, a task's ``dwcp_data`` error raised as itself."""
    try:
        return ray.get(refs)
    except ray.exceptions.RayTaskError as exc:
        if isinstance(exc.cause, DwcpDataError):
            raise exc.cause from None
        raise


class _ArrowBlocks:
    """The Arrow blocks of a ``ray.data.Dataset`` in its order, as references
    into the object store (see ``dwcp_data.datasets.engine.Blocks``)."""

    def __init__(self, refs: list[ray.ObjectRef[Any]]) -> None:
        self.blocks: list[Any] = refs
        self.files: tuple[Path, ...] = ()
        self.inputs: tuple[str | os.PathLike[str], ...] = ()
        self.rejected: dict[str, int] = {}
        self._rows: list[int] | None = None

    def __len__(self) -> int:
        return len(self.blocks)

    def __repr__(self) -> str:
        return f"_ArrowBlocks({len(self.blocks)} blocks)"

    def rows(self) -> list[int]:
        if self._rows is None:
            self._rows = _get([_num_rows.remote(b) for b in self.blocks])
        return self._rows

    def read(self, i: int, columns: Sequence[str] | None = None) -> pl.DataFrame:
        return block_read(ray.get(self.blocks[i]), columns)


@ray.remote
def _num_rows(block: pa.Table) -> int:
    return int(block.num_rows)


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


class _RaySink:
    """A sink that keeps a block's row hashes per partition, for the task to return."""

    def __init__(self, parts: int) -> None:
        self.parts = parts
        self.pieces: list[list[bytes]] = [[] for _ in range(parts)]

    def add(self, df: pl.DataFrame, first_row: int) -> None:
        core_frame, enums = to_core(df)
        for bucket, piece in zip(
            self.pieces, _core.hash_records(core_frame, enums, first_row, self.parts), strict=True
        ):
            bucket.append(piece)

    def payload(self) -> tuple[bytes, ...]:
        return tuple(b"".join(p) for p in self.pieces)


class _RayRepeats:
    """Repeated rows found by the partition tasks: each partition's sorted
    rows stay in the object store, where the blocks' tasks read them."""

    def __init__(self, count: int, first: list[int], rows: list[ray.ObjectRef[Any]]) -> None:
        self.count, self.first, self.rows = count, first, rows

    def flags(self, first_row: int, rows: int) -> npt.NDArray[np.bool_]:
        flags = np.zeros(rows, dtype=bool)
        for repeated in ray.get(self.rows):
            lo, hi = np.searchsorted(repeated, [first_row, first_row + rows])
            flags[repeated[lo:hi] - first_row] = True
        return flags


@ray.remote
def _partition_repeats(keep: int, *pieces: bytes) -> tuple[int, np.ndarray, np.ndarray]:
    rows = _core.repeated_rows(list(pieces))
    return len(rows), rows[:keep].copy(), rows


class _RayShuffle(Shuffle):
    """Each block's hashes returned by its task per partition; one task per partition finds its repeats."""

    def __init__(self, parts: int) -> None:
        super().__init__(parts)
        self.pieces: dict[int, list[ray.ObjectRef[Any]]] = {}

    def sink(self) -> Sink:
        return _RaySink(self.parts)

    def repeats(self, rows: list[int], keep: int) -> Repeats:
        blocks = [self.pieces[i] for i in range(len(self.pieces))]
        calls = [
            _partition_repeats.options(num_returns=3).remote(keep, *(b[p] for b in blocks))
            for p in range(self.parts)
        ]
        self.pieces.clear()  # the hash records, freed from the object store once the tasks ran
        counts: list[int] = _get([c[0] for c in calls])
        heads: list[np.ndarray] = _get([c[1] for c in calls])
        first = sorted(int(r) for h in heads for r in h)[:keep]
        return _RayRepeats(sum(counts), first, [c[2] for c in calls])


@ray.remote
def _run(kernel: Callable[..., Any], *args: Any) -> Any:
    """A kernel as a Ray task."""
    return kernel(*args)


@ray.remote
def _run_shuffled(kernel: Callable[..., Any], *args: Any) -> Any:
    """A kernel that hashes rows as a Ray task: each partition's records is a
    return of its own, so that a partition's task fetches only its records."""
    result, payload = kernel(*args)
    return (result, *payload)


class RayRunner(Runner):
    """Kernels as Ray tasks, one per block, all blocks at once; results merged
    as they arrive (``ray.wait``); each block's state left in the object store."""

    name: EngineName = "ray"

    def __init__(
        self, work: Path, show_progress: bool | None = None, config: RayEngine | None = None
    ) -> None:
        """Connects to Ray as ``config`` says (see :class:`~dwcp_data.engines.RayEngine`)."""
        super().__init__(show_progress)
        self.work = work
        self.states: dict[int, ray.ObjectRef[Any]] = {}
        connect(config or RayEngine())

    def own_blocks(self, source: Any) -> Blocks | None:
        if not isinstance(source, ray.data.Dataset):
            return None
        refs = _ordered_blocks(source)
        if not refs:
            raise InvalidArgumentError.of("source", "the Dataset has no blocks")
        return _ArrowBlocks(refs)

    def run(self, job: Job) -> Iterator[tuple[int, Any]]:
        shuffle, keep = job.shuffle, job.keep
        shuffled = isinstance(shuffle, _RayShuffle)
        returns = 2 if keep else (1 + shuffle.parts if shuffled else 1)  # type: ignore[union-attr]
        task = (_run_shuffled if shuffled else _run).options(num_returns=returns, name=job.kernel.__name__)
        pending: dict[Any, int] = {}
        for i, extra in enumerate(job.args):
            given = job.given(i, self.states.__getitem__)
            refs = task.remote(job.kernel, job.blocks.blocks[i], *given, *extra)
            refs = [refs] if returns == 1 else list(refs)
            if keep:
                self.states[i], result = refs
            else:
                result = refs[0]
                if isinstance(shuffle, _RayShuffle):
                    shuffle.pieces[i] = refs[1:]
            pending[result] = i
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                yield pending.pop(ref), _get(ref)

    def shuffle(self, rows: int) -> Shuffle:
        return _RayShuffle(_core.partition_count(rows))

    def forget(self) -> None:
        self.states.clear()


def connect(engine: RayEngine) -> None:
    """``ray.init`` with ``engine``'s settings, unless this process is connected
    already (then the settings must be unset: a connection cannot change).

    Raises:
        dwcp_data.errors.InvalidArgumentError: settings given to a connected process.
    """
    if not ray.is_initialized():
        ray.init(**engine.init_arguments(), log_to_driver=False)
    elif engine.init_arguments():
        raise InvalidArgumentError.of(
            "engine",
            f"this process is connected to Ray already; {engine!r} cannot change the connection "
            "(call ray.shutdown() first, or pass RayEngine() to use the connection as it is)",
        )


def label(ds: ray.data.Dataset, *, cpu_weight: float = 0.0) -> ray.data.Dataset:
    """``ds`` with :func:`~dwcp_data.label_oracle`'s columns, lazily: a
    ``map_batches`` over whole Arrow blocks (labels are row by row, so no block
    order is needed), for Ray Data pipelines that feed training directly. The
    rows come back in the schema (Enum columns as Arrow dictionaries)."""
    weight = float(cpu_weight)

    def labelled(batch: pa.Table) -> pa.Table:
        return label_oracle(block_read(batch), cpu_weight=weight).to_arrow()

    return ds.map_batches(labelled, batch_size=None, batch_format="pyarrow", zero_copy_batch=True)
