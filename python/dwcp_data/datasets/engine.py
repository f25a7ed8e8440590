"""Where the data-set stages run: one seam for one machine and a Ray cluster.

A stage (see :mod:`dwcp_data.datasets.passes`) is a driver: it asks a :class:`Runner`
to run a *kernel*, a pure function of one block and small arguments, over
every block of a data set, and merges the small results as they arrive. The
engine decides

* where kernels run: one after the other in this process
  (:class:`~dwcp_data.datasets.local.LocalRunner`), or as Ray tasks
  (:class:`~dwcp_data.datasets.ray.RayRunner`);
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt
import polars as pl

from dwcp_data.datasets.shards import open_dataset
from dwcp_data.engines import EngineName

__all__ = [
    "Blocks",
    "Job",
    "Repeats",
    "Runner",
    "Shuffle",
    "Sink",
    "first_rows",
    "in_order",
]


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


@dataclass(frozen=True)
class Job:
    """A kernel over every block (see :meth:`Runner.map`)."""

    label: str
    kernel: Callable[..., Any]
    blocks: Blocks
    args: Sequence[tuple[Any, ...]]
    state: bool
    keep: bool
    shuffle: Shuffle | None

    def given(self, i: int, state: Callable[[int], Any]) -> list[Any]:
        """What block ``i``'s kernel takes before its own arguments: its kept
        state (from ``state(i)``) when asked for, and a sink of the shuffle."""
        given = [state(i)] if self.state else []
        return given if self.shuffle is None else [*given, self.shuffle.sink()]


class Runner(ABC):
    """Runs kernels over blocks and keeps each block's state between passes."""

    name: EngineName

    def __init__(self, show_progress: bool | None = None) -> None:
        self.show = show_progress

    @contextlib.contextmanager
    def open(
        self,
        source: Any,
        work_dir: str | os.PathLike[str] | None,
        *,
        on_bad_rows: Literal["raise", "quarantine"] = "raise",
        rejects_dir: str | os.PathLike[str] | None = None,
    ) -> Iterator[Blocks]:
        """The blocks of ``source`` (files, a LazyFrame, or an engine's own
        data sets); a LazyFrame is streamed once into temporary shards in ``work_dir``."""
        own = self.own_blocks(source)
        if own is not None:
            yield own
            return
        with open_dataset(source, work_dir, on_bad_rows=on_bad_rows, rejects_dir=rejects_dir) as ds:
            yield ds.as_blocks(spill=self.spill_folder())

    def own_blocks(self, source: Any) -> Blocks | None:
        """The blocks of a data set of the engine's own kind (``None``: not one)."""
        return None

    def spill_folder(self) -> Path | None:
        """Where a newly opened data set keeps its blocks of small shards once
        read (``None``: they are read again each pass)."""
        return None

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
        return self.run(Job(label, kernel, blocks, args, state, keep, shuffle))

    @abstractmethod
    def run(self, job: Job) -> Iterator[tuple[int, Any]]:
        """Runs ``job`` as :meth:`map` says."""

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
