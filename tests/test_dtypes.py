"""Exotic column types crossing into Rust: widened when lossless, else a DataError naming the column, never a panic."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import pytest

import dwcp_data
from dwcp_data import errors

from helpers import END

NARROW = [pl.Int8, pl.Int16, pl.UInt16, pl.Int32, pl.UInt32] + [
    getattr(pl, name) for name in ("Int128", "UInt128") if hasattr(pl, name)
]


@pytest.fixture(scope="module")
def data() -> pl.DataFrame:
    return dwcp_data.generate_synthetic(20_000, seed=51, end=END)


def stages(df: pl.DataFrame) -> None:
    """Every stage that hands a frame to the core."""
    dwcp_data.validate(df, profile="strict")
    dwcp_data.clean(df)
    dwcp_data.label_oracle(df)


@pytest.mark.parametrize("dtype", NARROW, ids=str)
def test_integer_types_are_widened(data, dtype):
    # pandas' downcast="integer" gives such columns; amst_streams is 2, 4 or 8.
    df = data.with_columns(
        pl.col("amst_streams").cast(dtype), pl.col("amst_streams").cast(dtype).alias("extra")
    )
    report = dwcp_data.validate(df, profile="strict")
    assert report.passed, report
    assert (
        dwcp_data.clean(df).height == dwcp_data.clean(data.with_columns(extra=pl.col("amst_streams"))).height
    )
    assert dwcp_data.label_oracle(df)["oracle_compression"].equals(
        dwcp_data.label_oracle(data)["oracle_compression"]
    )


def test_float_types_are_widened(data):
    kinds = [pl.Float32] + ([pl.Float16] if hasattr(pl, "Float16") else [])
    for dtype in kinds:
        stages(data.with_columns(pl.col("entropy").cast(dtype).alias("extra")))


@pytest.mark.parametrize(
    "column",
    [
        pl.Series("extra", [Decimal("1.10")] * 20_000),
        pl.Series("rtt_ms", [Decimal("1.10")] * 20_000),
        pl.Series("extra", [[1, 2]] * 20_000),
        pl.Series("extra", [b"\x00"] * 20_000),
        pl.Series("extra", [{"a": 1}] * 20_000),
    ],
    ids=["decimal-extra", "decimal-schema", "list", "binary", "struct"],
)
def test_types_the_core_cannot_take_name_their_column(data, column):
    df = data.with_columns(column)
    for stage in (dwcp_data.validate, dwcp_data.clean, dwcp_data.label_oracle):
        with pytest.raises(errors.DataError) as info:
            stage(df)
        assert info.value.column == column.name and column.name in str(info.value)


def test_a_value_too_wide_names_its_row(data):
    big = pl.Series("amst_streams", [4] * 19_999 + [2**70], dtype=pl.Int128)
    with pytest.raises(errors.DataError) as info:
        dwcp_data.validate(data.with_columns(big))
    assert (info.value.column, info.value.row) == ("amst_streams", 19_999)


def test_an_internal_error_is_not_bad_input():
    assert not issubclass(errors.InternalError, ValueError)
    assert issubclass(errors.InternalError, (errors.DwcpDataError, RuntimeError))
    for cls in (errors.DataError, errors.InvalidArgumentError, errors.ValidationError, errors.InfluxError):
        assert issubclass(cls, ValueError)
