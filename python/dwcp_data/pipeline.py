"""The end-to-end pipeline: load → validate → clean → label → validate → write."""

from __future__ import annotations

import copy
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import polars as pl

from dwcp_data import _json
from dwcp_data._convert import one_of
from dwcp_data._core import __version__
from dwcp_data._engine import EngineName, engine_for
from dwcp_data._frames import to_polars
from dwcp_data._outputs import atomic_path, check_output_file, check_output_folder, output_folder
from dwcp_data._passes import Cleaner, Validation, repeated_keys
from dwcp_data.cleaning import DEFAULT_OUTLIER_COLUMNS, CleaningReport, clean, column_names
from dwcp_data.dataset import named_paths
from dwcp_data.errors import InvalidArgumentError
from dwcp_data.generator import generate_synthetic
from dwcp_data.io import data_files, is_folder, read_training_data, write_training_data
from dwcp_data.labelling import LABEL_COLUMN, label_oracle
from dwcp_data.quality import QualityCounts, count_values, quality_metrics, shares_of
from dwcp_data.validation import ValidationReport, validate

__all__ = ["PipelineResult", "label_shares", "report_path_for", "run_pipeline"]


@dataclass(frozen=True)
class PipelineResult:
    """What :func:`run_pipeline` produced.

    Attributes:
        dataset: the labelled data set written (``None`` when validation stopped the run).
        report_path: the JSON run report written beside it.
        report: that report, as a dict.
    """

    dataset: Path | None
    report_path: Path
    report: dict[str, Any]

    @property
    def passed(self) -> bool:
        """Whether the run validated and wrote its data set."""
        return bool(self.report["status"] == "ok")


def report_path_for(out: str | os.PathLike[str]) -> Path:
    """The run report's path beside a data set: ``training.parquet`` →
    ``training.parquet.report.json`` (one per output, whatever else the folder holds)."""
    out = Path(out)
    return out.with_name(f"{out.name}.report.json")


def label_shares(df: pl.DataFrame, column: str) -> dict[str, float]:
    """Share of each value of an Enum or String column (nulls as ``"null"``), most common first."""
    counter: Counter[str] = Counter()
    count_values(counter, df, column)
    return shares_of(counter)


