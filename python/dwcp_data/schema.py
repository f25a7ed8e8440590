"""The 33-column training-data schema (design document §2.1).

Column types:

* ``timestamp``: ``Datetime("us", "UTC")``.
* ``link_type``, ``data_type``, ``current_compression``: ``Enum`` over
  :data:`LINK_TYPES`, :data:`DATA_TYPES` and :data:`COMPRESSIONS`.
* ``region``, ``az``, ``node_id``, ``peer_id``: ``String``. (Ids are kept as
  plain strings rather than ``Categorical``: they cross the Rust/Python
  boundary without a copy, which categoricals do not.)
* byte sizes, memory and counts: ``Int64``; everything else ``Float64``.

:data:`COLUMNS` gives every column's unit and meaning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

import polars as pl

from dwcp_data import _core

__all__ = [
    "COLUMNS",
    "COMPRESSIONS",
    "DATA_TYPES",
    "LINK_TYPES",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "SCHEMA",
    "ColumnInfo",
]

#: A column's §2.3 role.
Role = Literal["required", "optional", "other"]


@dataclass(frozen=True)
class ColumnInfo:
    """One schema column: its name, polars type, unit, meaning and §2.3 role.

    ``role`` is ``"required"`` (§2.3 minimum fields), ``"optional"`` (§2.3
    optional fields) or ``"other"`` (carried, but named by neither list).
    """

    name: str
    dtype: pl.DataType
    unit: str
    description: str
    role: Role


def _dtype(kind: str, categories: list[str]) -> pl.DataType:
    if kind == "enum":
        return pl.Enum(categories)
    return {
        "timestamp": pl.Datetime("us", "UTC"),
        "text": pl.String(),
        "int": pl.Int64(),
        "float": pl.Float64(),
    }[kind]


#: Every column, in §2.1 order, with its unit and meaning.
COLUMNS: tuple[ColumnInfo, ...] = tuple(
    ColumnInfo(name, _dtype(kind, cats), unit, description, cast(Role, role))
    for name, kind, cats, unit, description, role in _core.schema_columns()
)

#: The schema as a :class:`polars.Schema`, in §2.1 column order.
SCHEMA: pl.Schema = pl.Schema([(c.name, c.dtype) for c in COLUMNS])

#: Columns §2.3 requires for training (its "performance metrics for oracle
#: computation" read as every engine's time, size and rate, the path used and
#: the outcome).
REQUIRED_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.role == "required")

#: Columns §2.3 says improve accuracy. The six columns in neither list
#: (``node_id``, ``peer_id``, ``jitter_ms``, ``packet_loss_rate``,
#: ``active_transfers``, ``amst_streams``) have role ``"other"``.
OPTIONAL_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.role == "optional")

#: Categories of the Enum columns.
LINK_TYPES: tuple[str, ...] = tuple(SCHEMA["link_type"].categories)  # type: ignore[attr-defined]
DATA_TYPES: tuple[str, ...] = tuple(SCHEMA["data_type"].categories)  # type: ignore[attr-defined]
COMPRESSIONS: tuple[str, ...] = tuple(SCHEMA["current_compression"].categories)  # type: ignore[attr-defined]
