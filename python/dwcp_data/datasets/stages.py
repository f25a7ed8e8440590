"""The data-set stages: validation, cleaning and labelling of data sets larger
than memory, on any engine, with the in-memory answers."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, TypedDict

from dwcp_data._keywords import Unpack, made_of, spelled_out
from dwcp_data._outputs import check_output_folder, output_folder
from dwcp_data.cleaning import CleaningReport
from dwcp_data.datasets.cleaner import Cleaner
from dwcp_data.datasets.engine import Blocks, Runner
from dwcp_data.datasets.passes import Validation, label_blocks, validate_blocks
from dwcp_data.datasets.runners import engine_for
from dwcp_data.datasets.shards import DatasetSource, named_paths
from dwcp_data.engines import EngineLike
from dwcp_data.options import CleaningKeywords, CleaningOptions, ValidationKeywords, ValidationOptions
from dwcp_data.validation import ValidationReport

__all__ = [
    "CleanDatasetKeywords",
    "StageKeywords",
    "StageSettings",
    "ValidateDatasetKeywords",
    "clean_dataset",
    "label_dataset",
    "validate_dataset",
]


@dataclass(frozen=True)
class StageSettings:
    """How a data-set stage reads its source and where it runs: the keywords
    every stage takes besides its options.

    Attributes:
        on_bad_rows: a CSV line that does not parse raises (``"raise"``) or
            goes to a rejects file (``"quarantine"``, see
            :func:`~dwcp_data.read_training_data`).
        rejects_dir: where rejects files go (default: beside each CSV shard).
        engine: ``"local"``, ``"ray"`` or an engine object (see :mod:`dwcp_data.engines`).
        work_dir: where the run's work folder is made (default: the system's
            temporary folder); that folder is removed afterwards.
        show_progress: draw a bar per pass on standard error (default: when it is a terminal).
    """

    on_bad_rows: Literal["raise", "quarantine"] = "raise"
    rejects_dir: str | os.PathLike[str] | None = None
    engine: EngineLike = "local"
    work_dir: str | os.PathLike[str] | None = None
    show_progress: bool | None = None

    @contextlib.contextmanager
    def blocks(self, source: DatasetSource) -> Iterator[tuple[Runner, Blocks]]:
        """The engine's runner for one run, and the blocks of ``source`` it reads."""
        with (
            engine_for(self.engine, self.work_dir, self.show_progress) as runner,
            runner.open(
                source, self.work_dir, on_bad_rows=self.on_bad_rows, rejects_dir=self.rejects_dir
            ) as blocks,
        ):
            yield runner, blocks


class StageKeywords(TypedDict, total=False):
    """:class:`StageSettings` as keywords, for type checkers (each optional)."""

    on_bad_rows: Literal["raise", "quarantine"]
    rejects_dir: str | os.PathLike[str] | None
    engine: EngineLike
    work_dir: str | os.PathLike[str] | None
    show_progress: bool | None


class ValidateDatasetKeywords(ValidationKeywords, StageKeywords, total=False):
    """The keywords of :func:`validate_dataset`: the validation options, then the stage's settings."""


class CleanDatasetKeywords(CleaningKeywords, StageKeywords, total=False):
    """The keywords of :func:`clean_dataset` besides ``overwrite``: the cleaning options, then the stage's settings."""


@spelled_out(ValidateDatasetKeywords, ValidationOptions, StageSettings)
def validate_dataset(source: DatasetSource, **keywords: Unpack[ValidateDatasetKeywords]) -> ValidationReport:
    """:func:`~dwcp_data.validate` for a data set larger than memory.

    Reads ``source`` (a folder, glob or list of Parquet/CSV shards, or a
    LazyFrame: see :func:`open_dataset`; on Ray also a ``ray.data.Dataset``)
    one shard at a time. Each shard gives the small facts the rules need (null
    and violation counts with the first failing rows, class counts, types),
    merged in shard order in Rust; the report is the one
    :func:`~dwcp_data.validate` gives on the concatenated data: the same
    counts, observed values and examples (as row numbers in the data set). The
    strict profile's repeated ``(node_id, peer_id, timestamp)`` are found
    across shards through 128-bit key hashes shuffled by hash (on one machine
    through partition files in ``work_dir``, default a temporary folder). Bad
    CSV lines raise, or with ``on_bad_rows="quarantine"`` go to rejects files
    (see :func:`~dwcp_data.read_training_data`).

    ``engine="ray"`` (or a :class:`~dwcp_data.RayEngine`) runs a Ray task per block (extra ``dwcp-data[ray]``, see
    :mod:`dwcp_data.ray`), with the same report.

    Returns:
        A :class:`~dwcp_data.ValidationReport`.
    """
    validation = Validation(made_of(ValidationOptions, keywords))
    with made_of(StageSettings, keywords).blocks(source) as (runner, blocks):
        return validate_blocks(runner, blocks, validation)


