"""The end-to-end pipeline: load → validate → clean → label → validate → write."""

from __future__ import annotations

import copy
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

import polars as pl

from dwcp_data import _core, _json, profiles
from dwcp_data._convert import one_of
from dwcp_data._core import __version__
from dwcp_data._frames import to_core, to_polars
from dwcp_data._outputs import atomic_path, check_output_file, check_output_folder, output_folder
from dwcp_data.cleaning import clean_frame
from dwcp_data.datasets.cleaner import Cleaner
from dwcp_data.datasets.engine import Blocks
from dwcp_data.datasets.passes import FusedChecks, Validation, repeated_keys
from dwcp_data.datasets.runners import engine_for
from dwcp_data.datasets.shards import named_paths
from dwcp_data.engines import EngineLike, LocalEngine, RayEngine, engine_of
from dwcp_data.errors import InvalidArgumentError
from dwcp_data.generator import generate_synthetic
from dwcp_data.io import data_files, is_folder, read_training_data, write_training_data
from dwcp_data.labelling import LABEL_COLUMN, label_oracle
from dwcp_data.options import CleaningOptions, Profile, ValidationOptions
from dwcp_data.quality import QualityCounts, count_values, quality_metrics, shares_of
from dwcp_data.validation import ValidationReport, validate_frame

__all__ = ["PipelineResult", "label_shares", "profile_path_for", "report_path_for", "run_pipeline"]


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


def profile_path_for(out: str | os.PathLike[str]) -> Path:
    """Where a run writes the profile of the data set it wrote to ``out``
    (see :mod:`dwcp_data.profiles`): ``training.parquet.profile``, beside it."""
    out = Path(out)
    return out.with_name(f"{out.name}.profile")


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
    freq: str | timedelta = "1h",
    profile: Profile = ValidationOptions.profile,
    min_rows: int = ValidationOptions.min_rows,
    on_invalid: Literal["stop", "continue"] = "stop",
    on_bad_rows: Literal["raise", "quarantine"] = "raise",
    by: str | Sequence[str] | None = None,
    cpu_weight: float = 0.0,
    show_progress: bool | None = None,
    engine: EngineLike = "local",
    overwrite: bool = False,
) -> PipelineResult:
    """Turn raw metrics into a validated, cleaned, labelled training set.

    Stages: load (``source``: ``None`` or ``"synthetic"`` generates ``rows``
    synthetic rows from ``seed``, ``freq`` apart up to ``end``, as
    :func:`~dwcp_data.generate_synthetic` does; a path, glob or list reads CSV/Parquet files
    with :func:`~dwcp_data.read_training_data`; a frame is used as it is) →
    validate (profile ``profile``) → :func:`~dwcp_data.clean` (``by`` for
    per-group fences) → :func:`~dwcp_data.label_oracle` (``cpu_weight``) →
    validate the result → write the data set to ``out`` (Parquet or CSV, by
    suffix, atomically) and a JSON run report beside it
    (:func:`report_path_for`): rows and seconds per stage, every rule result,
    the cleaning report, label and class shares.

    Data sets larger than memory: when ``out`` names a folder (see :func:`~dwcp_data.io.is_folder`: no ``.parquet``/``.pq``/``.csv`` suffix) and
    ``source`` is files or a LazyFrame, every stage works shard by
    shard (:func:`~dwcp_data.validate_dataset`,
    :func:`~dwcp_data.clean_dataset`, :func:`~dwcp_data.label_dataset`) and
    ``out`` gets one Parquet shard per input block (a shard, or small shards read together; a LazyFrame is first
    streamed once into temporary shards of ``SHARD_ROWS`` rows, beside ``out``). The rows, reports and
    shares are exactly those of the in-memory run; ``show_progress`` draws a
    bar per pass. Bad CSV lines follow ``on_bad_rows`` there too.

    A folder ``out`` is built beside itself and appears only when the run
    succeeded, with a manifest (``_dwcp_manifest.json``); it replaces only an
    earlier output of ours (or, with ``overwrite=True``, any folder). An
    ``out`` that is, holds or lies inside the source is refused.

    ``engine="ray"`` (or a :class:`~dwcp_data.RayEngine` with its settings)
    runs those block-by-block stages as Ray tasks, one per block (extra
    ``dwcp-data[ray]``, see :mod:`dwcp_data.ray`), with the same
    rows and report; it needs a folder ``out`` and files, a LazyFrame or a
    ``ray.data.Dataset`` as ``source``.

    A failed validation stops the run: the report is written (status
    ``"validation_failed"``), the data set is not, and
    :class:`~dwcp_data.errors.ValidationError` is raised. With
    ``on_invalid="continue"`` the run goes on and the report records the failure.

    Returns:
        A :class:`PipelineResult`.
    """
    settings = _Settings(
        ValidationOptions(profile, min_rows),  # validate()'s other defaults
        CleaningOptions(by=by),  # clean()'s defaults, fences per group of `by`
        on_invalid,
        on_bad_rows,
        cpu_weight,
        overwrite,
    )
    config = engine_of(engine)
    synthetic = source is None or (isinstance(source, str) and source == "synthetic")
    files = isinstance(source, (str, os.PathLike, list, tuple)) and not synthetic
    if config.name == "ray" and (not is_folder(out) or synthetic or isinstance(source, pl.DataFrame)):
        raise InvalidArgumentError.of(
            "engine", "'ray' needs a folder `out` and files, a LazyFrame or a ray.data.Dataset as `source`"
        )
    if is_folder(out) and (files or config.name == "ray" or isinstance(source, pl.LazyFrame)):
        return _run_dataset_pipeline(source, Path(out), settings, show_progress, config)
    if is_folder(out):  # from a frame or synthetic rows: refused now rather than after the work
        check_output_folder(out, overwrite=overwrite)
    elif files:
        check_output_file(out, data_files(source))  # type: ignore[arg-type]  # files: a path or list
    run = _RunReport(Path(out), on_invalid)
    t0 = time.perf_counter()
    if synthetic:
        df = generate_synthetic(rows, seed, end=end, freq=freq)
        run.data["source"] = {"kind": "synthetic", "rows": rows, "seed": seed}
    elif isinstance(source, (str, os.PathLike, list, tuple)):
        df, read = read_training_data(source, on_bad_rows=on_bad_rows, report=True)
        run.data["source"] = {"kind": "files", "files": list(read.files), "rejected": read.rejected}
    else:
        df = to_polars(source, "source")
        run.data["source"] = {"kind": "frame"}
    run.stage("load", time.perf_counter() - t0, df.height)
    return _run_in_memory(df, run, settings)


