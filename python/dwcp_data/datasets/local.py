"""The local engine: kernels one after the other in this process, block
states in memory or the work folder, shuffles through partition files."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from dwcp_data import _core
from dwcp_data._frames import to_core
from dwcp_data._progress import progress
from dwcp_data.datasets.engine import (
    Job,
    Repeats,
    Runner,
    Shuffle,
    Sink,
    first_rows,
)
from dwcp_data.engines import EngineName

__all__ = ["STATE_BYTES", "STATE_MEMORY", "LocalRunner"]

#: Bytes of cleaning state per row (group id, link id, kept flag), and how
#: much of it the local engine keeps in memory rather than in its work folder:
#: the states of up to ~28M rows, which saves a read and a write per block and pass.
STATE_BYTES = 9
STATE_MEMORY = 256 << 20


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

    def spill_folder(self) -> Path:
        spill = self.work / f"blocks-{next(self._opened)}"  # a folder per data set opened
        spill.mkdir()
        return spill

    def run(self, job: Job) -> Iterator[tuple[int, Any]]:
        blocks, args, shuffle = job.blocks, job.args, job.shuffle
        in_memory = sum(blocks.rows()) * STATE_BYTES <= STATE_MEMORY
        for i in progress(range(len(args)), job.label, enabled=self.show):
            given = job.given(i, self._state)
            result = job.kernel(blocks.blocks[i], *given, *args[i])
            if shuffle is not None:
                result, _ = result  # the sink wrote the hashes to the partition files
            if job.keep:
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