def run_pipeline(
    source: str
    | os.PathLike[str]
    | Sequence[str | os.PathLike[str]]
    | pl.DataFrame
    | pl.LazyFrame
    | None = None,
    out: str | os.PathLike[str] = "data/training.parquet",
    *,
    rows: int = 100_000,
    seed: int = 42,
    end: datetime | None = None,
    profile: Literal["document", "strict"] = "document",
    min_rows: int = 10_000,
    on_invalid: Literal["stop", "continue"] = "stop",
    on_bad_rows: Literal["raise", "quarantine"] = "raise",
    by: str | Sequence[str] | None = None,
    cpu_weight: float = 0.0,
    show_progress: bool | None = None,
    engine: EngineName = "local",
    overwrite: bool = False,
) -> PipelineResult:
    """Turn raw metrics into a validated, cleaned, labelled training set.

    Stages: load (``source``: ``None`` or ``"synthetic"`` generates ``rows``
    synthetic rows from ``seed``; a path, glob or list reads CSV/Parquet files
    with :func:`~dwcp_data.read_training_data`; a frame is used as it is) →
    validate (profile ``profile``) → :func:`~dwcp_data.clean` (``by`` for
    per-group fences) → :func:`~dwcp_data.label_oracle` (``cpu_weight``) →
    validate the result → write the data set to ``out`` (Parquet or CSV, by
    suffix, atomically) and a JSON run report beside it
    (:func:`report_path_for`): rows and seconds per stage, every rule result,
    the cleaning report, label and class shares.

    Data sets larger than memory: when ``out`` names a folder (no suffix) and
    ``source`` is files or a LazyFrame, every stage works shard by
    shard (:func:`~dwcp_data.validate_dataset`,
    :func:`~dwcp_data.clean_dataset`, :func:`~dwcp_data.label_dataset`) and
    ``out`` gets one Parquet shard per input shard (a LazyFrame is first
    streamed once into temporary shards of ``SHARD_ROWS`` rows, beside ``out``). The rows, reports and
    shares are exactly those of the in-memory run; ``show_progress`` draws a
    bar per pass. Bad CSV lines follow ``on_bad_rows`` there too.

    A folder ``out`` is built beside itself and appears only when the run
    succeeded, with a manifest (``_dwcp_manifest.json``); it replaces only an
    earlier output of ours (or, with ``overwrite=True``, any folder). An
    ``out`` that is, holds or lies inside the source is refused.

    ``engine="ray"`` runs those shard-by-shard stages as Ray tasks, one per
    shard (extra ``dwcp-data[ray]``, see :mod:`dwcp_data.ray`), with the same
    rows and report; it needs a folder ``out`` and files, a LazyFrame or a
    ``ray.data.Dataset`` as ``source``.

    A failed validation stops the run: the report is written (status
    ``"validation_failed"``), the data set is not, and
    :class:`~dwcp_data.errors.ValidationError` is raised. With
    ``on_invalid="continue"`` the run goes on and the report records the failure.

    Returns:
        A :class:`PipelineResult`.
    """
    one_of(on_invalid, ("stop", "continue"), "on_invalid")
    one_of(on_bad_rows, ("raise", "quarantine"), "on_bad_rows")
    one_of(engine, ("local", "ray"), "engine")
    shards = isinstance(source, pl.LazyFrame) or (
        isinstance(source, (str, os.PathLike, list, tuple)) and source != "synthetic"
    )
    if engine == "ray":
        if (
            not is_folder(out)
            or source is None
            or isinstance(source, pl.DataFrame)
            or (isinstance(source, str) and source == "synthetic")
        ):
            raise InvalidArgumentError(
                "invalid argument `engine`: 'ray' needs a folder `out` and files, a LazyFrame or a "
                "ray.data.Dataset as `source`",
                param="engine",
            )
        shards = True
    if is_folder(out) and shards:
        return _run_dataset_pipeline(
            source,
            Path(out),
            profile=profile,
            min_rows=min_rows,
            on_invalid=on_invalid,
            on_bad_rows=on_bad_rows,
            by=by,
            cpu_weight=cpu_weight,
            show_progress=show_progress,
            engine=engine,
            overwrite=overwrite,
        )
    if is_folder(out):  # from a frame or synthetic rows: refused now rather than after the work
        check_output_folder(out, overwrite=overwrite)
    elif isinstance(source, (str, os.PathLike, list, tuple)) and source != "synthetic":
        check_output_file(out, data_files(source))
    out = Path(out)
    report_path = report_path_for(out)
    started = time.perf_counter()
    report = _new_report(out)

    def stage(name: str, t0: float, df: pl.DataFrame) -> None:
        report["stages"].append(
            {"stage": name, "rows": df.height, "seconds": round(time.perf_counter() - t0, 4)}
        )

    def check(name: str, df: pl.DataFrame) -> ValidationReport:
        t0 = time.perf_counter()
        result = validate(df, profile=profile, min_rows=min_rows)
        stage(name, t0, df)
        _record_check(report, name, result, on_invalid, report_path, started)
        return result

    t0 = time.perf_counter()
    if source is None or (isinstance(source, str) and source == "synthetic"):
        df = generate_synthetic(rows, seed, end=end)
        report["source"] = {"kind": "synthetic", "rows": rows, "seed": seed}
    elif isinstance(source, (str, os.PathLike, list, tuple)):
        df, read = read_training_data(source, on_bad_rows=on_bad_rows, report=True)
        report["source"] = {"kind": "files", "files": list(read.files), "rejected": read.rejected}
    else:
        df = to_polars(source, "source")
        report["source"] = {"kind": "frame"}
    stage("load", t0, df)
    report["class_shares_in"] = label_shares(df, "current_compression")

    input_check = check("input_validation", df)
    t0 = time.perf_counter()
    df, cleaning = clean(df, by=by, report=True)
    stage("clean", t0, df)
    report["cleaning"] = cleaning.to_dict()

    t0 = time.perf_counter()
    df = label_oracle(df, cpu_weight=cpu_weight)
    stage("label", t0, df)
    report["label_shares"] = label_shares(df, LABEL_COLUMN)
    report["class_shares_out"] = label_shares(df, "current_compression")
    report["quality"] = quality_metrics(df)

    output_check = check("output_validation", df)
    t0 = time.perf_counter()
    write_training_data(df, out, overwrite=overwrite)
    stage("write", t0, df)
    report["status"] = "ok" if input_check.passed and output_check.passed else "validation_failed"
    _finish(report, report_path, started)
    return PipelineResult(out, report_path, report)


