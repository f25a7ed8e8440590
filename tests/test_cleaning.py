"""clean(): parity with pandas §5.2 and idiomatic Polars, documented semantics, properties."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import dwcp_data
from dwcp_data.errors import DataError, InvalidArgumentError

from helpers import END
from reference import pandas_clean, polars_clean


@pytest.fixture(scope="module")
def data() -> pl.DataFrame:
    df = dwcp_data.generate_synthetic(100_000, seed=5, end=END)
    return pl.concat([df, df.slice(500, 300)])  # 300 exact duplicates


def as_plain(df: pl.DataFrame) -> pl.DataFrame:
    return df.with_columns(pl.col(pl.Enum).cast(pl.String))


@pytest.mark.slow
def test_matches_pandas_row_for_row(data):
    ours = dwcp_data.clean(data)
    expected = pl.from_pandas(pandas_clean(data.to_pandas()).reset_index(drop=True))
    assert ours.schema == dwcp_data.SCHEMA
    assert ours.height == expected.height
    assert_frame_equal(as_plain(ours), expected.select(ours.columns), check_dtypes=False)


def test_matches_idiomatic_polars(data):
    assert_frame_equal(dwcp_data.clean(data), polars_clean(data))


def test_report(data):
    out, report = dwcp_data.clean(data, report=True)
    assert report.rows_in == data.height and report.rows_out == out.height
    assert report.duplicates_removed == 300
    assert [s["column"] for s in report.outliers] == ["rtt_ms", "available_bandwidth_mbps", "data_size_bytes"]
    removed = sum(s["rows_removed"] for s in report.outliers)
    assert report.rows_in - report.duplicates_removed - removed == report.rows_out
    assert set(report.kept_by_link_type) == {"dc", "metro", "wan"}
    assert report.imputed == {}
    assert report.timestamp == "unchanged"
    d = report.to_dict()
    assert d == __import__("json").loads(report.to_json())
    assert "rtt_ms" in repr(report) and "<ul>" in report._repr_html_()


def test_pooled_fences_bias_wan_and_by_link_type_evens_it(data):
    _, pooled = dwcp_data.clean(data, report=True)
    share = pooled.kept_share()
    assert share["wan"] < 0.78 and share["dc"] > 0.82 and share["metro"] > 0.82
    _, grouped = dwcp_data.clean(data, by="link_type", report=True)
    shares = grouped.kept_share("group")
    assert set(shares) == {"link_type=dc", "link_type=metro", "link_type=wan"}
    assert max(shares.values()) - min(shares.values()) < 0.03
    assert all(len(step["fences"]) == 3 for step in grouped.outliers)


def test_nulls_in_outlier_columns_stay_and_are_imputed():
    df = pl.DataFrame(
        {
            "rtt_ms": [1.0, 2.0, None, 3.0, 4.0, 1000.0, float("nan")],
            "available_bandwidth_mbps": [10.0] * 7,
            "data_size_bytes": [1, 2, 3, 4, None, 6, 7],
        }
    )
    out, report = dwcp_data.clean(df, report=True)
    assert out.height == 6  # only the 1000 ms row goes
    assert out["rtt_ms"].to_list() == [1.0, 2.0, 2.5, 3.0, 4.0, 2.5]
    assert out["data_size_bytes"].to_list() == [1, 2, 3, 4, 3, 7]  # median of 1, 2, 3, 4, 7
    assert report.imputed == {"rtt_ms": (2, 2.5), "data_size_bytes": (1, 3.0)}


def test_input_is_not_modified(data):
    before = data.clone()
    dwcp_data.clean(data.with_columns(pl.lit(None, dtype=pl.Float64).alias("extra")))
    assert data.equals(before)


def test_timestamps_as_strings_and_epoch_ns():
    texts = ["2025-11-14T12:34:56Z", "2025-11-14T13:34:56+01:00", "2025-11-14T12:00:00.25Z"]
    df = pl.DataFrame({"timestamp": texts, "rtt_ms": [1.0, 2.0, 3.0]})
    out = dwcp_data.clean(df, outlier_columns=[])
    assert out.schema["timestamp"] == pl.Datetime("us", "UTC")
    assert out["timestamp"][0] == out["timestamp"][1] == END
    ns = pl.DataFrame({"timestamp": [1_763_123_696_000_000_000], "x": [1.0]})
    assert dwcp_data.clean(ns, outlier_columns=[])["timestamp"][0] == END


def test_unparseable_timestamp_names_row_and_text():
    df = pl.DataFrame(
        {"timestamp": ["2025-11-14T12:34:56Z", "2025-11-14T12:34:56Z", "not a time"], "x": [1, 2, 3]}
    )
    with pytest.raises(DataError) as info:
        dwcp_data.clean(df, outlier_columns=[])
    assert info.value.row == 2 and info.value.column == "timestamp" and "not a time" in str(info.value)


def test_degenerate_inputs(data):
    assert dwcp_data.clean(data.head(0)).height == 0
    assert dwcp_data.clean(data.head(1)).height == 1
    constant = data.head(100).with_columns(pl.lit(5.0).alias("rtt_ms"))
    assert dwcp_data.clean(constant).height > 0
    all_null = data.head(100).with_columns(pl.lit(None, dtype=pl.Float64).alias("jitter_ms"))
    out, report = dwcp_data.clean(all_null, report=True)
    assert report.imputed["jitter_ms"] == (0, None) and out["jitter_ms"].null_count() == out.height


def test_bad_columns_and_arguments(data):
    with pytest.raises(DataError, match="absent"):
        dwcp_data.clean(data.drop("rtt_ms"))
    with pytest.raises(DataError, match="numeric"):
        dwcp_data.clean(data, outlier_columns=["region"])
    with pytest.raises(DataError, match="absent"):
        dwcp_data.clean(data, by="zone")
    for kwargs, param in [
        ({"iqr_k": -1}, "iqr_k"),
        ({"iqr_k": math.nan}, "iqr_k"),
        ({"impute": "mean"}, "impute"),
        ({"by": []}, "by"),
        ({"outlier_columns": [1]}, "outlier_columns"),
        ({"dedupe": "yes"}, "dedupe"),
    ]:
        with pytest.raises(InvalidArgumentError) as info:
            dwcp_data.clean(data, **kwargs)
        assert info.value.param == param


def test_pandas_and_arrow_inputs(data):
    expected = dwcp_data.clean(data)
    assert_frame_equal(dwcp_data.clean(data.to_arrow()), expected)
    assert_frame_equal(as_plain(dwcp_data.clean(data.to_pandas())), as_plain(expected), check_dtypes=False)
    assert dwcp_data.clean_training_data(data).equals(expected)


# --- properties on small random frames -----------------------------------------------------------

values = st.one_of(st.none(), st.just(float("nan")), st.sampled_from([0.0, 1.0, 5.0]), st.floats(-100, 100))


@st.composite
def frames(draw):
    n = draw(st.integers(0, 30))
    rows = draw(st.lists(st.tuples(values, values, st.sampled_from(["a", "b"])), min_size=n, max_size=n))
    if rows and draw(st.booleans()):
        rows += draw(st.lists(st.sampled_from(rows), max_size=5))  # exact duplicates
    constant = draw(st.booleans())
    return pl.DataFrame(
        {
            "x": [r[0] for r in rows],
            "y": [1.0 if constant else r[1] for r in rows],
            "g": [r[2] for r in rows],
        },
        schema={"x": pl.Float64, "y": pl.Float64, "g": pl.String},
    )


def as_missing(v):
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else v


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames(), st.sampled_from([None, "g"]), st.floats(0, 3))
def test_properties(df, by, k):
    out, report = dwcp_data.clean(df, outlier_columns=["x", "y"], by=by, iqr_k=k, impute=None, report=True)
    # Output rows are input rows, in input order (NaN counts as missing).
    source = [tuple(map(as_missing, r)) for r in df.iter_rows()]
    it = iter(source)
    assert all(any(row == s for s in it) for row in out.iter_rows())
    # Every surviving value lies within its group's fences.
    for step in report.outliers:
        for fence in step["fences"]:
            if fence["lower"] is None:
                continue
            rows = out if fence["group"] is None else out.filter(pl.col("g") == fence["group"].split("=")[1])
            col = rows[step["column"]].drop_nulls()
            assert ((col >= fence["lower"]) & (col <= fence["upper"])).all()
    # With imputation no numeric nulls remain, unless a column had no value at all.
    filled = dwcp_data.clean(df, outlier_columns=["x", "y"], by=by, iqr_k=k)
    for c in ("x", "y"):
        if filled[c].null_count():
            assert filled[c].null_count() == filled.height
    assert np.isfinite(filled.select(pl.col("x", "y")).drop_nulls().to_numpy()).all()
