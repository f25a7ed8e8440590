"""The data-set stages as passes over blocks, written once for every engine.

Each pass runs a *kernel* over every block (see :mod:`dwcp_data.datasets.engine`): a
pure, module-level function of the block and small arguments, which may run
in this process or in a Ray task. Kernels return small partials that the
driver merges with pure functions, so the answers are exactly those of the
in-memory stages on the concatenated data:

* validation: each block's facts (``_core.ValidationFacts``), merged in block order;
* duplicates: 128-bit hashes of whole rows, shuffled by hash (:class:`~dwcp_data.datasets.engine.Shuffle`);
* quartiles and medians: exact order statistics found digit by digit from
  merged bucket counts over the values' ordered bit patterns (three passes
  for real data, four at most), with pandas' linear interpolation; which
  passes to run, and what their results make of the fences, fill values and
  report, is the core's cleaning plan (``_core.CleaningPlan``);
* group ids: in order of first appearance in the data set, from each block's
  table of groups, merged in block order.

Memory: a kernel holds one slice of its block (the passes over whole rows) or
a few columns of it; the driver holds partials whose size does not depend on
the rows.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import polars as pl

from dwcp_data import _core
from dwcp_data._frames import from_core, to_core
from dwcp_data._outputs import FolderBuild, shard_name
from dwcp_data._quality_counts import QualityCounts
from dwcp_data.cleaning import CleaningReport
from dwcp_data.datasets.engine import Blocks, Repeats, Runner, Sink, first_rows, in_order
from dwcp_data.datasets.shards import SLICE_ROWS
from dwcp_data.io import conform, stored_columns, write_frames
from dwcp_data.labelling import label_oracle
from dwcp_data.options import CleaningOptions, ValidationOptions
from dwcp_data.validation import ValidationReport

__all__ = [
    "SLICE_ROWS",
    "BlockChecks",
    "Cleaner",
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


#: A probe of a rank search as ``_core`` takes it: ``(prefix, depth, collect)``.
_Probe = tuple[int, int, bool]
_ALL: _Probe = (0, 0, False)


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


def _bincount(ids: pl.Series, n: int) -> list[int]:
    """How many times each id in ``0..n`` occurs in ``ids``."""
    return [int(c) for c in np.bincount(ids.to_numpy(), minlength=n)] if ids.len() else [0] * n


def _add(a: list[int], b: list[int]) -> list[int]:
    return [x + y for x, y in zip(a, b, strict=True)]


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


# --- cleaning ---------------------------------------------------------------------------------


def _merge(merged: list[pl.Series], partials: list[pl.Series]) -> list[pl.Series]:
    """Rank partials merged (none: ``[]``); the merge is a sum, so in any order."""
    if not merged:
        return partials
    return _core.merge_rank_partials(merged, partials)


@dataclass
class _Scan:
    """What a pass over blocks gives (see :meth:`Cleaner.scan`): per column its
    partials for its probes and its nulls among the kept rows; per group the
    values the fence judged and the rows it removed. Merges in any order."""

    partials: dict[str, list[pl.Series]]
    nulls: dict[str, int]
    judged: list[int]
    removed: list[int]

    def then(self, other: _Scan) -> _Scan:
        """This scan's blocks and ``other``'s, merged."""
        return _Scan(
            {c: _merge(p, other.partials[c]) for c, p in self.partials.items()},
            {c: n + other.nulls[c] for c, n in self.nulls.items()},
            _add(self.judged, other.judged),
            _add(self.removed, other.removed),
        )


@dataclass
class _FirstPass:
    """What the first cleaning pass found in one block (or slice of it)."""

    rows: int
    schema: pl.Schema
    nulls: dict[str, int]
    groups: pl.DataFrame | None
    links: pl.DataFrame
    seen: list[Any]
    #: Per CSV shard with bad lines, how many were quarantined.
    rejected: dict[str, int] = field(default_factory=dict)
    #: Seconds of the block's ``read`` and ``clean`` work (see :class:`Stopwatch`).
    seconds: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, df: pl.DataFrame, by: list[str] | None, seen: Any) -> _FirstPass:
        # a block without a `by` column has no groups: the driver refuses it by its schema
        grouped = by is not None and all(c in df.columns for c in by)
        return cls(
            df.height,
            df.schema,
            dict(zip(df.columns, df.null_count().row(0), strict=True)),
            df.select(by).unique(maintain_order=True) if grouped else None,
            df.select("link_type").unique(maintain_order=True),
            [seen],
        )

    def then(self, later: _FirstPass) -> _FirstPass:
        """This slice's findings followed by ``later``'s."""
        self.rows += later.rows
        self.nulls = {c: n + later.nulls[c] for c, n in self.nulls.items()}
        if self.groups is not None and later.groups is not None:
            self.groups = pl.concat([self.groups, later.groups]).unique(maintain_order=True)
        self.links = pl.concat([self.links, later.links]).unique(maintain_order=True)
        self.seen += later.seen
        return self


def first_pass_kernel(
    block: Any,
    sink: Sink | None,
    slice_rows: int,
    first_row: int,
    by: list[str] | None,
    checks: BlockChecks | None,
) -> tuple[_FirstPass, Any]:
    """A block's first pass: its schema, nulls, groups and link types; the
    pipeline's ``checks.inspect`` of each slice; its rows' hashes to ``sink``
    (when duplicates are removed). The seconds spent reading and cleaning."""
    found: _FirstPass | None = None
    row, watch = first_row, Stopwatch()
    for raw in _timed(block_slices(block, slice_rows), watch, "read"):
        seen = None if checks is None else checks.inspect(raw)
        with watch("clean"):
            df = nan_as_null(raw)
            part = _FirstPass.of(df, by, seen)
            found = part if found is None else found.then(part)
            if sink is not None:
                sink.add(df, row)
        row += df.height
    assert found is not None  # a block gives at least one slice
    found.rejected = getattr(block, "rejected", {})
    found.seconds = watch.seconds
    return found, None if sink is None else sink.payload()


def _timed(items: Iterator[Any], watch: Stopwatch, part: str) -> Iterator[Any]:
    """``items``, the time each takes to come counted as ``part``."""
    while True:
        with watch(part):
            item = next(items, None)
        if item is None:
            return
        yield item


def state_kernel(
    block: Any, first_row: int, groups: _core.GroupTable, links: _core.GroupTable, repeats: Repeats | None
) -> tuple[pl.DataFrame, tuple[list[int], list[int]]]:
    """A block's state (``gid``, ``lid``, ``keep``: not a repeat) and its rows per group and link type."""
    df = block_read(block, sorted({*(groups.by or []), "link_type"}))
    keep = np.ones(df.height, dtype=bool) if repeats is None else ~repeats.flags(first_row, df.height)
    core_frame = to_core(df)
    state = pl.DataFrame({"gid": groups.ids(core_frame), "lid": links.ids(core_frame), "keep": keep})
    return state, (_bincount(state["gid"], groups.count()), _bincount(state["lid"], links.count()))


