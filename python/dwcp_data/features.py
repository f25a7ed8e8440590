"""From training set to model inputs: NumPy feature arrays, the regret of a
choice of engines against the oracle, and chronological train/test splits."""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

from dwcp_data import _core
from dwcp_data._frames import FrameLike, to_core, to_polars
from dwcp_data.errors import DataError, InvalidArgumentError
from dwcp_data.labelling import ESTIMATE_COLUMNS, LABEL_COLUMN, LABEL_SCHEMA, label_oracle
from dwcp_data.schema import COMPRESSIONS, SCHEMA

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["FEATURES", "Features", "RegretReport", "features", "regret", "split_by_time"]

#: The columns :func:`features` uses by default: §2.3's training fields
#: (required and optional) that describe a transfer before it runs. Left out:
#: ``timestamp`` (the time index; see :func:`split_by_time`), ``region`` and
#: ``az`` (free text; train one model per region instead), the engines'
#: compression times and compressed sizes and ``hde_throughput_mbps`` (the
#: oracle's label is computed from them), the logged policy's
#: ``current_compression`` and its ``actual_*`` outcome, and the oracle's own
#: columns. ``link_type`` and ``data_type`` are one-hot encoded.
FEATURES: tuple[str, ...] = (
    "data_size_bytes",
    "rtt_ms",
    "available_bandwidth_mbps",
    "cpu_usage",
    "memory_available_mb",
    "hde_compression_ratio",
    "hde_delta_hit_rate",
    "amst_transfer_rate_mbps",
    "baseline_compression_ratio",
    "entropy",
    "compressibility_score",
    "link_type",
    "data_type",
)
_ORACLE = frozenset((*ESTIMATE_COLUMNS, LABEL_COLUMN))


@dataclass(frozen=True)
class Features:
    """A model's inputs and targets.

    Attributes:
        X: ``n × k`` float32 array, C-contiguous, built by the Rust core and
            handed over without a copy; nulls and NaN are NaN; a category is
            one 0/1 column per value (NaN in all of them for a null).
        y: the oracle's label per row as ``numpy.int8`` codes into
            ``engines`` (-1 where no engine could be estimated).
        feature_names: the name of each column of ``X``: the column, or
            ``column=category`` for one-hot columns.
        engines: the label codes' engines, in code order.
    """

    X: npt.NDArray[np.float32]
    y: npt.NDArray[np.int8]
    feature_names: tuple[str, ...]
    engines: tuple[str, ...] = COMPRESSIONS


def features(
    df: FrameLike, *, columns: Sequence[str] = FEATURES, out: npt.NDArray[np.float32] | None = None
) -> Features:
    """The model inputs ``X`` and oracle labels ``y`` of a training frame.

    ``df`` is labelled with :func:`~dwcp_data.label_oracle` first when it has
    no ``oracle_compression`` column. Numeric columns come first in ``X``, in
    the order given, then the one-hot columns of the schema's categorical
    columns (``link_type``, ``data_type``, ...). See :data:`FEATURES`.

    ``out``, a writeable C-contiguous ``float32`` array of ``X``'s shape, is
    filled and returned as ``X`` instead of a new array: reusing one buffer
    across same-sized shards saves the operating system zeroing fresh pages
    (about a third of the time of a new ``X`` at 10M rows; see BENCHMARKS.md). It
    must not be a view of the frame's own memory; a call that finds it in
    use by another call (another thread) raises instead of sharing it.

    Raises:
        dwcp_data.errors.InvalidArgumentError: ``columns`` is empty, repeats a
            column, or names one of the oracle's columns; ``out`` is not a
            writeable C-contiguous float32 array of ``X``'s shape (nothing
            was written to it).
        dwcp_data.errors.DataError: a column is absent, not numeric, or holds a
            value outside its categories.
        dwcp_data.errors.InsufficientMemoryError: a new ``X`` would be larger
            than this machine's memory (build it for fewer rows at a time).
    """
    names = _feature_columns(columns)
    _check_out(out)
    frame = to_polars(df)
    if LABEL_COLUMN not in frame.columns:
        frame = label_oracle(frame)
    X, feature_names = feature_matrix(frame, names, out)
    codes = frame.select(
        _as_schema_enum(frame, LABEL_COLUMN).to_physical()
    ).to_series()  # UInt8, null: no label
    y = codes.fill_null(255).cast(pl.Int8, wrap_numerical=True).to_numpy()  # 255 wraps to -1
    return Features(X, y, tuple(feature_names))


