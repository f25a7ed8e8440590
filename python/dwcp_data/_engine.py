"""Where the data-set stages run: one seam for one machine and a Ray cluster.

A stage (see :mod:`dwcp_data._passes`) is a driver: it asks a :class:`Runner`
to run a *kernel*, a pure function of one block and small arguments, over
every block of a data set, and merges the small results as they arrive. The
engine decides

* where kernels run: one after the other in this process (:class:`LocalRunner`),
  or as Ray tasks (``dwcp_data.ray.RayRunner``);
* where each block's state lives between passes (group ids and kept flags, 9
  bytes a row): here, in memory or the work folder; on Ray, in the object store;
* how rows are shuffled by hash to find the repeated ones (:class:`Shuffle`):
  here, partition files in the work folder; on Ray, partition tasks.

Results come in completion order; merges that depend on the block order (row
numbers, first appearances) go through :func:`in_order`, which holds the few
results that arrive early.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt
import polars as pl

from dwcp_data import _core
from dwcp_data._frames import to_core
from dwcp_data._outputs import work_folder
from dwcp_data._progress import progress
from dwcp_data.engines import LocalEngine, engine_of

__all__ = [
    "ENGINES",
    "Blocks",
    "EngineName",
    "LocalRunner",
    "Repeats",
    "Runner",
    "Shuffle",
    "Sink",
    "engine_for",
    "in_order",
]

#: The engines a stage can run on.
EngineName = Literal["local", "ray"]
ENGINES: tuple[EngineName, ...] = ("local", "ray")

#: Bytes of cleaning state per row (group id, link id, kept flag), and how
#: much of it the local engine keeps in memory rather than in its work folder:
#: the states of up to ~28M rows, which saves a read and a write per block and pass.
STATE_BYTES = 9
STATE_MEMORY = 256 << 20


class Blocks(Protocol):
    """A data set opened by an engine: its blocks in order, and what the
    driver needs to know of them."""

    #: The engine's handle of each block, in order (what kernels are given).
    blocks: list[Any]
    #: The shard files (empty for a ``ray.data.Dataset``'s blocks).
    files: tuple[Path, ...]
    #: What an output must not overlap (see :attr:`dwcp_data.Dataset.inputs`).
    inputs: tuple[str | os.PathLike[str], ...]
    #: Per CSV shard with bad lines, how many were quarantined (after the first pass).
    rejected: dict[str, int]

    def __len__(self) -> int: ...

    def rows(self) -> list[int]:
        """Rows per block."""
        ...

    def read(self, i: int, columns: Sequence[str] | None = None) -> pl.DataFrame:
        """Block ``i`` (``columns`` of it), on the driver."""
        ...


def first_rows(rows: Sequence[int]) -> list[int]:
    """The data-set row number of each block's first row."""
    return list(itertools.accumulate(rows[:-1], initial=0)) if rows else []


class Sink(Protocol):
    """Where a kernel sends the 128-bit hashes of its block's rows (see :class:`Shuffle`)."""

    def add(self, df: pl.DataFrame, first_row: int) -> None:
        """The rows of ``df``, numbered from ``first_row`` in the data set."""

    def payload(self) -> Any:
        """What the kernel returns for the shuffle (``None`` when the sink stored it)."""


class Repeats(Protocol):
    """The rows of a data set that repeat an earlier row (of the hashed columns)."""

    #: How many.
    count: int
    #: The first of them (data-set row numbers, ascending), as many as were asked for.
    first: list[int]

    def flags(self, first_row: int, rows: int) -> npt.NDArray[np.bool_]:
        """Whether each of rows ``first_row .. first_row + rows`` repeats an
        earlier row (called where the kernels run)."""
        ...


class Shuffle(ABC):
    """Row hashes partitioned by hash, then each partition sorted to find the
    rows repeating an earlier one: no process holds all the hashes."""

    def __init__(self, parts: int) -> None:
        self.parts = parts

    @abstractmethod
    def sink(self) -> Sink:
        """What a kernel sends its rows' hashes to (travels with the kernel)."""

    @abstractmethod
    def repeats(self, rows: list[int], keep: int) -> Repeats:
        """The repeated rows, once the hashes of every block (of ``rows`` rows
        each) are in, with the first ``keep`` of them."""