def scan_kernel(
    block: Any,
    state: pl.DataFrame,
    columns: list[str],
    fence: _core.BlockFence | None,
    probes: dict[str, list[tuple[int, _Probe]]],
    n: int,
    grouped: bool,
) -> Any:
    """One block's part of a scan: ``fence`` applied to the rows ``state``
    keeps, then each column's partials for its probes over the kept rows (NaN
    as null). With a fence, ``(new state, scan)``; else the scan."""
    df = nan_as_null(block_read(block, columns))
    judged, removed = [0] * n, [0] * n
    if fence is not None:  # the core's fence rule, which the in-memory clean applies too
        applied = fence.apply(df[fence.column], state["gid"], state["keep"])
        judged, removed = applied.judged, applied.removed
        state = pl.DataFrame([state["gid"], state["lid"], applied.keep])
    keep = state["keep"]
    kept = {column: df[column].filter(keep) for column in probes}
    gids = state["gid"].filter(keep) if grouped else None
    partials = {column: _core.rank_partials(kept[column], gids, ps) for column, ps in probes.items()}
    nulls = {column: kept[column].null_count() for column in probes}
    scan = _Scan(partials, nulls, judged, removed)
    return scan if fence is None else (state, scan)


def kept_counts_kernel(
    block: Any, state: pl.DataFrame, links: int, groups: int
) -> tuple[int, list[int], list[int]]:
    """A block's kept rows: all, per link type, per group."""
    kept = state.filter(pl.col("keep"))
    return kept.height, _bincount(kept["lid"], links), _bincount(kept["gid"], groups)


