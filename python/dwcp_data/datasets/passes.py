"""The data-set stages as passes over blocks, written once for every engine.

Each pass runs a *kernel* over every block (see :mod:`dwcp_data.datasets.engine`): a
pure, module-level function of the block and small arguments, which may run
in this process or in a Ray task. Kernels return small partials that the
driver merges with pure functions, so the answers are exactly those of the
in-memory stages on the concatenated data:

* validation: each block's facts (``_core.ValidationFacts``), merged in block order;
* duplicates: 128-bit hashes of whole rows, shuffled by hash (:class:`~dwcp_data.datasets.engine.Shuffle`);
* labels, §8's quality counts and profiles: a kernel per block, merged in block order;
* cleaning: the passes the core's cleaning plan asks for (:mod:`dwcp_data.datasets.cleaner`).

Memory: a kernel holds one slice of its block (the passes over whole rows) or
a few columns of it; the driver holds partials whose size does not depend on
the rows.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from dwcp_data import _core
from dwcp_data._frames import from_core, to_core
from dwcp_data._outputs import FolderBuild, shard_name
from dwcp_data._quality_counts import QualityCounts
from dwcp_data.datasets.engine import Blocks, Runner, Sink, first_rows, in_order
from dwcp_data.datasets.shards import SLICE_ROWS
from dwcp_data.io import conform, stored_columns, write_frames
from dwcp_data.labelling import label_oracle
from dwcp_data.options import ValidationOptions
from dwcp_data.validation import ValidationReport

__all__ = [
    "SLICE_ROWS",
    "BlockChecks",
    "FusedChecks",
    "MergedChecks",
    "Stopwatch",
    "Validation",
    "block_read",
    "block_slices",
    "label_blocks",
    "nan_as_null",
    "profile_blocks",
    "quality_blocks",
    "repeated_keys",
    "validate_blocks",
]


# --- blocks -----------------------------------------------------------------------------------


def block_slices(block: Any, rows: int, columns: Sequence[str] | None = None) -> Iterator[pl.DataFrame]:
    """A block in the schema (as :func:`~dwcp_data.read_training_data` reads
    it), ``columns`` of it, in slices of at most ``rows`` rows (at least one):
    a kernel's memory follows the slice, not the block. A block is a one-shard
    :class:`~dwcp_data.Dataset` or an Arrow table (a ``ray.data`` block)."""
    if _is_arrow(block):
        for first in range(0, max(block.num_rows, 1), rows):
            yield block_read(block.slice(first, rows), columns)
        return
    yield from block.slices(0, columns, rows)


def block_read(block: Any, columns: Sequence[str] | None = None) -> pl.DataFrame:
    """A whole block (``columns`` of it) in the schema (see :func:`block_slices`)."""
    if not _is_arrow(block):
        df: pl.DataFrame = block.read(0, columns)
        return df
    if columns is not None:
        block = block.select(stored_columns(block.column_names, columns))
    df, _ = conform(pl.DataFrame(pl.from_arrow(block)), Path("<a ray.data block>"), False, columns)
    return df


def _is_arrow(block: Any) -> bool:
    """Whether ``block`` is a ``pyarrow.Table`` (asked without importing pyarrow,
    which only the Ray engine needs)."""
    return type(block).__module__.startswith("pyarrow") and type(block).__name__ == "Table"


def nan_as_null(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` with float NaN as null, by the core's rule (only columns holding a NaN are rewritten)."""
    return from_core(_core.nan_as_null(to_core(df)))


# --- fused checks: what a pipeline adds to the cleaning passes ---------------------------------


class BlockChecks(Protocol):
    """What a pipeline computes from each block in the cleaning passes: pure
    functions of the rows (they run where the block is)."""

    def inspect(self, raw: pl.DataFrame) -> Any:
        """A partial result from rows as read, before cleaning."""

    def finish(self, part: pl.DataFrame) -> tuple[pl.DataFrame, Any]:
        """Cleaned rows as written (transformed), and a partial result from them."""


class MergedChecks(Protocol):
    """Where the partial results of :class:`BlockChecks` are merged, in block order."""

    def inspected(self, seen: Any) -> None:
        """Takes the next block's (or slice's) ``BlockChecks.inspect`` result."""

    def finished(self, seen: Any) -> None:
        """Takes the next block's (or slice's) ``BlockChecks.finish`` result."""


@dataclass(frozen=True)
class FusedChecks:
    """What a pipeline fuses into the cleaning passes, named by where it runs:
    ``per_block`` where each block is (its ``inspect`` on the rows as read in
    the first pass, its ``finish`` on the cleaned rows in the writing pass),
    ``merged`` on the driver (the results in block order)."""

    per_block: BlockChecks
    merged: MergedChecks


class Stopwatch:
    """Seconds per named part of a kernel's work, measured where each part
    runs (``with watch("read"): ...``), summed over slices and blocks."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, part: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(part, time.perf_counter() - started)

    def add(self, part: str, seconds: float) -> None:
        """``seconds`` more of ``part``."""
        self.seconds[part] = self.seconds.get(part, 0.0) + seconds

    def merge(self, other: dict[str, float]) -> None:
        """Another kernel's seconds."""
        for part, seconds in other.items():
            self.add(part, seconds)


# --- validation -------------------------------------------------------------------------------