def feature_matrix(
    frame: pl.DataFrame, names: list[str], out: npt.NDArray[np.float32] | None = None
) -> tuple[npt.NDArray[np.float32], list[str]]:
    """``X`` (written into ``out`` when given) and its column names for the checked
    feature columns ``names`` of ``frame`` (see :func:`features`), without
    labels: what a model predicts from."""
    one_hot = [c for c in names if isinstance(SCHEMA.get(c), pl.Enum)]
    numeric = [c for c in names if c not in one_hot]
    for name in names:
        if name not in frame.columns:
            raise DataError(f"column `{name}`: the column is absent", column=name, row=None, rule="features")
    selected = frame.select(numeric + [_as_schema_enum(frame, c) for c in one_hot])
    core_frame, enums = to_core(selected)
    return _core.feature_matrix(core_frame, enums, numeric, one_hot, out)


def feature_names_of(columns: Sequence[str]) -> list[str]:
    """The names of ``X``'s columns that the feature columns ``columns`` give
    (one-hot columns named by category), without any data.

    Raises:
        dwcp_data.errors.InvalidArgumentError: ``columns`` are not feature columns.
        dwcp_data.errors.DataError: a column is not in the schema.
    """
    names = _feature_columns(columns)
    return feature_matrix(pl.DataFrame(schema=SCHEMA), names)[1]


def _check_out(out: object) -> None:
    """Refuses an ``out`` that is not a writeable C-contiguous 2-D float32 array
    (its shape is checked against the matrix's in the core)."""
    if out is None:
        return
    import numpy as np

    problem = (
        f"expected a numpy.ndarray, got {type(out).__name__}"
        if not isinstance(out, np.ndarray)
        else f"expected float32 values, got {out.dtype}"
        if out.dtype != np.float32
        else f"expected 2 dimensions, got {out.ndim}"
        if out.ndim != 2
        else "must be C-contiguous"
        if not out.flags.c_contiguous
        else "must be writeable"
        if not out.flags.writeable
        else None
    )
    if problem is not None:
        raise InvalidArgumentError.of("out", f"{problem}")


def _feature_columns(columns: Sequence[str]) -> list[str]:
    if isinstance(columns, str) or not all(isinstance(c, str) for c in columns):
        raise InvalidArgumentError.of("columns", f"expected a sequence of column names, got {columns!r}")
    names = list(columns)
    problem = (
        "is empty"
        if not names
        else "repeats a column"
        if len(set(names)) != len(names)
        else f"names the oracle's column {sorted(_ORACLE & set(names))[0]!r}: the label would leak"
        if _ORACLE & set(names)
        else None
    )
    if problem is not None:
        raise InvalidArgumentError.of("columns", f"{problem}")
    return names


def _as_schema_enum(frame: pl.DataFrame, name: str) -> pl.Expr:
    """Column ``name`` as its schema Enum (the oracle label's for it); a value
    outside the categories raises ``DataError`` naming the row."""
    dtype = SCHEMA[name] if name in SCHEMA else LABEL_SCHEMA[name]
    if frame.schema[name] == dtype:
        return pl.col(name)
    text = frame[name].cast(pl.String)
    categories: list[str] = list(dtype.categories)  # type: ignore[attr-defined]
    _refuse_first(
        ~text.is_in(categories) & text.is_not_null(),
        name,
        "features",
        lambda row: f"column `{name}`, row {row}: {text[row]!r} is not one of {', '.join(categories)}",
    )
    return pl.col(name).cast(pl.String).cast(dtype)


