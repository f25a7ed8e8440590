"""Cleaning a data set as passes over its blocks, on any engine (see
:mod:`dwcp_data.datasets.passes` for the kernels' contract): the first pass
reads every row once (the core's ``_core.FirstPass`` partial per block:
rows, missing values, groups and link types in order of first appearance;
rows' hashes when duplicates are removed); each block's state (group id,
link id, kept) then stays with the engine while the core's cleaning plan
(``_core.CleaningPlan``) asks for the passes its fences and fills need
(``_core.BlockFence`` applied, then rank partials over the kept rows), and
the last pass writes each block's kept rows with the core's block rule
(``_core.clean_block``). Every decision (which rows a fence drops, how
groups are numbered, what fills a null) is the core's, as in the in-memory
:func:`~dwcp_data.clean`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from dwcp_data import _core
from dwcp_data._frames import from_core, to_core
from dwcp_data._outputs import FolderBuild, shard_name
from dwcp_data.cleaning import CleaningReport
from dwcp_data.datasets.engine import Blocks, Repeats, Runner, Sink, first_rows, in_order
from dwcp_data.datasets.passes import (
    BlockChecks,
    FusedChecks,
    Stopwatch,
    block_read,
    block_slices,
    nan_as_null,
)
from dwcp_data.datasets.shards import SLICE_ROWS
from dwcp_data.io import write_frames
from dwcp_data.options import CleaningOptions

__all__ = ["Cleaner"]

#: A probe of a rank search as ``_core`` takes it: ``(prefix, depth, collect)``.
_Probe = tuple[int, int, bool]


def _bincount(ids: pl.Series, n: int) -> list[int]:
    """How many times each id in ``0..n`` occurs in ``ids``."""
    return [int(c) for c in np.bincount(ids.to_numpy(), minlength=n)] if ids.len() else [0] * n


def _add(a: list[int], b: list[int]) -> list[int]:
    """Two lists of counts added element by element."""
    return [x + y for x, y in zip(a, b, strict=True)]


def _timed(items: Iterator[Any], watch: Stopwatch, part: str) -> Iterator[Any]:
    """``items``, the time each takes to come counted as ``part``."""
    while True:
        with watch(part):
            item = next(items, None)
        if item is None:
            return
        yield item


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
    """What the first cleaning pass found in one block: the core's partial
    (rows, missing values, groups, link types), the block's schema, and what
    the pipeline's checks and the block's reader add."""

    found: _core.FirstPass
    schema: pl.Schema
    seen: list[Any]
    #: Per CSV shard with bad lines, how many were quarantined.
    rejected: dict[str, int]
    #: Seconds of the block's ``read`` and ``clean`` work (see :class:`Stopwatch`).
    seconds: dict[str, float]


def first_pass_kernel(
    block: Any,
    sink: Sink | None,
    slice_rows: int,
    first_row: int,
    by: list[str] | None,
    checks: BlockChecks | None,
) -> tuple[_FirstPass, Any]:
    """A block's first pass: the core's partial of each slice, merged; the
    pipeline's ``checks.inspect`` of each slice; its rows' hashes to ``sink``
    (when duplicates are removed). The seconds spent reading and cleaning."""
    found: _core.FirstPass | None = None
    row, watch, seen, schema = first_row, Stopwatch(), [], pl.Schema()
    for raw in _timed(block_slices(block, slice_rows), watch, "read"):
        seen.append(None if checks is None else checks.inspect(raw))
        with watch("clean"):
            part = _core.FirstPass.of(to_core(raw), by)
            if found is None:
                found, schema = part, raw.schema
            else:
                found.then(part)
            if sink is not None:
                sink.add(nan_as_null(raw), row)
        row += raw.height
    assert found is not None  # a block gives at least one slice
    result = _FirstPass(found, schema, seen, getattr(block, "rejected", {}), watch.seconds)
    return result, None if sink is None else sink.payload()


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
        #: The columns groups are keyed by (``None``: pooled).
        self.by = None if options.by is None else list(options.by)
        #: The groups and link types, numbered as the first pass found them.
        self.groups: _core.GroupTable
        self.links: _core.GroupTable
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
        args = [(*sink_arg, SLICE_ROWS, first, self.by, per_block) for first in firsts]
        results = self.engine.map("clean: rows", first_pass_kernel, blocks, args, shuffle=shuffle)
        merged: _core.FirstPass | None = None
        for found in in_order(results, n):
            if shuffle is None:
                found, _ = found
            # the columns cleaning needs, as clean() checks them
            _core.check_cleaning_columns(self.options, to_core(pl.DataFrame(schema=found.schema)))
            self.schema = found.schema
            if merged is None:
                merged = found.found
            else:
                merged.then(found.found)
            blocks.rejected.update(found.rejected)
            self.watch.merge(found.seconds)
            if self.fused is not None:
                for seen in found.seen:
                    self.fused.merged.inspected(seen)
        assert self.schema is not None and merged is not None
        self.groups, self.links = merged.groups, merged.links
        self.plan = _core.CleaningPlan(
            self.options,
            to_core(pl.DataFrame(schema=self.schema)),
            dict(merged.missing),
            self.groups.keys(),
            self.links.keys() if "link_type" in self.schema else None,
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
