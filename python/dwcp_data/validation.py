"""Data-quality validation (design document §5.1), with a per-rule report."""

from __future__ import annotations

import dataclasses
import html
from dataclasses import asdict, dataclass
from typing import Any

import polars as pl

from dwcp_data import _core, _json
from dwcp_data._frames import FrameLike, to_core, to_polars
from dwcp_data._keywords import Unpack, spelled_out
from dwcp_data.errors import InvalidArgumentError, ValidationError
from dwcp_data.options import Profile, ValidationKeywords, ValidationOptions

__all__ = ["Profile", "RuleResult", "ValidationReport", "validate", "validate_training_data"]


@dataclass(frozen=True)
class RuleResult:
    """The outcome of one rule, on one column for column-wise rules.

    Attributes:
        rule: stable identifier, e.g. ``"rtt_ms_range"``.
        column: the column judged, or ``None`` for frame-level rules.
        description: what the rule demands.
        passed: whether the data meets it.
        observed: what was measured: a number (a count of failing rows, a share,
            a row count) or a text (absent columns, unknown values, a dtype).
        threshold: the limit, in words.
        failing_rows: rows breaking the rule (0 for frame-level rules).
        examples: the first failing rows, 0-based.
    """

    rule: str
    column: str | None
    description: str
    passed: bool
    observed: float | str | None
    threshold: str
    failing_rows: int
    examples: tuple[int, ...]

    def summary(self) -> str:
        """One line: rule, column, observed vs threshold, failing rows."""
        where = f"[{self.column}]" if self.column else ""
        observed = f"{self.observed:.6g}" if isinstance(self.observed, float) else self.observed
        rows = f"; {self.failing_rows:,} rows, first {list(self.examples)}" if self.failing_rows else ""
        return f"{self.rule}{where}: observed {observed}, required {self.threshold}{rows}"