def _record_check(
    report: dict[str, Any],
    name: str,
    result: ValidationReport,
    on_invalid: Literal["stop", "continue"],
    report_path: Path,
    started: float,
) -> None:
    """Records a validation in the run report; a failed one stops the run
    (report written, ``ValidationError``) unless ``on_invalid="continue"``."""
    report[name] = result.to_dict()
    if not result.passed and on_invalid == "stop":
        report["status"] = "validation_failed"
        _finish(report, report_path, started)
        result.raise_if_failed()


def _new_report(out: Path) -> dict[str, Any]:
    """A run report as a run starts."""
    return {
        "dwcp_data_version": __version__,
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "output": str(out),
        "status": "running",
        "stages": [],
    }


def _finish(report: dict[str, Any], path: Path, started: float) -> None:
    report["seconds"] = round(time.perf_counter() - started, 4)
    with atomic_path(path) as tmp:
        tmp.write_text(_json.dumps(report, indent=2))


class _ShardChecks:
    """The pipeline's work on each shard in the cleaning passes (pure, so it
    runs where the shard is): the input's validation facts and classes as
    read; labels, the output's facts and shares as written."""

    def __init__(self, profile: Literal["document", "strict"], min_rows: int, cpu_weight: float) -> None:
        self.checks = {
            name: Validation(profile, min_rows, 0.1, 0.05, None, 5) for name in ("input", "output")
        }
        self.cpu_weight = cpu_weight

    def inspect(self, raw: pl.DataFrame) -> _Seen:
        t0 = time.perf_counter()
        classes: Counter[str] = Counter()
        count_values(classes, raw, "current_compression")
        facts = self.checks["input"].facts_of(raw)
        return _Seen(facts, {"current_compression": classes}, {"input": time.perf_counter() - t0})

    def finish(self, part: pl.DataFrame) -> tuple[pl.DataFrame, _Seen]:
        t0 = time.perf_counter()
        labelled = label_oracle(part, cpu_weight=self.cpu_weight)
        t1 = time.perf_counter()
        facts = self.checks["output"].facts_of(labelled)
        quality = QualityCounts()
        quality.add(labelled)
        seconds = {"label": t1 - t0, "output": time.perf_counter() - t1}
        return labelled, _Seen(facts, {}, seconds, quality)


@dataclass
class _Seen:
    """What :class:`_ShardChecks` found in one shard (or slice)."""

    facts: Any
    counts: dict[str, Counter[str]]
    seconds: dict[str, float]
    #: §8's figures of the rows as written (see :class:`~dwcp_data.quality.QualityCounts`).
    quality: QualityCounts | None = None


class _Gathered:
    """The shards' :class:`_Seen`, merged in shard order on the driver."""

    def __init__(self, work: _ShardChecks) -> None:
        # copies: the facts merge here, and `work` travels to the shards unchanged
        self.checks = {name: copy.copy(check) for name, check in work.checks.items()}
        self.classes_in: Counter[str] = Counter()
        self.quality = QualityCounts()
        self.seconds = {"input": 0.0, "label": 0.0, "output": 0.0}

    def inspected(self, seen: _Seen) -> None:
        self.checks["input"].merge(seen.facts)
        self.classes_in.update(seen.counts["current_compression"])
        self._time(seen)

    def finished(self, seen: _Seen) -> None:
        self.checks["output"].merge(seen.facts)
        assert seen.quality is not None
        self.quality.merge(seen.quality)
        self._time(seen)

    def _time(self, seen: _Seen) -> None:
        for stage, seconds in seen.seconds.items():
            self.seconds[stage] += seconds