@dataclass(frozen=True)
class _Settings:
    """What a run does, whatever its data: checked once, when it starts."""

    validation: ValidationOptions
    cleaning: CleaningOptions
    on_invalid: Literal["stop", "continue"]
    on_bad_rows: Literal["raise", "quarantine"]
    cpu_weight: float
    overwrite: bool

    def __post_init__(self) -> None:
        one_of(self.on_invalid, ("stop", "continue"), "on_invalid")
        one_of(self.on_bad_rows, ("raise", "quarantine"), "on_bad_rows")


class _RunReport:
    """The JSON run report of one run, written beside its output
    (:func:`report_path_for`) when the run ends or a validation stops it."""

    def __init__(self, out: Path, on_invalid: Literal["stop", "continue"]) -> None:
        self.out, self.path, self.on_invalid = out, report_path_for(out), on_invalid
        self.started = time.perf_counter()
        self.data: dict[str, Any] = {
            "dwcp_data_version": __version__,
            "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "output": str(out),
            "status": "running",
            "stages": [],
        }

    def stage(self, name: str, seconds: float, rows: int) -> None:
        """Records a stage's rows and seconds."""
        self.data["stages"].append({"stage": name, "rows": rows, "seconds": round(seconds, 4)})

    def check(self, name: str, result: ValidationReport, seconds: float) -> ValidationReport:
        """Records a validation; a failed one stops the run (report written,
        ``ValidationError``) unless ``on_invalid="continue"``."""
        self.stage(name, seconds, result.n_rows)
        self.data[name] = result.to_dict()
        if not result.passed and self.on_invalid == "stop":
            self.data["status"] = "validation_failed"
            self.write()
            result.raise_if_failed()
        return result

    def finish(self, *checks: ValidationReport) -> PipelineResult:
        """The run's result once every stage ran, its report written."""
        self.data["status"] = "ok" if all(c.passed for c in checks) else "validation_failed"
        self.write()
        return PipelineResult(self.out, self.path, self.data)

    def save_profile(self, profile: profiles.Profile) -> None:
        """Writes the output's profile beside it (:func:`profile_path_for`)."""
        self.data["profile"] = str(profile.save(profile_path_for(self.out)))

    def write(self) -> None:
        """Writes the report as it stands (atomically)."""
        self.data["seconds"] = round(time.perf_counter() - self.started, 4)
        with atomic_path(self.path) as tmp:
            tmp.write_text(_json.dumps(self.data, indent=2))


