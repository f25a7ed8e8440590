"""quality_metrics and the line protocol of the monitoring points."""

from __future__ import annotations

import json
import math
from datetime import timedelta

import polars as pl
import pytest

import dwcp_data
from dwcp_data.errors import DataError
from dwcp_data.quality import flatten, quality_metrics, to_line_protocol

from helpers import END


def test_metrics_of_a_labelled_data_set():
    end = END.replace(minute=59, second=0)  # 48 whole hours: 13:00 two days back to 12:59
    df = dwcp_data.label_oracle(dwcp_data.generate_synthetic(48 * 60, seed=1, end=end, freq="1m"))
    df = df.with_columns(
        pl.when(pl.int_range(pl.len()) < 288).then(None).otherwise(pl.col("jitter_ms")).alias("jitter_ms")
    )
    m = quality_metrics(df, now=end + timedelta(hours=3))
    assert m["rows"] == 2880 and json.loads(json.dumps(m, default=str))
    assert m["samples_per_hour"] == {"mean": 60.0, "min": 60, "max": 60}
    total_mb = df["data_size_bytes"].sum() / 1e6
    assert m["volume_mb_per_day"]["mean"] == pytest.approx(total_mb / 3)  # the data touches three days
    assert m["missing_share"]["jitter_ms"] == pytest.approx(0.1) and m["missing_share_max"] == pytest.approx(
        0.1
    )
    assert set(m["class_shares"]) == {"hde", "amst", "baseline"} and set(m["label_shares"]) == {
        "hde",
        "amst",
        "baseline",
    }
    assert m["freshness_hours"] == pytest.approx(3.0)
    flat = flatten(m)
    assert {"samples_per_hour_mean", "volume_mb_per_day_mean", "class_share_hde", "label_share_amst"} <= set(
        flat
    )


def test_line_protocol_points():
    line = to_line_protocol(
        "pipeline_runs",
        {"ok": True, "rows": 3, "latency": 0.5, "note": 'a "b"', "none": None},
        tags={"dag_id": "my dag"},
        time=END,
    )
    assert (
        line
        == 'pipeline_runs,dag_id=my\\ dag latency=0.5,note="a \\"b\\"",ok=true,rows=3i 1763123696000000000\n'
    )


def test_line_protocol_points_escape_hostile_text():
    line = to_line_protocol(
        "pipeline_runs",
        {"a=b c,d": 'x"\\y', "inf": math.inf, "nan": math.nan, "whole": 2.0, "ünï": "ç"},
        tags={"dag id": "a,b=c"},
        time=END,
    )
    assert line == (
        'pipeline_runs,dag\\ id=a\\,b\\=c a\\=b\\ c\\,d="x\\"\\\\y",whole=2.0,ünï="ç" 1763123696000000000\n'
    )
    with pytest.raises(DataError) as info:
        to_line_protocol("pipeline_runs", {"error": "line one\nline two"}, time=END)
    assert info.value.column == "error"
