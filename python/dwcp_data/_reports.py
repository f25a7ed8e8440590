"""The shape of the cleaning report the compiled core returns: Rust structs
(``src/cleaning``) that arrive as dicts keyed by their field names
(``#[derive(IntoPyObject)]``); these ``TypedDict``s spell them out for
``_core.pyi`` and the type checker, and are the outlier steps' shape in
:class:`~dwcp_data.CleaningReport`. (A validation rule's result arrives as
:class:`~dwcp_data.RuleResult` itself.)"""

from __future__ import annotations

from typing import TypedDict


class FenceDict(TypedDict):
    """The fences of one outlier column in one group, or pooled (``cleaning::Fence``)."""

    group: str | None
    values: int
    q1: float | None
    q3: float | None
    lower: float | None
    upper: float | None
    rows_removed: int


class OutlierStepDict(TypedDict):
    """One outlier column's step (``cleaning::OutlierStep``)."""

    column: str
    fences: list[FenceDict]
    rows_removed: int


class KeptShareDict(TypedDict):
    """Rows of one group before and after cleaning (``cleaning::KeptShare``)."""

    group: str
    rows_in: int
    rows_out: int


class ImputationDict(TypedDict):
    """The imputation of one numeric column (``cleaning::Imputation``)."""

    column: str
    count: int
    value: float | None


class CleaningReportDict(TypedDict):
    """What cleaning did (``cleaning::CleaningReport``)."""

    rows_in: int
    rows_out: int
    duplicates_removed: int
    timestamp: str | None
    outliers: list[OutlierStepDict]
    kept_by_link_type: list[KeptShareDict]
    kept_by_group: list[KeptShareDict]
    imputed: list[ImputationDict]
