"""Cleaning (design document §5.2): duplicates, IQR outliers, imputation, timestamps."""

from __future__ import annotations

import dataclasses
import html
from dataclasses import dataclass
from typing import Any, Literal, overload

import polars as pl

from dwcp_data import _core, _json
from dwcp_data._frames import FrameLike, from_core, to_core, to_polars
from dwcp_data._keywords import Unpack, spelled_out
from dwcp_data._reports import CleaningReportDict, KeptShareDict, OutlierStepDict
from dwcp_data.options import DEFAULT_OUTLIER_COLUMNS, CleaningKeywords, CleaningOptions

__all__ = ["DEFAULT_OUTLIER_COLUMNS", "CleaningReport", "clean", "clean_training_data"]


@dataclass(frozen=True)
class CleaningReport:
    """What :func:`clean` did.

    Attributes:
        rows_in: rows in the input.
        rows_out: rows in the output.
        duplicates_removed: exact duplicate rows removed.
        timestamp: how ``timestamp`` was normalised (``None`` when absent).
        outliers: per outlier column, in order: ``column``, ``rows_removed``
            and ``fences``, one per group (or one pooled) with ``group``,
            ``values``, ``q1``, ``q3``, ``lower``, ``upper``, ``rows_removed``.
        kept_by_link_type: ``{link_type: (rows_in, rows_out)}``.
        kept_by_group: the same per group of ``by`` (empty when pooled).
        imputed: ``{column: (nulls_filled, fill_value)}`` for numeric columns that had nulls.
    """

    rows_in: int
    rows_out: int
    duplicates_removed: int
    timestamp: str | None
    outliers: tuple[OutlierStepDict, ...]
    kept_by_link_type: dict[str, tuple[int, int]]
    kept_by_group: dict[str, tuple[int, int]]
    imputed: dict[str, tuple[int, float | None]]

    @classmethod
    def _from_core(cls, d: CleaningReportDict) -> CleaningReport:
        def shares(rows: list[KeptShareDict], prefix: str = "") -> dict[str, tuple[int, int]]:
            return {k["group"].removeprefix(prefix): (k["rows_in"], k["rows_out"]) for k in rows}

        return cls(
            rows_in=d["rows_in"],
            rows_out=d["rows_out"],
            duplicates_removed=d["duplicates_removed"],
            timestamp=d["timestamp"],
            outliers=tuple(d["outliers"]),
            kept_by_link_type=shares(d["kept_by_link_type"], "link_type="),
            kept_by_group=shares(d["kept_by_group"]),
            imputed={i["column"]: (i["count"], i["value"]) for i in d["imputed"]},
        )

    def kept_share(self, by: Literal["link_type", "group"] = "link_type") -> dict[str, float]:
        """Share of each link type's (or group's) input rows that survived."""
        source = self.kept_by_link_type if by == "link_type" else self.kept_by_group
        return {g: (o / i if i else 0.0) for g, (i, o) in source.items()}

    def to_dict(self) -> dict[str, Any]:
        """The report's fields as JSON-serialisable values (for Airflow XCom,
        manifests and run reports): ``kept_by_*`` and ``imputed`` map each
        group or column to its pair as a two-item list."""
        plain: dict[str, Any] = _json.plain(dataclasses.asdict(self))
        return plain

    def to_json(self) -> str:
        """:meth:`to_dict` as a JSON string."""
        return _json.dumps(self.to_dict())

    def _lines(self) -> list[str]:
        lines = [
            f"rows: {self.rows_in:,} in, {self.rows_out:,} out ({self.duplicates_removed:,} duplicates removed)",
        ]
        for step in self.outliers:
            lines.append(f"outliers in {step['column']}: {step['rows_removed']:,} rows removed")
            for f in step["fences"]:
                where = f"  [{f['group']}]" if f["group"] else " "
                if f["q1"] is None:
                    lines.append(f"  {where} no values")
                else:
                    lines.append(
                        f"  {where} q1={f['q1']:.6g} q3={f['q3']:.6g} keep [{f['lower']:.6g}, {f['upper']:.6g}]: "
                        f"{f['rows_removed']:,} removed"
                    )
        for label, shares in (
            ("kept share by link_type", self.kept_share()),
            ("kept share by group", self.kept_share("group")),
        ):
            if shares:
                lines.append(f"{label}: " + ", ".join(f"{g} {s:.1%}" for g, s in shares.items()))
        for column, (count, value) in self.imputed.items():
            lines.append(
                f"imputed {column}: {count:,} nulls with {value if value is None else f'{value:.6g}'}"
            )
        return lines

    def __repr__(self) -> str:
        return "CleaningReport(\n  " + "\n  ".join(self._lines()) + "\n)"

    def _repr_html_(self) -> str:
        items = "".join(f"<li>{html.escape(line.strip())}</li>" for line in self._lines())
        return f"<p><b>CleaningReport</b></p><ul>{items}</ul>"


