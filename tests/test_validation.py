"""validate(): every rule at its boundary, inputs of every kind, and parity with Polars expressions."""

from __future__ import annotations

import json
import math
from datetime import timedelta

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dwcp_data
from dwcp_data.errors import InvalidArgumentError, ValidationError

from helpers import END

N = 12_000


@pytest.fixture(scope="module")
def good() -> pl.DataFrame:
    return dwcp_data.generate_synthetic(N, seed=11, end=END)


def result(report, rule, column=None):
    matches = [r for r in report.results if r.rule == rule and (column is None or r.column == column)]
    assert len(matches) == 1, (rule, column, matches)
    return matches[0]


def with_value(df: pl.DataFrame, column: str, row: int, value) -> pl.DataFrame:
    return df.with_columns(
        pl.when(pl.int_range(pl.len()) == row)
        .then(pl.lit(value, dtype=df.schema[column]))
        .otherwise(pl.col(column))
        .alias(column)
    )


@pytest.mark.parametrize("profile", ["document", "strict"])
def test_generated_data_passes(good, profile):
    report = dwcp_data.validate(good, profile=profile)
    assert report.passed, report
    assert bool(report) and report.failed_rules == []
    assert dwcp_data.validate_training_data(good)


@pytest.mark.parametrize(
    ("rule", "column", "inside", "outside"),
    [
        ("rtt_ms_range", "rtt_ms", 0.0, -1e-9),
        ("rtt_ms_range", "rtt_ms", 999.999, 1000.0),
        ("available_bandwidth_mbps_positive", "available_bandwidth_mbps", 1e-9, 0.0),
        ("cpu_usage_range", "cpu_usage", 0.0, -1e-9),
        ("cpu_usage_range", "cpu_usage", 1.0, 1.000001),
        ("hde_compression_ratio_range", "hde_compression_ratio", 1.0, 0.999),
        ("hde_compression_ratio_range", "hde_compression_ratio", 999.9, 1000.0),
    ],
)
def test_document_ranges_at_their_boundaries(good, rule, column, inside, outside):
    assert result(dwcp_data.validate(with_value(good, column, 17, inside)), rule).passed
    report = dwcp_data.validate(with_value(good, column, 17, outside))
    r = result(report, rule)
    assert not r.passed and r.failing_rows == 1 and r.examples == (17,)
    assert not report.passed and not dwcp_data.validate_training_data(with_value(good, column, 17, outside))


@pytest.mark.parametrize(
    ("rule", "column", "inside", "outside"),
    [
        ("unit_interval", "entropy", 1.0, 1.01),
        ("unit_interval", "packet_loss_rate", 0.0, -0.01),
        ("positive_compressed_size", "hde_compressed_size_bytes", 1, 0),
        ("non_negative", "jitter_ms", 0.0, -0.5),
        ("non_negative", "active_transfers", 0, -1),
        ("finite_values", "rtt_ms", 1.0, math.inf),
    ],
)
def test_strict_ranges_at_their_boundaries(good, rule, column, inside, outside):
    assert result(
        dwcp_data.validate(with_value(good, column, 3, inside), profile="strict"), rule, column
    ).passed
    r = result(dwcp_data.validate(with_value(good, column, 3, outside), profile="strict"), rule, column)
    assert not r.passed and r.examples == (3,)


def test_min_rows_boundary(good):
    assert result(dwcp_data.validate(good.head(10_000)), "min_rows").passed
    r = result(dwcp_data.validate(good.head(9_999)), "min_rows")
    assert not r.passed and r.observed == 9_999


def test_missing_fraction_boundary(good):
    n = good.height
    limit = int(0.1 * n)  # exactly 10% fails (< 0.1 is required)
    nulls = pl.int_range(pl.len()) < limit
    df = good.with_columns(pl.when(nulls).then(None).otherwise(pl.col("jitter_ms")).alias("jitter_ms"))
    r = result(dwcp_data.validate(df), "missing_values", "jitter_ms")
    assert not r.passed and r.failing_rows == limit and r.examples == (0, 1, 2, 3, 4)
    df = good.with_columns(
        pl.when(pl.int_range(pl.len()) < limit - 1)
        .then(None)
        .otherwise(pl.col("jitter_ms"))
        .alias("jitter_ms")
    )
    assert result(dwcp_data.validate(df), "missing_values", "jitter_ms").passed


def test_nulls_count_as_missing_but_not_as_out_of_range(good):
    df = with_value(good, "rtt_ms", 5, None)
    report = dwcp_data.validate(df)
    assert result(report, "rtt_ms_range").passed
    assert result(report, "missing_values", "rtt_ms").failing_rows == 1
    assert report.passed


def test_nan_is_a_value_that_fails_ranges(good):
    df = with_value(good, "rtt_ms", 5, float("nan"))
    report = dwcp_data.validate(df, profile="strict")
    assert not result(report, "rtt_ms_range").passed
    assert not result(report, "finite_values", "rtt_ms").passed
    assert result(report, "missing_values", "rtt_ms").passed