class Runner(ABC):
    """Runs kernels over blocks and keeps each block's state between passes."""

    name: EngineName

    def __init__(self, show_progress: bool | None = None) -> None:
        self.show = show_progress

    @abstractmethod
    def open(
        self,
        source: Any,
        work_dir: str | os.PathLike[str] | None,
        *,
        on_bad_rows: Literal["raise", "quarantine"] = "raise",
        rejects_dir: str | os.PathLike[str] | None = None,
    ) -> contextlib.AbstractContextManager[Blocks]:
        """The blocks of ``source`` (files, a LazyFrame, or an engine's own
        data sets); a LazyFrame is streamed once into temporary shards in ``work_dir``."""

    @abstractmethod
    def map(
        self,
        label: str,
        kernel: Callable[..., Any],
        blocks: Blocks,
        args: Sequence[tuple[Any, ...]],
        *,
        state: bool = False,
        keep: bool = False,
        shuffle: Shuffle | None = None,
    ) -> Iterator[tuple[int, Any]]:
        """``kernel(block_i, [state_i,] [sink,] *args[i])`` for every block
        ``i``, as ``(i, result)`` in the order the results come.

        ``state``: the block's kept state is passed. ``keep``: the kernel
        returns ``(new_state, result)`` and a new state (not ``None``) is kept
        for the block. ``shuffle``: a sink of the shuffle is passed, and the
        kernel returns ``(result, payload)`` for it. ``label`` names the pass
        (a progress bar, where there is one).
        """

    @abstractmethod
    def shuffle(self, rows: int) -> Shuffle:
        """A shuffle for a data set of about ``rows`` rows."""

    @abstractmethod
    def forget(self) -> None:
        """Drops every block's state (the run is over)."""


def in_order(results: Iterable[tuple[int, Any]], n: int) -> Iterator[Any]:
    """The results of blocks ``0 .. n-1`` in block order, whatever order they
    come in: early ones wait (results are small partials)."""
    waiting: dict[int, Any] = {}
    expected = 0
    for i, result in results:
        waiting[i] = result
        while expected in waiting:
            yield waiting.pop(expected)
            expected += 1
    if expected != n:
        raise RuntimeError(f"blocks {sorted(set(range(n)) - set(range(expected)))} gave no result")


class _LocalSink:
    """A sink appending hashes to the partition files of a :class:`_LocalShuffle`."""

    def __init__(self, folder: Path, parts: int) -> None:
        self.folder, self.parts = folder, parts

    def add(self, df: pl.DataFrame, first_row: int) -> None:
        core_frame, enums = to_core(df)
        _core.hash_partitions(core_frame, enums, first_row, str(self.folder), self.parts)

    def payload(self) -> None:
        return None


class _LocalRepeats:
    """Repeated rows found in the partition files of a :class:`_LocalShuffle`."""

    def __init__(self, folder: Path, parts: int, rows: list[int], keep: int) -> None:
        self.folder, self.parts = folder, parts
        self.count = _core.find_duplicates(str(folder), parts)
        self.first: list[int] = []
        for first, n in zip(first_rows(rows), rows, strict=True):
            if len(self.first) >= keep:
                break
            self.first += [
                first + int(r) for r in np.flatnonzero(self.flags(first, n))[: keep - len(self.first)]
            ]

    def flags(self, first_row: int, rows: int) -> npt.NDArray[np.bool_]:
        flags: npt.NDArray[np.bool_] = _core.duplicate_flags(
            str(self.folder), self.parts, first_row, rows
        ).to_numpy()
        return flags