@overload
def clean(
    df: FrameLike, *, report: Literal[False] = ..., **options: Unpack[CleaningKeywords]
) -> pl.DataFrame: ...
@overload
def clean(
    df: FrameLike, *, report: Literal[True], **options: Unpack[CleaningKeywords]
) -> tuple[pl.DataFrame, CleaningReport]: ...
@spelled_out(CleaningKeywords, CleaningOptions)
def clean(
    df: FrameLike, *, report: bool = False, **options: Unpack[CleaningKeywords]
) -> pl.DataFrame | tuple[pl.DataFrame, CleaningReport]:
    """Clean a training set; the input is never modified.

    Steps, in order:

    1. ``timestamp`` becomes ``Datetime("us", "UTC")``: ISO 8601 strings with
       ``Z`` or an offset are parsed, integers are read as epoch nanoseconds,
       other datetimes are converted (naive ones are taken as UTC).
    2. Exact duplicate rows are removed (first occurrence kept, order kept).
    3. For each of ``outlier_columns`` in order, rows outside
       ``[q1 - iqr_k·IQR, q3 + iqr_k·IQR]`` (inclusive) are removed; the
       quartiles are taken, with linear interpolation as in pandas, on the rows
       that survived the previous columns. With ``by``, fences are computed per
       group of those columns.
    4. With ``impute="median"``, every numeric column's nulls are filled with
       the median of the rows that remain (integer columns: the median rounded
       half to even, so they stay integers).

    Differences from §5.2's pandas code, on purpose: a null (or float NaN) in
    an outlier column is missing, not an outlier, so the row stays and is
    imputed (pandas' comparisons silently drop it); and the imputation fills
    values (§5.2's chained ``fillna(inplace=True)`` fills nothing on pandas ≥ 3).

    Why ``by``: on §6.1's own synthetic data the pooled fences remove about
    27% of WAN rows but about 13% of DC and metro rows, biasing the training
    set against the links where compression matters most.
    ``by="link_type"`` fences each link type on its own; the report's
    ``kept_share()`` shows the bias either way.

    Args:
        df: a polars DataFrame or LazyFrame, a pandas DataFrame or a pyarrow Table.
        report: also return a :class:`CleaningReport`.

    Keyword Args:
        dedupe: remove exact duplicate rows.
        outlier_columns: numeric columns to fence, in order.
        iqr_k: fence width in IQRs (finite, >= 0).
        by: column(s) to compute fences per group of; ``None`` for pooled fences.
        impute: ``"median"`` or ``None`` (leave nulls).

    Returns:
        The cleaned frame, or ``(frame, report)`` with ``report=True``.

    Raises:
        dwcp_data.errors.InvalidArgumentError: an argument is out of its domain.
        dwcp_data.errors.DataError: an outlier or group column is absent or not
            numeric, or a timestamp cannot be parsed (names the row and text).
    """
    cleaned, done = clean_frame(to_polars(df), CleaningOptions(**options))
    return (cleaned, done) if report else cleaned


def clean_frame(df: pl.DataFrame, options: CleaningOptions) -> tuple[pl.DataFrame, CleaningReport]:
    """:func:`clean` of ``df`` with ``options``, and its report."""
    core_frame, enum_columns = to_core(df)
    out, codes, raw = _core.clean(core_frame, enum_columns, options)
    return from_core((out, codes)), CleaningReport._from_core(raw)


def clean_training_data(df: FrameLike) -> pl.DataFrame:
    """§5.2's signature: :func:`clean` with its defaults."""
    return clean(df)