def test_class_balance(good):
    few = good.with_columns(
        pl.when(pl.col("current_compression") == "baseline")
        .then(pl.lit("hde"))
        .otherwise(pl.col("current_compression"))
        .cast(dwcp_data.SCHEMA["current_compression"])
        .alias("current_compression")
    )
    r = result(dwcp_data.validate(few), "class_balance")
    assert not r.passed and r.observed == 0.0 and "baseline" in r.description
    assert result(dwcp_data.validate(good.drop("current_compression")), "class_balance").passed
    assert not result(dwcp_data.validate(good, min_class_share=0.25), "class_balance").passed


def test_absent_columns_fail_rules_without_key_error(good):
    report = dwcp_data.validate(good.drop("rtt_ms", "cpu_usage"))
    assert not result(report, "required_columns").passed
    assert "rtt_ms" in str(result(report, "required_columns").observed)
    assert result(report, "cpu_usage_range").observed == "column `cpu_usage` is absent"
    strict = dwcp_data.validate(good.drop("node_id"), profile="strict")
    assert not result(strict, "schema_columns").passed
    assert not result(strict, "unique_timestamp_per_pair").passed


def test_empty_frame_is_a_report(good):
    report = dwcp_data.validate(good.head(0), profile="strict")
    assert not report.passed
    assert [r.rule for r in report.failed_rules] == ["min_rows", "class_balance"]
    assert dwcp_data.validate(pl.DataFrame()).passed is False


def test_wrong_dtypes(good):
    df = good.with_columns(
        pl.col("rtt_ms").cast(pl.String),
        pl.col("cpu_usage").cast(pl.Float32),
        pl.col("memory_available_mb").cast(pl.Int32),
    )
    report = dwcp_data.validate(df, profile="strict")
    r = result(report, "rtt_ms_range")
    assert not r.passed and "expected a numeric column" in r.observed
    assert not result(report, "schema_dtype", "rtt_ms").passed
    assert result(report, "schema_dtype", "cpu_usage").passed
    assert result(report, "schema_dtype", "memory_available_mb").passed
    integral = good.with_columns(pl.col("jitter_ms").round().cast(pl.Int64))
    assert result(dwcp_data.validate(integral, profile="strict"), "schema_dtype", "jitter_ms").passed


def test_unknown_categories_are_reported(good):
    df = good.with_columns(pl.col("link_type").cast(pl.String))
    df = with_value(df, "link_type", 9, "satellite")
    r = result(dwcp_data.validate(df, profile="strict"), "known_categories", "link_type")
    assert not r.passed and r.failing_rows == 1 and r.examples == (9,) and "satellite" in r.observed


def test_future_and_duplicate_timestamps(good):
    report = dwcp_data.validate(good, profile="strict", now=END - timedelta(hours=2))
    r = result(report, "timestamp_not_future")
    assert r.failing_rows == 2 and r.examples == (N - 2, N - 1)
    dup = pl.concat([good, good.slice(100, 2)])
    r = result(dwcp_data.validate(dup, profile="strict"), "unique_timestamp_per_pair")
    assert r.failing_rows == 2 and r.examples == (N, N + 1)


def test_pandas_arrow_and_lazy_inputs(good):
    expected = dwcp_data.validate(good, profile="strict")
    for data in (good.lazy(), good.to_arrow(), good.to_pandas()):
        report = dwcp_data.validate(data, profile="strict")
        assert report.passed, (type(data), report)
        assert len(report.results) == len(expected.results)


def test_pandas_nan_is_missing(good):
    pdf = good.to_pandas()
    pdf.loc[3, "rtt_ms"] = float("nan")
    report = dwcp_data.validate(pdf)
    assert result(report, "rtt_ms_range").passed
    assert result(report, "missing_values", "rtt_ms").failing_rows == 1


def test_report_outputs(good):
    report = dwcp_data.validate(with_value(good, "rtt_ms", 1, -5.0))
    d = report.to_dict()
    assert json.loads(json.dumps(d)) == d and d["passed"] is False
    table = report.to_polars()
    assert table.height == len(report.results) and table.filter(~pl.col("passed")).height == 1
    assert "rtt_ms_range" in repr(report) and "FAILED" in repr(report)
    assert "rtt_ms_range" in report._repr_html_()
    with pytest.raises(ValidationError) as info:
        report.raise_if_failed()
    assert "rtt_ms_range" in str(info.value) and info.value.report is report
    assert dwcp_data.validate(good).raise_if_failed().passed


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"profile": "lenient"}, "profile"),
        ({"min_rows": -1}, "min_rows"),
        ({"max_missing_fraction": 1.5}, "max_missing_fraction"),
        ({"min_class_share": -0.1}, "min_class_share"),
        ({"now": "yesterday"}, "now"),
        ({"max_examples": -1}, "max_examples"),
    ],
)
def test_bad_arguments(good, kwargs, param):
    with pytest.raises(InvalidArgumentError) as info:
        dwcp_data.validate(good, **kwargs)
    assert info.value.param == param