class Validation:
    """:func:`~dwcp_data.validate` of a data set given a frame at a time (blocks
    or slices, in order): each frame's facts merged into the previous ones."""

    def __init__(self, options: ValidationOptions) -> None:
        self.options = options.resolved()  # one "now" for every block
        self.facts: _core.ValidationFacts | None = None

    def facts_of(self, df: pl.DataFrame) -> _core.ValidationFacts:
        """The facts of rows ``df`` (pure: it runs where the rows are)."""
        core_frame, enums = to_core(df)
        return _core.validation_facts(core_frame, enums, self.options)

    def merge(self, facts: _core.ValidationFacts) -> None:
        """Takes the facts of the next rows of the data set."""
        self.facts = facts if self.facts is None else self.facts.then(facts)

    def report(
        self,
        empty: Callable[[], pl.DataFrame],
        repeated: Callable[[list[str], int], tuple[int, list[int]]],
    ) -> ValidationReport:
        """The report, once every row was merged. ``empty`` gives the data's
        columns when no rows were; ``repeated(key, keep)`` finds the rows
        repeating an earlier row's ``key`` (the strict profile; see :func:`repeated_keys`)."""
        if self.facts is None:
            self.merge(self.facts_of(empty()))
        assert self.facts is not None
        facts = self.facts
        if facts.needs_duplicates:
            facts = facts.with_duplicates(*repeated(list(_core.DUPLICATE_KEY), self.options.max_examples))
        return ValidationReport.of(facts, self.options)


def facts_kernel(block: Any, slice_rows: int, validation: Validation) -> _core.ValidationFacts | None:
    """A block's validation facts, slice by slice."""
    facts = None
    for df in block_slices(block, slice_rows):
        more = validation.facts_of(df)
        facts = more if facts is None else facts.then(more)
    return facts


def validate_blocks(engine: Runner, blocks: Blocks, validation: Validation) -> ValidationReport:
    """``validation``'s report of every block, facts merged in block order."""
    results = engine.map("validate", facts_kernel, blocks, [(SLICE_ROWS, validation)] * len(blocks))
    for facts in in_order(results, len(blocks)):
        validation.merge(facts)
    return validation.report(
        lambda: blocks.read(0), lambda key, keep: repeated_keys(engine, blocks, key, keep)
    )


def key_hashes_kernel(block: Any, sink: Sink, key: list[str], first_row: int) -> tuple[None, Any]:
    """Sends the hashes of a block's ``key`` columns to ``sink``."""
    sink.add(block_read(block, key), first_row)
    return None, sink.payload()


def repeated_keys(engine: Runner, blocks: Blocks, key: list[str], keep: int) -> tuple[int, list[int]]:
    """Rows whose ``key`` columns repeat an earlier row's: how many, and the
    first ``keep`` (row numbers in the data set), through a shuffle of the keys' hashes."""
    rows = blocks.rows()
    shuffle = engine.shuffle(sum(rows))
    args = [(key, first) for first in first_rows(rows)]
    for _ in engine.map("validate: repeated keys", key_hashes_kernel, blocks, args, shuffle=shuffle):
        pass
    repeats = shuffle.repeats(rows, keep)
    return repeats.count, repeats.first


# --- labelling --------------------------------------------------------------------------------


def label_kernel(block: Any, slice_rows: int, path: Path, cpu_weight: float) -> int:
    """A block labelled into the Parquet file ``path`` a slice at a time; the rows written."""
    slices = block_slices(block, slice_rows)
    return write_frames((label_oracle(df, cpu_weight=cpu_weight) for df in slices), path)[1]


def label_blocks(engine: Runner, blocks: Blocks, out: FolderBuild, cpu_weight: float) -> int:
    """Every block labelled into the folder being built, one shard per block; the rows labelled."""
    names = [shard_name(i, len(blocks)) for i in range(len(blocks))]
    args = [(SLICE_ROWS, out.file(name), float(cpu_weight)) for name in names]
    for i, rows in engine.map("label", label_kernel, blocks, args):
        out.rows[names[i]] = rows
    return sum(out.rows[name] for name in names)


# --- §8's figures -----------------------------------------------------------------------------


def quality_kernel(block: Any, slice_rows: int) -> QualityCounts:
    """A block's §8 counts, a slice at a time."""
    counts = QualityCounts()
    for df in block_slices(block, slice_rows):
        counts.add(df)
    return counts


def quality_blocks(engine: Runner, blocks: Blocks) -> QualityCounts:
    """Every block's §8 counts, merged in block order."""
    counts = QualityCounts()
    for part in in_order(
        engine.map("quality", quality_kernel, blocks, [(SLICE_ROWS,)] * len(blocks)), len(blocks)
    ):
        counts.merge(part)
    return counts


# --- profiles ---------------------------------------------------------------------------------


def profile_kernel(block: Any, slice_rows: int, by: list[str]) -> _core.Profile:
    """A block's profile (see :mod:`dwcp_data.profiles`), a slice at a time."""
    found: _core.Profile | None = None
    for df in block_slices(block, slice_rows):
        part = _core.Profile.of(*to_core(df), by)
        found = part if found is None else found.then(part)
    assert found is not None  # a block gives at least one slice
    return found


def profile_blocks(engine: Runner, blocks: Blocks, by: list[str]) -> _core.Profile:
    """Every block's profile, merged in block order."""
    results = engine.map("profile", profile_kernel, blocks, [(SLICE_ROWS, by)] * len(blocks))
    merged: _core.Profile | None = None
    for part in in_order(results, len(blocks)):
        merged = part if merged is None else merged.then(part)
    assert merged is not None  # a data set has a block
    return merged
