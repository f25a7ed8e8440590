"""The end-to-end pipeline: load → validate → clean → label → validate → write."""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import polars as pl

from dwcp_data._core import __version__
from dwcp_data._frames import to_polars
from dwcp_data.cleaning import DEFAULT_OUTLIER_COLUMNS, CleaningReport, _names, clean
from dwcp_data.dataset import Dataset, DatasetSource, _Cleaner, _Validation, open_dataset
from dwcp_data.errors import InvalidArgumentError
from dwcp_data.generator import generate_synthetic
from dwcp_data.io import atomic_path, is_folder, publish_folder, read_training_data, write_training_data
from dwcp_data.labelling import LABEL_COLUMN, label_oracle
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
    _count(counter, df, column)
    return _shares(counter)


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
    bar per pass. The folder appears only when the run succeeded.

    A failed validation stops the run: the report is written (status
    ``"validation_failed"``), the data set is not, and
    :class:`~dwcp_data.errors.ValidationError` is raised. With
    ``on_invalid="continue"`` the run goes on and the report records the failure.

    Returns:
        A :class:`PipelineResult`.
    """
    if on_invalid not in ("stop", "continue"):
        raise InvalidArgumentError(
            f"invalid argument `on_invalid`: must be 'stop' or 'continue', got {on_invalid!r}",
            param="on_invalid",
        )
    if is_folder(out) and (
        isinstance(source, pl.LazyFrame)
        or (isinstance(source, (str, os.PathLike, list, tuple)) and source != "synthetic")
    ):
        return _run_dataset_pipeline(
            source,
            Path(out),
            profile=profile,
            min_rows=min_rows,
            on_invalid=on_invalid,
            by=by,
            cpu_weight=cpu_weight,
            show_progress=show_progress,
        )
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

    output_check = check("output_validation", df)
    t0 = time.perf_counter()
    write_training_data(df, out)
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
        tmp.write_text(json.dumps(report, indent=2, default=str))


def _count(counter: Counter[str], df: pl.DataFrame, column: str) -> None:
    """Adds ``df``'s values of ``column`` (nulls as ``"null"``; none when absent) to ``counter``."""
    if column in df.columns:
        for value, n in df[column].cast(pl.String).fill_null("null").value_counts().iter_rows():
            counter[str(value)] += n


def _shares(counter: Counter[str]) -> dict[str, float]:
    """Each value's share of the counts, most common first."""
    rows = sum(counter.values())
    return {v: n / rows for v, n in counter.most_common()} if rows else {}


def _run_dataset_pipeline(
    source: DatasetSource,
    out: Path,
    *,
    profile: Literal["document", "strict"],
    min_rows: int,
    on_invalid: Literal["stop", "continue"],
    by: str | Sequence[str] | None,
    cpu_weight: float,
    show_progress: bool | None,
) -> PipelineResult:
    """:func:`run_pipeline` shard by shard, from files or a LazyFrame into the folder ``out``.

    The stages share passes over the data: the first cleaning pass (row hashes)
    also gathers the input's validation facts; the writing pass labels each
    slice of cleaned rows and gathers the output's facts before writing it.
    """
    report_path = report_path_for(out)
    started = time.perf_counter()
    report = _new_report(out)

    def stage(name: str, seconds: float, rows: int) -> None:
        report["stages"].append({"stage": name, "rows": rows, "seconds": round(seconds, 4)})

    def check(name: str, result: ValidationReport, seconds: float) -> ValidationReport:
        stage(name, seconds, result.n_rows)
        _record_check(report, name, result, on_invalid, report_path, started)
        return result

    checks = {name: _Validation(profile, min_rows, 0.1, 0.05, None, 5) for name in ("input", "output")}
    classes_in: Counter[str] = Counter()
    shares_out: dict[str, Counter[str]] = {LABEL_COLUMN: Counter(), "current_compression": Counter()}
    seconds = {"input": 0.0, "label": 0.0, "output": 0.0}

    def inspect(raw: pl.DataFrame) -> None:
        t0 = time.perf_counter()
        checks["input"].add(raw)
        _count(classes_in, raw, "current_compression")
        seconds["input"] += time.perf_counter() - t0

    def finish_part(part: pl.DataFrame) -> pl.DataFrame:
        t0 = time.perf_counter()
        labelled = label_oracle(part, cpu_weight=cpu_weight)
        t1 = time.perf_counter()
        checks["output"].add(labelled)
        for column, counter in shares_out.items():
            _count(counter, labelled, column)
        seconds["label"] += t1 - t0
        seconds["output"] += time.perf_counter() - t1
        return labelled

    out.parent.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix=f".{out.name}.", dir=out.parent) as tmp,
        open_dataset(source, tmp) as ds,
    ):
        if isinstance(source, pl.LazyFrame):
            report["source"] = {"kind": "lazyframe", "rows": sum(ds.rows())}
        else:
            report["source"] = {"kind": "files", "files": [str(f) for f in ds.files], "rejected": {}}
        cleaner = _Cleaner(
            ds,
            Path(tmp),
            dedupe=True,
            columns=list(DEFAULT_OUTLIER_COLUMNS),
            iqr_k=1.5,
            by=_names(by, "by"),
            impute=True,
            show_progress=show_progress,
            inspect=inspect,
            finish_part=finish_part,
        )
        t0 = time.perf_counter()
        cleaner.first_pass()  # reads every shard: the load, with the input's facts
        first = time.perf_counter() - t0
        stage("load", first - seconds["input"], cleaner.rows_in)
        report["class_shares_in"] = _shares(classes_in)
        t0 = time.perf_counter()
        input_check = checks["input"].report(ds, tmp, show_progress)
        check("input_validation", input_check, seconds["input"] + time.perf_counter() - t0)

        t0 = time.perf_counter()
        cleaning = CleaningReport._from_core(cleaner.run())
        labelled = Path(tmp) / "labelled"
        labelled.mkdir()
        cleaner.write(labelled)  # cleaned slices, labelled and validated as they are written
        cleaned = time.perf_counter() - t0 - seconds["label"] - seconds["output"]
        stage("clean", cleaned, cleaning.rows_out)
        report["cleaning"] = cleaning.to_dict()
        stage("label", seconds["label"], cleaning.rows_out)
        report["label_shares"] = _shares(shares_out[LABEL_COLUMN])
        report["class_shares_out"] = _shares(shares_out["current_compression"])
        t0 = time.perf_counter()
        output_check = checks["output"].report(Dataset(labelled), tmp, show_progress)
        check("output_validation", output_check, seconds["output"] + time.perf_counter() - t0)
        t0 = time.perf_counter()
        publish_folder(labelled, out)
        stage("write", time.perf_counter() - t0, cleaning.rows_out)
    report["status"] = "ok" if input_check.passed and output_check.passed else "validation_failed"
    _finish(report, report_path, started)
    return PipelineResult(out, report_path, report)