class _LocalShuffle(Shuffle):
    """Partition files in a folder of the work folder: 24 bytes a row on disk."""

    def __init__(self, folder: Path, parts: int) -> None:
        super().__init__(parts)
        self.folder = folder
        folder.mkdir()

    def sink(self) -> Sink:
        return _LocalSink(self.folder, self.parts)

    def repeats(self, rows: list[int], keep: int) -> Repeats:
        return _LocalRepeats(self.folder, self.parts, rows, keep)


class LocalRunner(Runner):
    """Kernels run one after the other in this process; a block's state is
    kept in memory while the data set's fit in :data:`STATE_MEMORY`, else in
    the work folder; shuffles go through partition files there."""

    name: EngineName = "local"

    def __init__(self, work: Path, show_progress: bool | None = None) -> None:
        """``work``: a folder of this run's own (see :func:`~dwcp_data._outputs.work_folder`)."""
        super().__init__(show_progress)
        self.work = work
        self.states: dict[int, Any] = {}
        self._shuffles = itertools.count()
        self._opened = itertools.count()

    @contextlib.contextmanager
    def open(
        self,
        source: Any,
        work_dir: str | os.PathLike[str] | None,
        *,
        on_bad_rows: Literal["raise", "quarantine"] = "raise",
        rejects_dir: str | os.PathLike[str] | None = None,
    ) -> Iterator[Blocks]:
        from dwcp_data.dataset import open_dataset

        spill = self.work / f"blocks-{next(self._opened)}"  # a folder per data set opened
        spill.mkdir()
        with open_dataset(source, work_dir, on_bad_rows=on_bad_rows, rejects_dir=rejects_dir) as ds:
            yield ds.as_blocks(spill=spill)

    def map(
        self,
        label: str,
        kernel: Callable[..., Any],
        blocks: Blocks,
        args: Sequence[tuple[Any, ...]],
        *,
        state: bool = False,
        keep: bool = False,
        shuffle: Shuffle | None = None,
    ) -> Iterator[tuple[int, Any]]:
        in_memory = sum(blocks.rows()) * STATE_BYTES <= STATE_MEMORY
        for i in progress(range(len(args)), label, enabled=self.show):
            given: list[Any] = [self._state(i)] if state else []
            if shuffle is not None:
                given.append(shuffle.sink())
            result = kernel(blocks.blocks[i], *given, *args[i])
            if shuffle is not None:
                result, _ = result  # the sink wrote the hashes to the partition files
            if keep:
                new, result = result
                if new is not None:
                    self._keep(i, new, in_memory)
            yield i, result

    def _state(self, i: int) -> pl.DataFrame:
        kept = self.states[i]
        return pl.read_ipc(kept) if isinstance(kept, Path) else kept

    def _keep(self, i: int, state: pl.DataFrame, in_memory: bool) -> None:
        if in_memory:
            self.states[i] = state
            return
        # a new file, renamed over the old one: a frame read from the old one may map it
        path = self.work / f"state-{i:05d}.arrow"
        state.write_ipc(path.with_suffix(".tmp"))
        os.replace(path.with_suffix(".tmp"), path)
        self.states[i] = path

    def shuffle(self, rows: int) -> Shuffle:
        return _LocalShuffle(self.work / f"shuffle-{next(self._shuffles)}", _core.partition_count(rows))

    def forget(self) -> None:
        self.states.clear()


@contextlib.contextmanager
def engine_for(
    engine: object, work_dir: str | os.PathLike[str] | None = None, show_progress: bool | None = None
) -> Iterator[Runner]:
    """The runner of ``engine`` (a name or an engine object, see
    :mod:`dwcp_data.engines`) for one run, with a work folder of its own in
    ``work_dir`` (default: the system's temporary folder), removed afterwards.
    The Ray engine needs the extra ``dwcp-data[ray]``.

    Raises:
        dwcp_data.errors.InvalidArgumentError: an unknown engine.
    """
    config = engine_of(engine)
    with work_folder(config.name, work_dir) as work:
        if isinstance(config, LocalEngine):
            yield LocalRunner(work, show_progress)
        else:
            from dwcp_data.ray import RayRunner  # the one place the optional Ray backend is imported

            yield RayRunner(work, show_progress, config)
