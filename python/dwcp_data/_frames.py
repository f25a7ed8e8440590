"""Frames crossing the Rust/Python boundary, and the input types users may pass."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Union

import polars as pl

from dwcp_data.errors import DataError, InvalidArgumentError
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
        try:
            return data.collect()
        except pl.exceptions.DuplicateError as exc:  # the plan makes two columns of one name
            raise DataError(
                f"the LazyFrame's plan fails: {exc}", column="", row=None, rule="column_name"
            ) from None
    module = type(data).__module__.split(".", 1)[0]
    if module == "pandas" and type(data).__name__ == "DataFrame":
        _refuse_repeated_names([str(c) for c in data.columns])
        return pl.from_pandas(data)
    if module == "pyarrow" and type(data).__name__ == "Table":
        _refuse_repeated_names(data.column_names)
        result = pl.from_arrow(data)
        assert isinstance(result, pl.DataFrame)
        return result
    raise InvalidArgumentError.of(
        param,
        f"expected a polars DataFrame or LazyFrame, a pandas DataFrame "
        f"or a pyarrow Table, got {type(data).__module__}.{type(data).__name__}",
    )


def _refuse_repeated_names(names: list[str]) -> None:
    """Raises ``DataError`` for a frame with two columns of one name: which
    one is meant cannot be told."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DataError(
                f"column `{name}` appears more than once; column names must be unique",
                column=name,
                row=None,
                rule="column_name",
            )
        seen.add(name)


#: Types the Rust core takes as they are (Datetime, Enum and Categorical are handled apart).
_CORE_TYPES = (
    pl.Boolean,
    pl.UInt8,
    pl.UInt32,
    pl.UInt64,
    pl.Int32,
    pl.Int64,
    pl.Float32,
    pl.Float64,
    pl.String,
    pl.Null,
)


def to_core(df: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    """``df`` ready for ``_core``, and the names of the Enum columns sent as codes.

    Enum columns of exactly the schema's type travel as their UInt8 codes (no
    copy; the core turns them back into Enums). Other categorical columns
    travel as strings, so that the core can judge their values. Integer and
    float types the core lacks (Int8, Int16, UInt16, Int128, Float16, …) are
    widened to Int64 and Float64 where every value fits; any other type
    (Decimal, nested, binary, …) raises :class:`~dwcp_data.errors.DataError`
    naming the column.

    Raises:
        dwcp_data.errors.DataError: a column the core cannot take without loss.
    """
    codes: list[str] = []
    changes: list[pl.Expr] = []
    for name, dtype in df.schema.items():
        if isinstance(dtype, (pl.Enum, pl.Categorical)):
            if name in SCHEMA and dtype == SCHEMA[name]:
                codes.append(name)
                changes.append(pl.col(name).to_physical())
            else:
                changes.append(pl.col(name).cast(pl.String))
        elif isinstance(dtype, (*_CORE_TYPES, pl.Datetime)):
            continue
        elif dtype.is_integer():
            changes.append(_widened(df, name, pl.Int64))
        elif dtype.is_float():
            changes.append(pl.col(name).cast(pl.Float64))
        else:
            raise DataError(
                f"column `{name}` has type {dtype}, which dwcp_data cannot take without loss: "
                "cast it (e.g. to Float64 or String) or drop it",
                column=name,
                row=None,
                rule="schema_dtype",
            )
    return (df.with_columns(changes) if changes else df), codes


def _widened(df: pl.DataFrame, name: str, dtype: type[pl.DataType]) -> pl.Expr:
    """``pl.col(name)`` cast to ``dtype``; ``DataError`` naming the first value that does not fit."""
    column = df[name]
    fits = column.cast(dtype, strict=False)
    lost = fits.is_null() & column.is_not_null()
    if lost.any():
        row = int(lost.arg_true()[0])
        raise DataError(
            f"column `{name}`: row {row} holds {column[row]!r}, which {dtype} cannot hold",
            column=name,
            row=row,
            rule="schema_dtype",
        )
    return pl.lit(fits).alias(name)


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
