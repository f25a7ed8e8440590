"""label_oracle: the estimates and the argmin, against Polars expressions of the same model."""

from __future__ import annotations

import polars as pl
import pytest

import dwcp_data
from dwcp_data.errors import DataError, InvalidArgumentError

from helpers import END


def expected(df: pl.DataFrame, w: float) -> pl.DataFrame:
    def est(time: str, size: str, rate: str) -> pl.Expr:
        return (
            pl.col(time)
            + pl.col(size) * 8 / (pl.col(rate) * 1000)
            + pl.col("rtt_ms")
            + w * pl.col("cpu_usage") * pl.col(time)
        )

    return df.select(
        est("hde_compression_time_ms", "hde_compressed_size_bytes", "available_bandwidth_mbps").alias("hde"),
        est("amst_compression_time_ms", "amst_compressed_size_bytes", "amst_transfer_rate_mbps").alias(
            "amst"
        ),
        est(
            "baseline_compression_time_ms", "baseline_compressed_size_bytes", "available_bandwidth_mbps"
        ).alias("baseline"),
    )


@pytest.mark.parametrize("w", [0.0, 2.5])
def test_matches_polars_expressions(w):
    df = dwcp_data.generate_synthetic(20_000, seed=8, end=END)
    out = dwcp_data.label_oracle(df, cpu_weight=w)
    assert out.columns == [*df.columns, *dwcp_data.LABEL_SCHEMA.names()]
    assert out.select(dwcp_data.LABEL_SCHEMA.names()).schema == dwcp_data.LABEL_SCHEMA
    ref = expected(df, w)
    for engine in ("hde", "amst", "baseline"):
        got = out[f"est_time_{engine}_ms"]
        assert ((got - ref[engine]).abs() <= 1e-9 * ref[engine].abs()).all()
    argmin = ref.select(pl.concat_list("hde", "amst", "baseline").list.arg_min()).to_series()
    codes = out["oracle_compression"].to_physical().cast(pl.UInt32)
    assert (codes == argmin).all()
    assert out["oracle_compression"].n_unique() == 3


def test_weight_moves_labels_to_cheaper_engines():
    df = dwcp_data.generate_synthetic(50_000, seed=9, end=END)
    share = lambda d: (d["oracle_compression"] == "hde").mean()  # noqa: E731
    assert share(dwcp_data.label_oracle(df, cpu_weight=10)) < share(dwcp_data.label_oracle(df))


def test_null_engines_cannot_win():
    df = dwcp_data.generate_synthetic(100, seed=1, end=END).with_columns(
        pl.lit(None, dtype=pl.Float64).alias("hde_compression_time_ms")
    )
    out = dwcp_data.label_oracle(df)
    assert out["est_time_hde_ms"].null_count() == 100
    assert "hde" not in out["oracle_compression"].to_list()


def test_relabelling_replaces_the_columns():
    df = dwcp_data.label_oracle(dwcp_data.generate_synthetic(100, seed=1, end=END))
    again = dwcp_data.label_oracle(df, cpu_weight=1.0)
    assert again.width == df.width


def test_errors():
    df = dwcp_data.generate_synthetic(10, seed=1, end=END)
    with pytest.raises(DataError, match="amst_transfer_rate_mbps"):
        dwcp_data.label_oracle(df.drop("amst_transfer_rate_mbps"))
    for bad in (-1.0, float("inf"), "1"):
        with pytest.raises(InvalidArgumentError):
            dwcp_data.label_oracle(df, cpu_weight=bad)