@spelled_out(CleanDatasetKeywords, CleaningOptions, StageSettings)
def clean_dataset(
    source: DatasetSource,
    out: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    **keywords: Unpack[CleanDatasetKeywords],
) -> CleaningReport:
    """:func:`~dwcp_data.clean` for a data set larger than memory.

    Reads ``source`` (a folder, glob or list of Parquet/CSV shards, or a
    LazyFrame: see :func:`open_dataset`; on Ray also a ``ray.data.Dataset``)
    one shard at a time and writes the cleaned rows to the folder ``out``, one
    Parquet shard per input block (``part-00000.parquet``, … in input order,
    empty ones included): a block is a shard, or consecutive small shards read
    together (see :meth:`Dataset.block_ranges`). Read back in order, they equal ``clean()`` of the
    concatenated data, row for row, and the report is the same: duplicates
    across shards (first occurrence kept), sequential fences on the survivors
    (pooled or per group of ``by``) with exact quartiles, and exact medians.
    Bad CSV lines raise, or with ``on_bad_rows="quarantine"`` go to rejects
    files (see :func:`~dwcp_data.read_training_data`).

    ``out`` is built beside itself and appears (or replaces an earlier output
    of ours) only once every shard is written, with a manifest
    (``_dwcp_manifest.json``: files, rows, the cleaning report). A folder
    holding anything dwcp-data did not write is refused unless
    ``overwrite=True``; an ``out`` that is, holds or lies inside the input is
    always refused. Each shard must stay as it was while the passes run (a
    change raises ``DataError``, rule ``shard_changed``). Work files (about 30
    bytes per row) go to ``work_dir`` (default: a temporary folder) and are
    removed afterwards.

    ``engine="ray"`` (or a :class:`~dwcp_data.RayEngine`) runs each pass as a Ray task per block (extra
    ``dwcp-data[ray]``, see :mod:`dwcp_data.ray`), with the same rows and report.

    Returns:
        The :class:`~dwcp_data.cleaning.CleaningReport`.
    """
    options = made_of(CleaningOptions, keywords)
    check_output_folder(out, inputs=named_paths(source), overwrite=overwrite)  # before any work
    with (
        made_of(StageSettings, keywords).blocks(source) as (runner, blocks),
        output_folder(out, inputs=blocks.inputs, overwrite=overwrite, kind="cleaned") as build,
    ):
        cleaner = Cleaner(runner, blocks, options)
        cleaner.first_pass()
        report = cleaner.run()
        cleaner.write(build)
        build.info["cleaning"] = report.to_dict()
    return report


@spelled_out(StageKeywords, StageSettings)
def label_dataset(
    source: DatasetSource,
    out: str | os.PathLike[str],
    *,
    cpu_weight: float = 0.0,
    overwrite: bool = False,
    **keywords: Unpack[StageKeywords],
) -> int:
    """:func:`~dwcp_data.label_oracle` for a data set larger than memory: each
    shard of ``source`` (files or a LazyFrame, see :func:`open_dataset`)
    labelled into the folder ``out`` (one Parquet shard per input block, in
    order, and a manifest). ``out`` is written as :func:`clean_dataset`
    writes it: built beside itself, published once whole, never over files
    dwcp-data did not write (unless ``overwrite=True``) nor over its input.
    ``engine="ray"`` (or a :class:`~dwcp_data.RayEngine`): a Ray task per block.

    Returns:
        The number of rows labelled.
    """
    check_output_folder(out, inputs=named_paths(source), overwrite=overwrite)
    with (
        made_of(StageSettings, keywords).blocks(source) as (runner, blocks),
        output_folder(out, inputs=blocks.inputs, overwrite=overwrite, kind="labelled") as build,
    ):
        return label_blocks(runner, blocks, build, cpu_weight)