@dataclass(frozen=True)
class RegretReport:
    """The extra end-to-end time of a choice of engines against the oracle's
    choice, from the oracle's estimates (see :func:`regret`).

    Attributes:
        rows: rows judged.
        compared: rows where the chosen engine and the oracle both have an
            estimate (the statistics cover these).
        mean_ms, p50_ms, p95_ms, p99_ms: the regret per row, in milliseconds
            (percentiles interpolated linearly, as NumPy's default).
        total_hours: the regret summed, in hours.
        oracle_share: share of the compared rows where the choice is the oracle's.
        by_link_type, by_data_type: the same figures (``compared``,
            ``mean_ms``, ``p95_ms``, ``total_hours``, ``oracle_share``) per value.
    """

    rows: int
    compared: int
    mean_ms: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    total_hours: float
    oracle_share: float | None
    by_link_type: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_data_type: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of every figure."""
        return {
            "rows": self.rows,
            "compared": self.compared,
            "mean_ms": self.mean_ms,
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
            "p99_ms": self.p99_ms,
            "total_hours": self.total_hours,
            "oracle_share": self.oracle_share,
            "by_link_type": self.by_link_type,
            "by_data_type": self.by_data_type,
        }

    def _repr_html_(self) -> str:
        def cell(value: Any) -> str:
            if isinstance(value, float):
                return f"{value:,.3f}"
            return html.escape(str(value))

        head = ["compared", "mean_ms", "p95_ms", "total_hours", "oracle_share"]
        overall = {k: getattr(self, k) for k in head}
        rows = [("all", overall)]
        rows += [(f"link_type={k}", v) for k, v in self.by_link_type.items()]
        rows += [(f"data_type={k}", v) for k, v in self.by_data_type.items()]
        body = "".join(
            "<tr><th>"
            + html.escape(name)
            + "</th>"
            + "".join(f"<td>{cell(v.get(h))}</td>" for h in head)
            + "</tr>"
            for name, v in rows
        )
        return (
            f"<p>Regret against the oracle: {self.compared:,} of {self.rows:,} rows compared; "
            f"p50 {cell(self.p50_ms)} ms, p99 {cell(self.p99_ms)} ms</p>"
            "<table><tr><th></th>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>" + body + "</table>"
        )


def regret(df: FrameLike, choice: Any) -> RegretReport:
    """The regret of ``choice`` against the oracle, from the oracle's estimates.

    ``choice`` is the engine chosen per row: an array, list or Series of
    engine names (or of codes 0, 1, 2 into :data:`~dwcp_data.COMPRESSIONS`), a
    column name such as ``"current_compression"`` (the logged policy), or one
    engine name for every row (``"baseline"``). A row's regret is its chosen
    engine's estimated time minus the smallest estimate (the oracle's); rows
    where either is missing (the engine did not run) are not compared. The
    oracle's own choice has a regret of exactly 0.

    ``df`` is labelled with :func:`~dwcp_data.label_oracle` first when it lacks
    the estimates.

    Raises:
        dwcp_data.errors.InvalidArgumentError: ``choice`` has the wrong length
            or names no engine or column.
        dwcp_data.errors.DataError: a chosen value is not an engine (names the row).
    """
    frame = to_polars(df)
    if any(c not in frame.columns for c in (*ESTIMATE_COLUMNS, LABEL_COLUMN)):
        frame = label_oracle(frame)
    codes = _choice_codes(frame, choice)
    estimates = [pl.col(c) for c in ESTIMATE_COLUMNS]
    chosen = (
        pl.when(codes == 0).then(estimates[0]).when(codes == 1).then(estimates[1]).otherwise(estimates[2])
    )
    oracle = pl.min_horizontal(estimates)
    label_code = _as_schema_enum(frame, LABEL_COLUMN).to_physical()
    per_row = frame.select(
        (chosen - oracle).alias("regret"),
        (label_code == codes).alias("is_oracle"),
        *(pl.col(c).cast(pl.String) for c in ("link_type", "data_type") if c in frame.columns),
    ).filter(pl.col("regret").is_not_null() & pl.col("regret").is_not_nan())
    overall = _figures(per_row)
    return RegretReport(
        rows=frame.height,
        compared=per_row.height,
        mean_ms=overall["mean_ms"],
        p50_ms=_quantile(per_row, 0.5),
        p95_ms=overall["p95_ms"],
        p99_ms=_quantile(per_row, 0.99),
        total_hours=overall["total_hours"],
        oracle_share=overall["oracle_share"],
        by_link_type=_by(per_row, "link_type"),
        by_data_type=_by(per_row, "data_type"),
    )


def _choice_codes(frame: pl.DataFrame, choice: Any) -> pl.Series:
    """``choice`` as engine codes, one per row of ``frame``."""
    if isinstance(choice, str):
        if choice in frame.columns:
            values = frame[choice]
        elif choice in COMPRESSIONS:
            return pl.Series("choice", [COMPRESSIONS.index(choice)] * frame.height, dtype=pl.UInt8)
        else:
            raise InvalidArgumentError.of(
                "choice", f"{choice!r} is neither a column nor one of {', '.join(COMPRESSIONS)}"
            )
    else:
        values = pl.Series("choice", choice)
    if values.len() != frame.height:
        raise InvalidArgumentError.of("choice", f"{values.len():,} choices for {frame.height:,} rows")
    codes: pl.Series
    if values.dtype.is_integer():
        codes = values.cast(pl.Int64)
        bad = codes.is_null() | (codes < 0) | (codes >= len(COMPRESSIONS))
    else:
        text = values.cast(pl.String)
        codes = text.replace_strict(
            list(COMPRESSIONS), range(len(COMPRESSIONS)), default=None, return_dtype=pl.Int64
        )
        bad = codes.is_null()
    _refuse_first(
        bad,
        "choice",
        "engine",
        lambda row: (
            f"choice, row {row}: {values[row]!r} is not one of {', '.join(COMPRESSIONS)} (or their codes 0-2)"
        ),
    )
    result: pl.Series = codes.cast(pl.UInt8).alias("choice")
    return result


def _quantile(per_row: pl.DataFrame, q: float) -> float | None:
    value = per_row["regret"].quantile(q, "linear")
    return None if value is None else float(value)


def _figures(per_row: pl.DataFrame) -> dict[str, Any]:
    n = per_row.height
    total = float(per_row["regret"].sum()) if n else 0.0
    return {
        "compared": n,
        "mean_ms": total / n if n else None,
        "p95_ms": _quantile(per_row, 0.95),
        "total_hours": total / 3_600_000,
        "oracle_share": float(per_row["is_oracle"].sum()) / n if n else None,
    }


def _by(per_row: pl.DataFrame, column: str) -> dict[str, dict[str, Any]]:
    if column not in per_row.columns:
        return {}
    values = per_row[column].fill_null("null")
    return {
        str(v): _figures(per_row.filter(values == v))
        for v in sorted(values.unique().to_list(), key=lambda v: (v == "null", v))
    }


def _refuse_first(bad: pl.Series, column: str, rule: str, message: Callable[[int], str]) -> None:
    """Raises ``DataError`` naming the first row where ``bad`` is true, if any."""
    if bad.any():
        row = int(bad.arg_true()[0])
        raise DataError(message(row), column=column, row=row, rule=rule)


def check_test_fraction(test_fraction: object) -> None:
    """Refuses a ``test_fraction`` outside (0, 1)."""
    if (
        isinstance(test_fraction, bool)
        or not isinstance(test_fraction, (int, float))
        or not 0 < test_fraction < 1
    ):
        raise InvalidArgumentError.of(
            "test_fraction", f"must be between 0 and 1 (exclusive), got {test_fraction!r}"
        )


def split_by_time(df: FrameLike, *, test_fraction: float = 0.2) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split ``df`` chronologically: the newest rows are the test set.

    Rows are ordered by ``timestamp`` (ties keep their order). The test set is
    every row at or after the timestamp where the newest ``test_fraction`` of
    rows begins, so a timestamp never lands on both sides (the test set may be
    slightly larger than asked when rows share it). Weekly retraining is
    then evaluated on data the model has not seen.

    Returns:
        ``(train, test)``, each in time order.

    Raises:
        dwcp_data.errors.InvalidArgumentError: ``test_fraction`` is not in (0, 1).
        dwcp_data.errors.DataError: ``timestamp`` is absent or has nulls.
    """
    check_test_fraction(test_fraction)
    frame = to_polars(df)
    if "timestamp" not in frame.columns:
        raise DataError(
            "column `timestamp`: the column is absent", column="timestamp", row=None, rule="split"
        )
    _refuse_first(
        frame["timestamp"].is_null(),
        "timestamp",
        "split",
        lambda row: (
            f"column `timestamp`, row {row}: a row without a time cannot be placed before or after the cut"
        ),
    )
    ordered = frame.sort("timestamp", maintain_order=True)
    n_test = math.ceil(ordered.height * test_fraction)
    if n_test == 0:
        return ordered, ordered.clear()
    cut = ordered["timestamp"][ordered.height - n_test]
    return ordered.filter(pl.col("timestamp") < cut), ordered.filter(pl.col("timestamp") >= cut)
