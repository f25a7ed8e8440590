"""run_pipeline: stages, the run report, stopping on invalid data, file sources."""

from __future__ import annotations

import json

import polars as pl
import pytest

import dwcp_data
from dwcp_data.errors import ValidationError

from helpers import END


def test_synthetic_run_writes_data_and_report(tmp_path):
    result = dwcp_data.run_pipeline(out=tmp_path / "training.parquet", rows=20_000, seed=3, end=END)
    assert result.passed and result.dataset == tmp_path / "training.parquet"
    assert result.report_path == tmp_path / "training.parquet.report.json"
    report = json.loads(result.report_path.read_text())
    assert report == json.loads(json.dumps(result.report, default=str))
    assert [s["stage"] for s in report["stages"]] == [
        "load",
        "input_validation",
        "clean",
        "label",
        "output_validation",
        "write",
    ]
    assert report["stages"][0]["rows"] == 20_000
    assert report["input_validation"]["passed"] and report["output_validation"]["passed"]
    assert set(report["label_shares"]) == {"hde", "amst", "baseline"}
    assert report["cleaning"]["rows_out"] == report["stages"][-1]["rows"]
    df = dwcp_data.read_training_data(result.dataset)
    assert df.height == report["stages"][-1]["rows"] and "oracle_compression" in df.columns
    assert dwcp_data.validate(df, profile="strict").passed


def test_invalid_input_stops_and_writes_only_the_report(tmp_path):
    bad = dwcp_data.generate_synthetic(20_000, seed=3, end=END).with_columns(pl.col("rtt_ms") * -1)
    with pytest.raises(ValidationError, match="rtt_ms_range"):
        dwcp_data.run_pipeline(bad, tmp_path / "t.parquet")
    assert not (tmp_path / "t.parquet").exists()
    report = json.loads((tmp_path / "t.parquet.report.json").read_text())
    assert report["status"] == "validation_failed" and not report["input_validation"]["passed"]


def test_continue_on_invalid_records_the_failure(tmp_path):
    small = dwcp_data.generate_synthetic(500, seed=3, end=END)
    result = dwcp_data.run_pipeline(small, tmp_path / "t.csv", on_invalid="continue")
    assert not result.passed and (tmp_path / "t.csv").exists()
    assert result.report["status"] == "validation_failed"


def test_file_source_and_per_group_fences(tmp_path):
    src = dwcp_data.write_training_data(
        dwcp_data.generate_synthetic(30_000, seed=4, end=END), tmp_path / "in.csv"
    )
    result = dwcp_data.run_pipeline(src, tmp_path / "out.parquet", by="link_type", cpu_weight=1.0)
    assert result.passed and result.report["source"]["files"] == [str(src)]
    assert result.report["cleaning"]["kept_by_group"]


def test_a_folder_runs_stages_are_measured_where_they_run(tmp_path):
    """Each stage of the shard-by-shard pipeline is timed where its work runs
    (no stage is a remainder): every one positive, together within the run's wall time."""
    import time

    source = tmp_path / "in"
    dwcp_data.write_training_data(
        dwcp_data.generate_synthetic(300_000, seed=4, end=END), source, shard_rows=60_000
    )
    started = time.perf_counter()
    report = dwcp_data.run_pipeline(source, tmp_path / "out", min_rows=10).report
    wall = time.perf_counter() - started
    seconds = {s["stage"]: s["seconds"] for s in report["stages"]}
    assert list(seconds) == ["load", "input_validation", "clean", "label", "output_validation", "write"]
    assert all(s > 0 for s in seconds.values()), seconds
    assert sum(seconds.values()) <= wall, (seconds, wall)
