"""features(), regret() and split_by_time(): the selector's arrays and yardsticks."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl
import pytest

import dwcp_data
from dwcp_data.errors import DataError, InvalidArgumentError

from helpers import END, STATUS_KIB, run_python


@pytest.fixture(scope="module")
def labelled() -> pl.DataFrame:
    df = dwcp_data.generate_synthetic(5000, seed=5, end=END)
    row = pl.int_range(pl.len())
    df = df.with_columns(
        pl.when(row % 7 == 1).then(None).otherwise(pl.col("rtt_ms")).alias("rtt_ms"),
        pl.when(row % 11 == 2).then(float("nan")).otherwise(pl.col("entropy")).alias("entropy"),
        pl.when(row % 13 == 3).then(None).otherwise(pl.col("link_type")).alias("link_type"),
        pl.when(row % 17 == 4)
        .then(None)
        .otherwise(pl.col("memory_available_mb"))
        .alias("memory_available_mb"),
    )
    return dwcp_data.label_oracle(df)


def test_x_holds_the_columns_as_float32_without_a_copy(labelled):
    f = dwcp_data.features(labelled)
    numeric = [c for c in dwcp_data.FEATURES if c not in ("link_type", "data_type")]
    one_hot = [f"link_type={v}" for v in dwcp_data.LINK_TYPES] + [
        f"data_type={v}" for v in dwcp_data.DATA_TYPES
    ]
    assert f.feature_names == (*numeric, *one_hot)
    assert f.X.dtype == np.float32 and f.X.shape == (labelled.height, len(f.feature_names))
    assert f.X.flags.c_contiguous and not f.X.flags.owndata
    assert type(f.X.base).__name__ == "PySliceContainer", "the buffer the Rust core filled, moved"
    for j, name in enumerate(numeric):
        expected = labelled[name].cast(pl.Float32).fill_null(float("nan")).to_numpy()
        np.testing.assert_array_equal(f.X[:, j], expected, err_msg=name)
    for k, value in enumerate(dwcp_data.LINK_TYPES):
        column = f.X[:, len(numeric) + k]
        link = labelled["link_type"]
        expected = (link == value).cast(pl.Float32).fill_null(float("nan")).to_numpy()
        np.testing.assert_array_equal(column, expected)
    assert np.isnan(f.X[3, len(numeric) : len(numeric) + 3]).all()  # a null link type
    codes = {e: i for i, e in enumerate(f.engines)}
    assert f.y.dtype == np.int8
    labels = labelled[dwcp_data.LABEL_COLUMN].to_list()
    assert None in labels, "rows without any estimate (null rtt) have no label"
    assert f.y.tolist() == [codes.get(v, -1) for v in labels]


def test_unlabelled_frames_are_labelled_and_text_categories_cast(labelled):
    raw = labelled.drop(dwcp_data.LABEL_SCHEMA.names()).with_columns(pl.col("data_type").cast(pl.String))
    a, b = dwcp_data.features(raw), dwcp_data.features(labelled)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    only = dwcp_data.features(labelled, columns=["data_type", "rtt_ms"])
    assert only.feature_names == ("rtt_ms", "data_type=vm_memory", "data_type=vm_disk", "data_type=database")


def test_out_is_overwritten_and_returned(labelled):
    fresh = dwcp_data.features(labelled)
    out = np.full(fresh.X.shape, 7.5, dtype=np.float32)  # stale values everywhere, one-hot cells too
    reused = dwcp_data.features(labelled, out=out)
    assert reused.X is out
    np.testing.assert_array_equal(out, fresh.X)
    np.testing.assert_array_equal(reused.y, fresh.y)
    shape = fresh.X.shape
    # A view starting mid cache line (one 68-byte row in), its neighbours untouched.
    backing = np.full((shape[0] + 2, shape[1]), 7.5, dtype=np.float32)
    assert dwcp_data.features(labelled, out=backing[1:-1]).X.ctypes.data % 64 != 0
    np.testing.assert_array_equal(backing[1:-1], fresh.X)
    assert (backing[0] == 7.5).all() and (backing[-1] == 7.5).all()
    bad_outs = {
        "numpy.ndarray, got list": [[0.0] * shape[1]] * shape[0],
        "float32 values, got float64": np.zeros(shape),
        "2 dimensions, got 1": np.zeros(shape[0] * shape[1], dtype=np.float32),
        "C-contiguous": np.zeros(shape, dtype=np.float32, order="F"),
        "writeable": np.zeros(shape, dtype=np.float32),
        "shape (5000, 17), got (5000, 16)": np.zeros((shape[0], shape[1] - 1), dtype=np.float32),
        "shape (5000, 17), got (17, 5000)": np.zeros(shape[::-1], dtype=np.float32),
        "shape (5000, 17), got (4999, 17)": np.zeros((shape[0] - 1, shape[1]), dtype=np.float32),
    }
    bad_outs["writeable"].flags.writeable = False
    for message, bad in bad_outs.items():
        with pytest.raises(InvalidArgumentError, match=re.escape(message)) as e:
            dwcp_data.features(labelled, out=bad)
        assert e.value.param == "out"
        if isinstance(bad, np.ndarray):
            assert not bad.any(), "nothing is written to a refused array"


def test_bad_columns_are_named(labelled):
    with pytest.raises(InvalidArgumentError, match="the label would leak"):
        dwcp_data.features(labelled, columns=["rtt_ms", "est_time_hde_ms"])
    with pytest.raises(InvalidArgumentError, match="repeats"):
        dwcp_data.features(labelled, columns=["rtt_ms", "rtt_ms"])
    with pytest.raises(DataError, match=r"`region`.*numeric"):
        dwcp_data.features(labelled, columns=["region"])
    with pytest.raises(DataError, match="absent"):
        dwcp_data.features(labelled.drop("cpu_usage"))
    text = pl.col("data_type").cast(pl.String)
    floppy = pl.when(pl.int_range(pl.len()) == 9).then(pl.lit("floppy")).otherwise(text)
    bad = labelled.with_columns(floppy.alias("data_type"))
    with pytest.raises(DataError) as e:
        dwcp_data.features(bad)
    assert (e.value.column, e.value.row) == ("data_type", 9) and "'floppy'" in str(e.value)


def test_regret_of_a_hand_computed_example():
    df = pl.DataFrame(
        {
            "est_time_hde_ms": [10.0, 50.0, 30.0, None],
            "est_time_amst_ms": [20.0, 40.0, None, None],
            "est_time_baseline_ms": [30.0, 45.0, 10.0, 5.0],
            "oracle_compression": ["hde", "amst", "baseline", "baseline"],
            "link_type": ["dc", "wan", "wan", "dc"],
            "data_type": ["vm_disk", "vm_disk", "database", "vm_disk"],
        }
    )
    r = dwcp_data.regret(df, ["amst", "amst", "amst", "hde"])  # rows 2 and 3: the engine did not run
    assert (r.rows, r.compared) == (4, 2)
    assert (r.mean_ms, r.p50_ms, r.total_hours, r.oracle_share) == (5.0, 5.0, 10 / 3_600_000, 0.5)
    assert r.by_link_type == {
        "dc": {
            "compared": 1,
            "mean_ms": 10.0,
            "p95_ms": 10.0,
            "total_hours": 10 / 3_600_000,
            "oracle_share": 0.0,
        },
        "wan": {"compared": 1, "mean_ms": 0.0, "p95_ms": 0.0, "total_hours": 0.0, "oracle_share": 1.0},
    }
    assert dwcp_data.regret(df, "baseline").mean_ms == pytest.approx((20 + 5 + 0 + 0) / 4)
    assert dwcp_data.regret(df, np.array([0, 1, 2, 2])).total_hours == 0.0
    json.dumps(r.to_dict())
    assert "<table>" in r._repr_html_()
    with pytest.raises(DataError) as e:
        dwcp_data.regret(df, ["amst", "zstd", "hde", "hde"])
    assert e.value.row == 1
    with pytest.raises(InvalidArgumentError, match="3 choices for 4 rows"):
        dwcp_data.regret(df, ["amst"] * 3)
    with pytest.raises(InvalidArgumentError, match="neither a column"):
        dwcp_data.regret(df, "lz4")


@pytest.mark.slow
def test_regret_matches_numpy_on_a_million_rows():
    df = dwcp_data.label_oracle(dwcp_data.generate_synthetic(1_000_000, seed=9, end=END))
    assert dwcp_data.regret(df, dwcp_data.LABEL_COLUMN).total_hours == 0.0  # the oracle's own choice
    est = df.select(dwcp_data.ESTIMATE_COLUMNS).to_numpy()
    codes = df["current_compression"].to_physical().to_numpy().astype(np.int64)
    per_row = est[np.arange(len(est)), codes] - est.min(axis=1)
    r = dwcp_data.regret(df, "current_compression")
    assert r.compared == len(per_row) == 1_000_000
    assert r.mean_ms == pytest.approx(per_row.mean(), rel=1e-12)
    for q, got in [(50, r.p50_ms), (95, r.p95_ms), (99, r.p99_ms)]:
        assert got == np.percentile(per_row, q)
    assert r.total_hours == pytest.approx(per_row.sum() / 3.6e6, rel=1e-12)
    label = df[dwcp_data.LABEL_COLUMN].to_physical().to_numpy()
    assert r.oracle_share == pytest.approx((label == codes).mean(), abs=1e-15)
    wan = df["link_type"].cast(pl.String).to_numpy() == "wan"
    assert r.by_link_type["wan"]["mean_ms"] == pytest.approx(per_row[wan].mean(), rel=1e-12)


def test_split_by_time_keeps_the_newest_rows_for_testing():
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    stamps = [t0 + timedelta(hours=h) for h in [5, 1, 3, 3, 2, 4, 3, 0, 6, 7]]
    df = pl.DataFrame({"timestamp": stamps, "i": range(10)})
    train, test = dwcp_data.split_by_time(df, test_fraction=0.2)
    assert test["i"].to_list() == [8, 9] and train.height == 8
    train, test = dwcp_data.split_by_time(df, test_fraction=0.5)  # the cut falls among three rows at 3h
    assert train["i"].to_list() == [7, 1, 4] and test["i"].to_list() == [2, 3, 6, 5, 0, 8, 9]
    assert train["timestamp"].max() < test["timestamp"].min()
    for bad in [0, 1, 1.5, True, "0.2"]:
        with pytest.raises(InvalidArgumentError):
            dwcp_data.split_by_time(df, test_fraction=bad)
    with pytest.raises(DataError) as e:
        dwcp_data.split_by_time(
            df.with_columns(
                pl.when(pl.col("i") == 4).then(None).otherwise(pl.col("timestamp")).alias("timestamp")
            )
        )
    assert e.value.row == 4


READ_X = (
    STATUS_KIB
    + """