def _run_in_memory(df: pl.DataFrame, run: _RunReport, settings: _Settings) -> PipelineResult:
    """The stages after the load on one frame in memory, written to ``run.out``."""
    validation = settings.validation.resolved()
    run.data["class_shares_in"] = label_shares(df, "current_compression")
    t0 = time.perf_counter()
    input_check = run.check("input_validation", validate_frame(df, validation), time.perf_counter() - t0)
    t0 = time.perf_counter()
    df, cleaned = clean_frame(df, settings.cleaning)
    run.stage("clean", time.perf_counter() - t0, df.height)
    run.data["cleaning"] = cleaned.to_dict()
    t0 = time.perf_counter()
    df = label_oracle(df, cpu_weight=settings.cpu_weight)
    run.stage("label", time.perf_counter() - t0, df.height)
    run.data["label_shares"] = label_shares(df, LABEL_COLUMN)
    run.data["class_shares_out"] = label_shares(df, "current_compression")
    run.data["quality"] = quality_metrics(df)
    t0 = time.perf_counter()
    output_check = run.check("output_validation", validate_frame(df, validation), time.perf_counter() - t0)
    t0 = time.perf_counter()
    write_training_data(df, run.out, overwrite=settings.overwrite)
    run.save_profile(profiles.Profile(_core.Profile.of(*to_core(df), _PROFILE_BY)))
    run.stage("write", time.perf_counter() - t0, df.height)
    return run.finish(input_check, output_check)


#: What a run's profile is grouped by (every output has ``link_type``).
_PROFILE_BY = ["link_type"]


class _ShardChecks:
    """The pipeline's work on each shard in the cleaning passes (pure, so it
    runs where the shard is): the input's validation facts and classes as
    read; labels, the output's facts and shares as written."""

    def __init__(self, validation: ValidationOptions, cpu_weight: float) -> None:
        self.checks = {name: Validation(validation) for name in ("input", "output")}
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
        profile = _core.Profile.of(*to_core(labelled), _PROFILE_BY)
        seconds = {"label": t1 - t0, "output": time.perf_counter() - t1}
        return labelled, _Seen(facts, {}, seconds, quality, profile)


@dataclass
class _Seen:
    """What :class:`_ShardChecks` found in one shard (or slice)."""

    facts: Any
    counts: dict[str, Counter[str]]
    seconds: dict[str, float]
    #: §8's figures of the rows as written (see :class:`~dwcp_data.quality.QualityCounts`).
    quality: QualityCounts | None = None
    #: The profile of the rows as written (see :mod:`dwcp_data.profiles`).
    profile: _core.Profile | None = None


class _Gathered:
    """The shards' :class:`_Seen`, merged in shard order on the driver."""

    def __init__(self, work: _ShardChecks) -> None:
        # copies: the facts merge here, and `work` travels to the shards unchanged
        self.checks = {name: copy.copy(check) for name, check in work.checks.items()}
        self.classes_in: Counter[str] = Counter()
        self.quality = QualityCounts()
        self.profile: _core.Profile | None = None
        self.seconds = {"input": 0.0, "label": 0.0, "output": 0.0}

    def inspected(self, seen: _Seen) -> None:
        self.checks["input"].merge(seen.facts)
        self.classes_in.update(seen.counts["current_compression"])
        self._time(seen)

    def finished(self, seen: _Seen) -> None:
        self.checks["output"].merge(seen.facts)
        assert seen.quality is not None and seen.profile is not None
        self.quality.merge(seen.quality)
        self.profile = seen.profile if self.profile is None else self.profile.then(seen.profile)
        self._time(seen)

    def _time(self, seen: _Seen) -> None:
        for stage, seconds in seen.seconds.items():
            self.seconds[stage] += seconds


