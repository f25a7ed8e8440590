"""The data-set stages: validation, cleaning and labelling of data sets larger
than memory, on any engine, with the in-memory answers."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from dwcp_data._outputs import check_output_folder, output_folder
from dwcp_data.cleaning import CleaningReport
from dwcp_data.datasets.cleaner import Cleaner
from dwcp_data.datasets.passes import Validation, label_blocks, validate_blocks
from dwcp_data.datasets.runners import engine_for
from dwcp_data.datasets.shards import DatasetSource, named_paths
from dwcp_data.engines import EngineLike
from dwcp_data.options import CleaningOptions, Profile, ValidationOptions
from dwcp_data.validation import ValidationReport

__all__ = ["clean_dataset", "label_dataset", "validate_dataset"]


def validate_dataset(
    source: DatasetSource,
    *,
    profile: Profile = ValidationOptions.profile,
    min_rows: int = ValidationOptions.min_rows,
    max_missing_fraction: float = ValidationOptions.max_missing_fraction,
    min_class_share: float = ValidationOptions.min_class_share,
    now: datetime | None = ValidationOptions.now,
    max_examples: int = ValidationOptions.max_examples,
    on_bad_rows: Literal["raise", "quarantine"] = "raise",
    rejects_dir: str | os.PathLike[str] | None = None,
    engine: EngineLike = "local",
    work_dir: str | os.PathLike[str] | None = None,
    show_progress: bool | None = None,
) -> ValidationReport:
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
    options = ValidationOptions(profile, min_rows, max_missing_fraction, min_class_share, now, max_examples)
    validation = Validation(options)
    with (
        engine_for(engine, work_dir, show_progress) as runner,
        runner.open(source, work_dir, on_bad_rows=on_bad_rows, rejects_dir=rejects_dir) as blocks,
    ):
        return validate_blocks(runner, blocks, validation)


def clean_dataset(
    source: DatasetSource,
    out: str | os.PathLike[str],
    *,
    dedupe: bool = CleaningOptions.dedupe,
    outlier_columns: str | Sequence[str] = CleaningOptions.outlier_columns,
    iqr_k: float = CleaningOptions.iqr_k,
    by: str | Sequence[str] | None = CleaningOptions.by,
    impute: Literal["median"] | None = CleaningOptions.impute,
    on_bad_rows: Literal["raise", "quarantine"] = "raise",
    rejects_dir: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    engine: EngineLike = "local",
    work_dir: str | os.PathLike[str] | None = None,
    show_progress: bool | None = None,
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
    options = CleaningOptions(dedupe, outlier_columns, iqr_k, by, impute)
    check_output_folder(out, inputs=named_paths(source), overwrite=overwrite)  # before any work
    with (
        engine_for(engine, work_dir, show_progress) as runner,
        runner.open(source, work_dir, on_bad_rows=on_bad_rows, rejects_dir=rejects_dir) as blocks,
        output_folder(out, inputs=blocks.inputs, overwrite=overwrite, kind="cleaned") as build,
    ):
        cleaner = Cleaner(runner, blocks, options)
        cleaner.first_pass()
        report = cleaner.run()
        cleaner.write(build)
        build.info["cleaning"] = report.to_dict()
    return report


def label_dataset(
    source: DatasetSource,
    out: str | os.PathLike[str],
    *,
    cpu_weight: float = 0.0,
    on_bad_rows: Literal["raise", "quarantine"] = "raise",
    rejects_dir: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    engine: EngineLike = "local",
    work_dir: str | os.PathLike[str] | None = None,
    show_progress: bool | None = None,
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
        engine_for(engine, work_dir, show_progress) as runner,
        runner.open(source, work_dir, on_bad_rows=on_bad_rows, rejects_dir=rejects_dir) as blocks,
        output_folder(out, inputs=blocks.inputs, overwrite=overwrite, kind="labelled") as build,
    ):
        return label_blocks(runner, blocks, build, cpu_weight)
