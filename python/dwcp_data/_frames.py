"""Frames crossing the Rust/Python boundary, and the input types users may pass."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Union

import polars as pl

from dwcp_data.errors import InvalidArgumentError
from dwcp_data.schema import SCHEMA

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

#: What the pipeline's functions accept as a data set.
FrameLike = Union[pl.DataFrame, pl.LazyFrame, "pd.DataFrame", "pa.Table"]

__all__ = ["FrameLike", "from_core", "to_core", "to_polars"]


def to_polars(data: Any, param: str = "df") -> pl.DataFrame:
    """``data`` as a polars DataFrame.

    Accepts a polars DataFrame or LazyFrame (collected), a pandas DataFrame or a
    pyarrow Table. pandas NaN and ``None`` both become nulls, as pandas treats
    them as missing.
    """
    if isinstance(data, pl.DataFrame):
        return data
    if isinstance(data, pl.LazyFrame):
        return data.collect()
    module = type(data).__module__.split(".", 1)[0]
    if module == "pandas" and type(data).__name__ == "DataFrame":
        return pl.from_pandas(data)
    if module == "pyarrow" and type(data).__name__ == "Table":
        result = pl.from_arrow(data)
        assert isinstance(result, pl.DataFrame)
        return result
    raise InvalidArgumentError(
        f"invalid argument `{param}`: expected a polars DataFrame or LazyFrame, a pandas DataFrame "
        f"or a pyarrow Table, got {type(data).__module__}.{type(data).__name__}",
        param=param,
    )


def to_core(df: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    """``df`` ready for ``_core``, and the names of the Enum columns sent as codes.

    Enum columns of exactly the schema's type travel as their UInt8 codes (no
    copy; the core turns them back into Enums). Other categorical columns
    travel as strings, so that the core can judge their values.
    """
    codes: list[str] = []
    changes: list[pl.Expr] = []
    for name, dtype in df.schema.items():
        if not isinstance(dtype, (pl.Enum, pl.Categorical)):
            continue
        if name in SCHEMA and dtype == SCHEMA[name]:
            codes.append(name)
            changes.append(pl.col(name).to_physical())
        else:
            changes.append(pl.col(name).cast(pl.String))
    return (df.with_columns(changes) if changes else df), codes


def from_core(result: tuple[pl.DataFrame, list[str]]) -> pl.DataFrame:
    """A frame returned by ``_core`` with its named code columns turned back into schema Enums.

    Each code column is gathered from the Enum's categories: one pass over
    one byte per row, far cheaper than the row-by-row rebuild of an Arrow
    dictionary.
    """
    df, codes = result
    if not codes:
        return df
    return df.with_columns(
        pl.lit(pl.Series(SCHEMA[name].categories, dtype=SCHEMA[name])).gather(pl.col(name)).alias(name)  # type: ignore[attr-defined]
        for name in codes
    )