def test_not_a_frame():
    with pytest.raises(InvalidArgumentError) as info:
        dwcp_data.validate([1, 2, 3])
    assert info.value.param == "df"


# --- parity with a straightforward Polars-expression evaluation of §5.1 ---------------------------

RANGES = {
    "rtt_ms_range": ("rtt_ms", 0.0, 1000.0, "left"),
    "available_bandwidth_mbps_positive": ("available_bandwidth_mbps", 0.0, math.inf, "right"),
    "cpu_usage_range": ("cpu_usage", 0.0, 1.0, "both"),
    "hde_compression_ratio_range": ("hde_compression_ratio", 1.0, 1000.0, "left"),
}
floats = st.one_of(
    st.none(),
    st.just(float("nan")),
    st.sampled_from([0.0, 1.0, 1000.0, -0.0, math.inf, -math.inf, 999.5]),
    st.floats(-10, 2000),
)


@st.composite
def frames(draw):
    n = draw(st.integers(0, 40))
    data = {col: draw(st.lists(floats, min_size=n, max_size=n)) for col, *_ in RANGES.values()}
    data["current_compression"] = draw(
        st.lists(st.sampled_from(["hde", "amst", "baseline", None]), min_size=n, max_size=n)
    )
    return pl.DataFrame(
        data,
        schema={
            **{c: pl.Float64 for c, *_ in RANGES.values()},
            "current_compression": dwcp_data.SCHEMA["current_compression"],
        },
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames(), st.floats(0, 1), st.floats(0, 0.5), st.integers(0, 50))
def test_matches_polars_expressions(df, max_missing, min_share, min_rows):
    report = dwcp_data.validate(
        df, max_missing_fraction=max_missing, min_class_share=min_share, min_rows=min_rows
    )
    for rule, (col, low, high, closed) in RANGES.items():
        inside = pl.col(col).is_between(low, high, closed=closed) & pl.col(col).is_not_nan()
        bad = df.select((~inside).fill_null(False).sum()).item()
        # A column with no values at all is absent: the rule needing it fails.
        no_values = df.height > 0 and df[col].null_count() == df.height
        assert result(report, rule).failing_rows == bad, rule
        assert result(report, rule).passed == (bad == 0 and not no_values)
    for col in df.columns:
        frac = df[col].null_count() / df.height if df.height else 0.0
        absent = df.height > 0 and frac == 1.0  # reported as absent, not failed, by the document profile
        assert result(report, "missing_values", col).passed == (frac < max_missing or absent)
    assert result(report, "min_rows").passed == (df.height >= min_rows)
    present = df["current_compression"].drop_nulls()
    shares = (
        [(present == c).sum() / len(present) for c in ("hde", "amst", "baseline")] if len(present) else [0.0]
    )
    assert result(report, "class_balance").passed == (len(present) > 0 and min(shares) > min_share)


def test_failure_cases_are_the_failing_rows_with_their_rule():
    df = dwcp_data.generate_synthetic(20_000, seed=61, end=END)
    bad = df.with_columns(
        pl.when(pl.int_range(pl.len()) % 1000 == 7).then(-1.0).otherwise(pl.col("rtt_ms")).alias("rtt_ms"),
        pl.when(pl.int_range(pl.len()) == 3).then(1.5).otherwise(pl.col("cpu_usage")).alias("cpu_usage"),
    )
    report = dwcp_data.validate(bad, max_examples=2)
    cases = report.failure_cases(bad)
    assert cases.columns[:3] == ["rule", "column", "row"] and cases.columns[3:] == bad.columns
    summary = cases.group_by("rule", "column").agg(pl.len()).sort("rule").rows()
    assert summary == [("cpu_usage_range", "cpu_usage", 1), ("rtt_ms_range", "rtt_ms", 20)]
    rtt = cases.filter(pl.col("rule") == "rtt_ms_range")
    assert rtt["row"].to_list() == list(range(7, 20_000, 1000)) and (rtt["rtt_ms"] == -1.0).all()
    assert dwcp_data.validate(df).failure_cases(df).height == 0
    big = dwcp_data.generate_synthetic(1_100_000, seed=62, end=END)  # more rows than any example cap
    big = big.with_columns(
        pl.when(pl.int_range(pl.len()) >= 1_099_998).then(-1.0).otherwise(pl.col("rtt_ms")).alias("rtt_ms")
    )
    assert dwcp_data.validate(big).failure_cases(big)["row"].to_list() == [1_099_998, 1_099_999]
    with pytest.raises(InvalidArgumentError):
        report.failure_cases(bad.head(10))