import json
import dwcp_data
df = dwcp_data.label_oracle(dwcp_data.generate_synthetic(10_000_000, seed=1, freq="1s"))
dwcp_data.features(df.head(1000))  # warm up
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
before = status_kib("VmRSS")
f = dwcp_data.features(df)
peak = status_kib("VmHWM")
print(json.dumps({"before": before * 1024, "peak": peak * 1024, "x": f.X.nbytes, "y": f.y.nbytes}))
"""
)


@pytest.mark.slow
def test_x_of_10m_rows_costs_its_own_size_only():
    m = json.loads(run_python(READ_X))
    extra = m["peak"] - m["before"]
    assert m["x"] == 10_000_000 * 17 * 4
    # one copy of X anywhere would double it
    assert extra < 1.15 * m["x"] + 4 * m["y"], f"{extra / 2**20:.0f} MiB for a {m['x'] / 2**20:.0f} MiB array"


def test_hostile_text_and_exotic_dtypes(labelled):
    nasty = 'vm_disk\n"x\\ ✓'
    text = pl.col("data_type").cast(pl.String)
    bad = labelled.with_columns(
        pl.when(pl.int_range(pl.len()) == 4).then(pl.lit(nasty)).otherwise(text).alias("data_type")
    )
    with pytest.raises(DataError) as e:
        dwcp_data.features(bad)
    assert e.value.row == 4 and repr(nasty) in str(e.value)
    # narrower numeric types give the same matrix; types the core cannot take are named
    narrow = labelled.with_columns(
        pl.col("rtt_ms").cast(pl.Float32),
        pl.col("memory_available_mb").cast(pl.Int32),
        pl.col("cpu_usage").cast(pl.Float64),
    )
    np.testing.assert_array_equal(dwcp_data.features(narrow).X, dwcp_data.features(labelled).X)
    with pytest.raises(DataError) as e:
        dwcp_data.features(labelled.with_columns(pl.col("rtt_ms").cast(pl.Decimal(20, 4))))
    assert e.value.column == "rtt_ms"
    # a NaN estimate is an engine that cannot be judged: the row is not compared
    est = labelled.with_columns(
        pl.when(pl.int_range(pl.len()) < 10)
        .then(float("nan"))
        .otherwise(pl.col("est_time_baseline_ms"))
        .alias("est_time_baseline_ms")
    )
    comparable = est.select(pl.min_horizontal(dwcp_data.ESTIMATE_COLUMNS).is_not_null()).to_series()
    r = dwcp_data.regret(est, "baseline")
    assert r.compared == int((comparable & ~est["est_time_baseline_ms"].is_nan()).sum())
