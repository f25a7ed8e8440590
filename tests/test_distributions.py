"""Distribution parity with a numpy/pandas implementation of §6.1 (tests/reference.py)."""

from __future__ import annotations

import polars as pl
import pytest
from scipy.stats import ks_2samp

import dwcp_data

from helpers import END
from reference import numpy_polars_generate, pandas_generate

N = 200_000
KS_LIMIT = 0.01
SHARE_LIMIT = 0.01  # one percentage point

NUMERIC = [name for name, dtype in dwcp_data.SCHEMA.items() if dtype.is_numeric()]
CATEGORICAL = ["region", "az", "link_type", "data_type", "current_compression", "amst_streams"]


@pytest.fixture(scope="module")
def ours() -> pl.DataFrame:
    return dwcp_data.generate_synthetic(N, seed=2024, end=END)


@pytest.fixture(scope="module", params=["numpy", "pandas"])
def reference(request) -> pl.DataFrame:
    if request.param == "numpy":
        return numpy_polars_generate(N, seed=7)
    return pl.from_pandas(pandas_generate(N, seed=7))


@pytest.mark.slow
@pytest.mark.parametrize("column", NUMERIC)
def test_numeric_columns_match(ours, reference, column):
    stat = ks_2samp(ours[column].to_numpy(), reference[column].to_numpy()).statistic
    assert stat < KS_LIMIT, f"{column}: KS {stat:.4f}"


@pytest.mark.slow
@pytest.mark.parametrize("column", ["rtt_ms", "available_bandwidth_mbps", "jitter_ms"])
@pytest.mark.parametrize("link", ["dc", "metro", "wan"])
def test_link_dependent_columns_match_per_link_type(ours, reference, column, link):
    a = ours.filter(pl.col("link_type") == link)[column].to_numpy()
    b = reference.filter(pl.col("link_type").cast(pl.String) == link)[column].to_numpy()
    stat = ks_2samp(a, b).statistic
    assert stat < KS_LIMIT, f"{column} on {link}: KS {stat:.4f}"


@pytest.mark.slow
@pytest.mark.parametrize("column", CATEGORICAL)
def test_category_shares_match(ours, reference, column):
    def shares(df: pl.DataFrame) -> dict:
        counts = df[column].cast(pl.String).value_counts()
        return {row[0]: row[1] / df.height for row in counts.iter_rows()}

    a, b = shares(ours), shares(reference)
    assert a.keys() == b.keys()
    for key in a:
        assert abs(a[key] - b[key]) < SHARE_LIMIT, f"{column}={key}: {a[key]:.4f} vs {b[key]:.4f}"


def test_document_shares_hold(ours):
    link = ours["link_type"].value_counts(normalize=True).sort("link_type")["proportion"].to_list()
    assert link == pytest.approx([0.4, 0.3, 0.3], abs=SHARE_LIMIT)
    cls = ours["current_compression"].value_counts(normalize=True).sort("current_compression")
    assert cls["proportion"].to_list() == pytest.approx([0.5, 0.3, 0.2], abs=SHARE_LIMIT)


def test_ids_are_drawn_from_a_thousand_nodes(ours):
    assert ours["node_id"].n_unique() == 1000
    assert ours["node_id"].str.starts_with("node-").all()
    assert ours["peer_id"].str.starts_with("peer-").all()