def _run_dataset_pipeline(
    source: Any, out: Path, settings: _Settings, show_progress: bool | None, engine: LocalEngine | RayEngine
) -> PipelineResult:
    """:func:`run_pipeline` shard by shard, from files or a LazyFrame (with
    Ray, also a ``ray.data.Dataset``) into the folder ``out``.

    The stages share passes over the data: the first cleaning pass (row hashes)
    also gathers the input's validation facts; the writing pass labels each
    slice of cleaned rows and gathers the output's facts before writing it.
    Stage seconds are measured where the work runs: ``load`` is the first
    pass's reads, ``clean`` its hashing and grouping, the later passes and the
    filtering and filling of the writing pass, ``write`` the Parquet writing
    and the publication; the checks and labels time themselves. With
    ``engine="ray"`` (blocks of Ray tasks) the kernels' parts are the tasks'
    summed time.
    """
    run = _RunReport(out, settings.on_invalid)
    run.data["engine"] = engine.name
    work = _ShardChecks(settings.validation, settings.cpu_weight)
    gathered = _Gathered(work)
    seconds = gathered.seconds
    check_output_folder(out, inputs=named_paths(source), overwrite=settings.overwrite)  # before any work
    out.parent.mkdir(parents=True, exist_ok=True)
    with (
        engine_for(engine, out.parent, show_progress) as runner,
        runner.open(source, out.parent, on_bad_rows=settings.on_bad_rows) as blocks,
        output_folder(out, inputs=blocks.inputs, overwrite=settings.overwrite, kind="training") as build,
    ):
        cleaner = Cleaner(runner, blocks, settings.cleaning, fused=FusedChecks(work, gathered))
        timed = cleaner.watch.seconds
        cleaner.first_pass()  # reads every shard: the load, with the input's facts
        run.stage("load", timed.get("read", 0.0), cleaner.rows_in[0])
        run.data["source"] = _source_entry(source, blocks)
        run.data["class_shares_in"] = shares_of(gathered.classes_in)
        t0 = time.perf_counter()
        input_check = gathered.checks["input"].report(
            lambda: blocks.read(0), lambda key, keep: repeated_keys(runner, blocks, key, keep)
        )
        run.check("input_validation", input_check, seconds["input"] + time.perf_counter() - t0)
        cleaned = cleaner.run()
        cleaner.write(build)  # cleaned slices, labelled and validated as they are written
        run.stage("clean", timed["clean"], cleaned.rows_out)
        run.data["cleaning"] = cleaned.to_dict()
        run.stage("label", seconds["label"], cleaned.rows_out)
        run.data["label_shares"] = gathered.quality.shares(LABEL_COLUMN)
        run.data["class_shares_out"] = gathered.quality.shares("current_compression")
        run.data["quality"] = gathered.quality.metrics(datetime.now(timezone.utc))
        t0 = time.perf_counter()
        with runner.open(build.path, out.parent) as written:
            output_check = gathered.checks["output"].report(
                lambda: written.read(0), lambda key, keep: repeated_keys(runner, written, key, keep)
            )
        run.check("output_validation", output_check, seconds["output"] + time.perf_counter() - t0)
        passed = input_check.passed and output_check.passed
        build.info.update(status="ok" if passed else "validation_failed", report=run.path.name)
        if gathered.profile is not None:
            run.save_profile(profiles.Profile(gathered.profile))
        t0 = time.perf_counter()
    run.stage("write", timed.get("write", 0.0) + time.perf_counter() - t0, cleaned.rows_out)  # + publishing
    return run.finish(input_check, output_check)


def _source_entry(source: Any, blocks: Blocks) -> dict[str, Any]:
    """The run report's ``source``: what the data set was read from."""
    if isinstance(source, pl.LazyFrame):
        return {"kind": "lazyframe", "rows": sum(blocks.rows())}
    if not blocks.files:  # a ray.data.Dataset's blocks
        return {"kind": "ray dataset", "blocks": len(blocks), "rows": sum(blocks.rows())}
    return {"kind": "files", "files": [str(f) for f in blocks.files], "rejected": dict(blocks.rejected)}