def write_kernel(
    block: Any,
    state: pl.DataFrame,
    slice_rows: int,
    fills: list[tuple[str, float]],
    checks: BlockChecks | None,
    path: Path,
) -> tuple[int, list[Any], dict[str, float]]:
    """A block's cleaned rows written to the Parquet file ``path`` a slice at
    a time: of each slice (as read) the rows the state keeps, NaN as null,
    nulls filled by ``fills``, then ``checks.finish``-ed. The rows written, the
    ``finish`` results of the slices in order, and the seconds spent reading,
    cleaning and writing (each measured where it happens)."""
    keep = state["keep"]
    seen: list[Any] = []
    watch = Stopwatch()

    def cleaned() -> Iterator[pl.DataFrame]:
        first = 0
        for df in _timed(block_slices(block, slice_rows), watch, "read"):
            with watch("clean"):  # the core's rules, as the in-memory clean applies them
                part = from_core(_core.clean_block(to_core(df), keep.slice(first, df.height), fills))
            first += df.height
            if checks is not None:
                part, finished = checks.finish(part)
                seen.append(finished)
            with watch("write"):  # the writer's turn: until it asks for the next slice
                yield part

    rows = write_frames(cleaned(), path)[1]
    return rows, seen, watch.seconds


class Cleaner:
    """One :func:`~dwcp_data.clean` of a data set on an engine: passes of
    kernels over its blocks, as the core's cleaning plan
    (``_core.CleaningPlan``) asks for them; the blocks' states stay with the
    engine."""

    def __init__(
        self,
        engine: Runner,
        blocks: Blocks,
        options: CleaningOptions,
        fused: FusedChecks | None = None,
    ) -> None:
        """``fused``: what a pipeline adds to the passes (see :class:`FusedChecks`)."""
        self.engine, self.blocks, self.options, self.fused = engine, blocks, options, fused
        #: Seconds per part of the work (``read``, ``clean``, ``write``), measured where it runs.
        self.watch = Stopwatch()
        self.groups = _core.GroupTable(None if options.by is None else list(options.by))
        self.links = _core.GroupTable(["link_type"])
        self.schema: pl.Schema | None = None
        self.fills: list[tuple[str, float]] = []

    def first_pass(self) -> None:
        """Reads every row: schema, nulls, groups (numbered in order of first
        appearance), rows' hashes; then each block's state and rows per group."""
        blocks, n = self.blocks, len(self.blocks)
        rows = blocks.rows()
        firsts = first_rows(rows)
        shuffle = self.engine.shuffle(sum(rows)) if self.options.dedupe else None
        sink_arg: tuple[Any, ...] = () if shuffle is not None else (None,)
        per_block = None if self.fused is None else self.fused.per_block
        args = [(*sink_arg, SLICE_ROWS, first, self.groups.by, per_block) for first in firsts]
        results = self.engine.map("clean: rows", first_pass_kernel, blocks, args, shuffle=shuffle)
        nulls: dict[str, int] = {}
        for found in in_order(results, n):
            if shuffle is None:
                found, _ = found
            # the columns cleaning needs, as clean() checks them
            _core.check_cleaning_columns(self.options, to_core(pl.DataFrame(schema=found.schema)))
            self.schema = found.schema
            for column, count in found.nulls.items():
                nulls[column] = nulls.get(column, 0) + count
            if found.groups is not None:
                self.groups.ids(to_core(found.groups))
            self.links.ids(to_core(found.links))
            blocks.rejected.update(found.rejected)
            self.watch.merge(found.seconds)
            if self.fused is not None:
                for seen in found.seen:
                    self.fused.merged.inspected(seen)
        assert self.schema is not None
        groups, links = self.groups.keys(), self.links.keys()
        self.plan = _core.CleaningPlan(
            self.options,
            to_core(pl.DataFrame(schema=self.schema)),
            nulls,
            groups,
            links if "link_type" in self.schema else None,
        )
        repeats = None if shuffle is None else shuffle.repeats(rows, 0)
        args = [(first, self.groups, self.links, repeats) for first in firsts]
        rows_in, links_in = [0] * self.groups.count(), [0] * self.links.count()
        with self.watch("clean"):
            for _, (gids, lids) in self.engine.map("clean: groups", state_kernel, blocks, args, keep=True):
                rows_in, links_in = _add(rows_in, gids), _add(links_in, lids)
        self.duplicates = 0 if repeats is None else repeats.count
        self.rows_in = (sum(rows), rows_in, links_in)

    def scan(
        self,
        label: str,
        probes: dict[str, list[tuple[int, _Probe]]],
        fence: _core.BlockFence | None = None,
        grouped: bool = True,
    ) -> _Scan:
        """One pass: applies ``fence`` (column, bounds per group) to the rows
        still kept, then gives each column's merged partials for its probes
        over the kept rows, per group (or pooled: all in group 0), and its
        nulls there; and per group the values the fence judged and the rows it
        removed. Results merge as they come."""
        n = self.groups.count()
        read = sorted(set(probes) | ({fence.column} if fence else set()))
        args = [(read, fence, probes, n, grouped)] * len(self.blocks)
        total = _Scan({c: [] for c in probes}, dict.fromkeys(probes, 0), [0] * n, [0] * n)
        results = self.engine.map(label, scan_kernel, self.blocks, args, state=True, keep=fence is not None)
        for _, scan in results:
            total = total.then(scan)
        return total

    def run(self) -> CleaningReport:
        """Every pass after the first, as the plan asks for them; the report."""
        plan = self.plan
        with self.watch("clean"):
            while (step := plan.next_pass()) is not None:
                scan = self.scan(step.label, dict(step.probes), step.fence, step.grouped)
                plan.take(
                    [scan.partials[c] for c, _ in step.probes],
                    [scan.nulls[c] for c, _ in step.probes],
                    scan.judged,
                    scan.removed,
                )
            rows_out = self.count_out()
        assert self.schema is not None
        self.fills = plan.fills()
        return CleaningReport._from_core(plan.report(self.duplicates, self.rows_in, rows_out))

    def count_out(self) -> tuple[int, list[int], list[int]]:
        """Kept rows: all, per group, per link type."""
        links, groups, total = [0] * self.links.count(), [0] * self.groups.count(), 0
        args = [(len(links), len(groups))] * len(self.blocks)
        for _, (rows, lids, gids) in self.engine.map(
            "clean: counts", kept_counts_kernel, self.blocks, args, state=True
        ):
            total, links, groups = total + rows, _add(links, lids), _add(groups, gids)
        return total, groups, links

    def write(self, out: FolderBuild) -> None:
        """Each block's kept rows, nulls filled with the medians, into the folder
        being built, one shard per block; the pipeline's ``finish`` results
        merged in block order."""
        n = len(self.blocks)
        names = [shard_name(i, n) for i in range(n)]
        per_block = None if self.fused is None else self.fused.per_block
        args = [(SLICE_ROWS, self.fills, per_block, out.file(name)) for name in names]
        results = self.engine.map("clean: writing", write_kernel, self.blocks, args, state=True)
        for name, (rows, seen, seconds) in zip(names, in_order(results, n), strict=True):
            out.rows[name] = rows
            self.watch.merge(seconds)
            if self.fused is not None:
                for finished in seen:
                    self.fused.merged.finished(finished)