def _run_dataset_pipeline(
    source: Any,
    out: Path,
    *,
    profile: Literal["document", "strict"],
    min_rows: int,
    on_invalid: Literal["stop", "continue"],
    on_bad_rows: Literal["raise", "quarantine"],
    by: str | Sequence[str] | None,
    cpu_weight: float,
    show_progress: bool | None,
    engine: EngineName,
    overwrite: bool,
) -> PipelineResult:
    """:func:`run_pipeline` shard by shard, from files or a LazyFrame (with
    Ray, also a ``ray.data.Dataset``) into the folder ``out``.

    The stages share passes over the data: the first cleaning pass (row hashes)
    also gathers the input's validation facts; the writing pass labels each
    slice of cleaned rows and gathers the output's facts before writing it.
    With ``engine="ray"`` the shards are blocks of Ray tasks (``dwcp_data.ray``);
    the stage seconds of the checks and labels are then the tasks' summed time.
    """
    report_path = report_path_for(out)
    started = time.perf_counter()
    report = _new_report(out)
    report["engine"] = engine
    groups = column_names(by, "by", allow_empty=False)

    def stage(name: str, seconds: float, rows: int) -> None:
        report["stages"].append({"stage": name, "rows": rows, "seconds": round(seconds, 4)})

    def check(name: str, result: ValidationReport, seconds: float) -> ValidationReport:
        stage(name, seconds, result.n_rows)
        _record_check(report, name, result, on_invalid, report_path, started)
        return result

    work = _ShardChecks(profile, min_rows, cpu_weight)
    gathered = _Gathered(work)
    seconds = gathered.seconds
    check_output_folder(out, inputs=named_paths(source), overwrite=overwrite)  # before any work
    out.parent.mkdir(parents=True, exist_ok=True)
    with (
        engine_for(engine, out.parent, show_progress) as runner,
        runner.open(source, out.parent, on_bad_rows=on_bad_rows) as blocks,
        output_folder(out, inputs=blocks.inputs, overwrite=overwrite, kind="training") as build,
    ):
        if isinstance(source, pl.LazyFrame):
            report["source"] = {"kind": "lazyframe", "rows": sum(blocks.rows())}
        elif not blocks.files:  # a ray.data.Dataset's blocks
            report["source"] = {"kind": "ray dataset", "blocks": len(blocks), "rows": sum(blocks.rows())}
        else:
            report["source"] = {"kind": "files", "files": [str(f) for f in blocks.files], "rejected": {}}
        cleaner = Cleaner(
            runner,
            blocks,
            dedupe=True,
            columns=list(DEFAULT_OUTLIER_COLUMNS),
            iqr_k=1.5,
            by=groups,
            impute=True,
            hooks=(work, gathered),
        )
        t0 = time.perf_counter()
        cleaner.first_pass()  # reads every shard: the load, with the input's facts
        first = time.perf_counter() - t0
        stage("load", max(first - seconds["input"], 0.0), cleaner.rows_in)
        if "rejected" in report["source"]:
            report["source"]["rejected"] = dict(blocks.rejected)
        report["class_shares_in"] = shares_of(gathered.classes_in)
        t0 = time.perf_counter()
        input_check = gathered.checks["input"].report(
            lambda: blocks.read(0), lambda key, keep: repeated_keys(runner, blocks, key, keep)
        )
        check("input_validation", input_check, seconds["input"] + time.perf_counter() - t0)

        t0 = time.perf_counter()
        cleaning = CleaningReport._from_core(cleaner.run())
        cleaner.write(build)  # cleaned slices, labelled and validated as they are written
        cleaned = time.perf_counter() - t0 - seconds["label"] - seconds["output"]
        stage("clean", max(cleaned, 0.0), cleaning.rows_out)
        report["cleaning"] = cleaning.to_dict()
        stage("label", seconds["label"], cleaning.rows_out)
        report["label_shares"] = gathered.quality.shares(LABEL_COLUMN)
        report["class_shares_out"] = gathered.quality.shares("current_compression")
        report["quality"] = gathered.quality.metrics(datetime.now(timezone.utc))
        t0 = time.perf_counter()
        with runner.open(build.path, out.parent) as written:
            output_check = gathered.checks["output"].report(
                lambda: written.read(0), lambda key, keep: repeated_keys(runner, written, key, keep)
            )
        check("output_validation", output_check, seconds["output"] + time.perf_counter() - t0)
        report["status"] = "ok" if input_check.passed and output_check.passed else "validation_failed"
        build.info.update(status=report["status"], report=report_path.name)
        t0 = time.perf_counter()
    stage("write", time.perf_counter() - t0, cleaning.rows_out)
    _finish(report, report_path, started)
    return PipelineResult(out, report_path, report)