class ValidationReport:
    """The result of :func:`validate`: one :class:`RuleResult` per rule and column.

    ``bool(report)`` is ``report.passed``.
    """

    def __init__(self, results: list[RuleResult], *, options: ValidationOptions, n_rows: int) -> None:
        self.results: tuple[RuleResult, ...] = tuple(results)
        #: The rules and thresholds the check ran with (``now`` fixed).
        self.options = options
        self.n_rows = n_rows

    @classmethod
    def of(cls, facts: _core.ValidationFacts, options: ValidationOptions) -> ValidationReport:
        """The report of merged ``facts`` taken with ``options``."""
        return cls(facts.results(), options=options, n_rows=facts.rows)

    @property
    def profile(self) -> Profile:
        """The profile the check ran."""
        return self.options.profile

    @property
    def passed(self) -> bool:
        """Whether every rule passed."""
        return all(r.passed for r in self.results)

    def __bool__(self) -> bool:
        return self.passed

    @property
    def failed_rules(self) -> list[RuleResult]:
        """The results that failed, in report order."""
        return [r for r in self.results if not r.passed]

    def to_polars(self) -> pl.DataFrame:
        """The report as a table (``observed`` as text, so numbers and words fit one column)."""
        rows = [
            {**asdict(r), "observed": _observed_text(r.observed), "examples": list(r.examples)}
            for r in self.results
        ]
        return pl.DataFrame(
            rows,
            schema={
                "rule": pl.String,
                "column": pl.String,
                "description": pl.String,
                "passed": pl.Boolean,
                "observed": pl.String,
                "threshold": pl.String,
                "failing_rows": pl.Int64,
                "examples": pl.List(pl.Int64),
            },
        )

    def failure_cases(self, df: FrameLike) -> pl.DataFrame:
        """The rows of ``df`` (the frame this report judged) that broke a rule:
        one row per rule and column broken, with ``rule``, ``column`` and the
        0-based ``row`` first, then the row's values, as pandera's
        ``failure_cases`` gives them. Frame-level rules (row count, required
        columns, class balance) have no rows of their own and are left out.
        """
        frame = to_polars(df)
        if frame.height != self.n_rows:
            raise InvalidArgumentError.of(
                "df", f"this report judged {self.n_rows:,} rows, got {frame.height:,}"
            )
        every = validate_frame(frame, dataclasses.replace(self.options, max_examples=frame.height))
        parts = [
            frame[list(r.examples)].select(
                pl.lit(r.rule).alias("rule"),
                pl.lit(r.column, dtype=pl.String).alias("column"),
                pl.Series("row", r.examples, dtype=pl.Int64),
                pl.all(),
            )
            for r in every.failed_rules
            if r.examples
        ]
        if not parts:
            head = pl.DataFrame(schema={"rule": pl.String, "column": pl.String, "row": pl.Int64})
            return pl.concat([head, frame.clear()], how="horizontal")
        return pl.concat(parts)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable summary (for Airflow XCom and run reports)."""
        return {
            "passed": self.passed,
            "profile": self.profile,
            "n_rows": self.n_rows,
            "results": [
                {**asdict(r), "examples": list(r.examples), "observed": _json_number(r.observed)}
                for r in self.results
            ],
        }

    def to_json(self) -> str:
        """:meth:`to_dict` as a JSON string."""
        return _json.dumps(self.to_dict())

    def raise_if_failed(self) -> ValidationReport:
        """Raise :class:`~dwcp_data.errors.ValidationError` listing every failed rule; else return ``self``."""
        failed = self.failed_rules
        if failed:
            lines = "\n".join(f"  - {r.summary()}" for r in failed)
            raise ValidationError(
                f"{len(failed)} validation rule(s) failed ({self.profile} profile, {self.n_rows:,} rows):\n{lines}",
                report=self,
            )
        return self

    def __repr__(self) -> str:
        status = "passed" if self.passed else f"FAILED {len(self.failed_rules)} of {len(self.results)}"
        head = f"ValidationReport({self.profile} profile, {self.n_rows:,} rows: {status})"
        return "\n".join([head, *(f"  x {r.summary()}" for r in self.failed_rules)])

    def _repr_html_(self) -> str:
        status = "passed" if self.passed else f"failed {len(self.failed_rules)} of {len(self.results)} rules"
        cells = "".join(
            "<tr style='color:{}'><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>".format(
                "inherit" if r.passed else "#b00020",
                "✓" if r.passed else "✗",
                html.escape(r.rule),
                html.escape(r.column or ""),
                html.escape(_observed_text(r.observed) or ""),
                html.escape(r.threshold),
                f"{r.failing_rows:,}" if r.failing_rows else "",
            )
            for r in sorted(self.results, key=lambda r: r.passed)
        )
        return (
            f"<p><b>ValidationReport</b>: {self.profile} profile, {self.n_rows:,} rows, {status}</p>"
            "<table><tr><th></th><th>rule</th><th>column</th><th>observed</th><th>threshold</th>"
            f"<th>failing rows</th></tr>{cells}</table>"
        )


def _observed_text(observed: float | str | None) -> str | None:
    return f"{observed:.6g}" if isinstance(observed, float) else observed


def _json_number(observed: float | str | None) -> float | str | None:
    if isinstance(observed, float) and observed != observed:  # NaN is not JSON
        return None
    return observed


@spelled_out(ValidationKeywords, ValidationOptions)
def validate(df: FrameLike, **options: Unpack[ValidationKeywords]) -> ValidationReport:
    """Check a training set against the rules of ``profile``; never raises on bad data.

    Profile ``"document"`` is exactly §5.1 of the design document: §5.1's
    required columns present; every column's share of missing values below
    ``max_missing_fraction``; ``0 <= rtt_ms < 1000``;
    ``available_bandwidth_mbps > 0``; ``0 <= cpu_usage <= 1``;
    ``1 <= hde_compression_ratio < 1000``; at least ``min_rows`` rows; every
    class of ``current_compression`` with a share above ``min_class_share``.

    Profile ``"strict"`` adds: every schema column present with its dtype (or
    one that casts to it without loss); Enum values known (an unknown
    ``link_type`` such as ``"satellite"`` is reported, not dropped); no NaN or
    infinity in float columns; no negative sizes, times, rates or counts;
    ``entropy``, ``compressibility_score`` and ``packet_loss_rate`` within
    [0, 1]; compressed sizes positive; no timestamp after ``now``; no two rows
    with the same ``(node_id, peer_id, timestamp)``.

    Differences from the pandas function of §5.1, on purpose:

    * A null counts toward the missing-value rule only; range rules judge the
      values that are present (pandas fails ``rtt_ms >= 0`` on a single NaN even
      though it allows 10% missing values). A float NaN in a polars frame is a
      value, not a null: it fails range rules. NaN in a pandas input is missing.
    * An absent column fails the rules that need it; it never raises
      ``KeyError``.
    * Every class of ``current_compression`` must reach the share, including a
      class that never occurs (pandas' ``value_counts`` cannot see it). As in
      §5.1, the rule is skipped when the column is absent.

    Args:
        df: a polars DataFrame or LazyFrame, a pandas DataFrame or a pyarrow Table.

    Keyword Args:
        profile: ``"document"`` or ``"strict"``.
        min_rows: fewest rows a training set may have.
        max_missing_fraction: each column's share of nulls must be below this.
        min_class_share: each class's share must be above this.
        now: the strict profile's latest allowed timestamp; default now (UTC).
        max_examples: how many failing rows each result lists.

    Returns:
        A :class:`ValidationReport`.

    Raises:
        dwcp_data.errors.InvalidArgumentError: an argument is out of its domain.
    """
    return validate_frame(to_polars(df), ValidationOptions(**options).resolved())


def validate_frame(frame: pl.DataFrame, options: ValidationOptions) -> ValidationReport:
    """:func:`validate` of ``frame`` with ``options`` (whose ``now`` is fixed)."""
    core_frame, enum_columns = to_core(frame)
    return ValidationReport.of(_core.validation_facts(core_frame, enum_columns, options), options)


def validate_training_data(df: FrameLike) -> bool:
    """§5.1's signature: whether ``df`` passes the document profile with its defaults."""
    return validate(df).passed
